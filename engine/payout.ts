/**
 * What a rider is paid for one delivery, decided when the job is offered so
 * the rider sees it before accepting. Pure: distances in, integer paise out.
 */

/** Rider pay rates, integer paise (1 rupee = 100 paise). */
export interface PayoutRates {
  /** Paid for every delivery, whatever its length. */
  readonly baseFeePaise: number;
  /** Per kilometre of the delivery leg (pickup → drop, road estimate). */
  readonly perKmPaise: number;
  /** Per kilometre the rider rides to reach the pickup (road estimate); 0 pays nothing for it. */
  readonly pickupPerKmPaise: number;
}

/**
 * The payout of a job, in integer paise: the base fee, plus the per-km rates
 * times the road estimates of both legs (straight-line metres times
 * `detourFactor`, the road model the pickup ETA uses), rounded once at the
 * end. Non-negative and never smaller for a longer leg. Distances below 0 or
 * not finite count as 0 (an unknown distance pays the base fee only).
 */
export function riderPayout(
  rates: PayoutRates,
  deliveryDistanceM: number,
  pickupDistanceM: number,
  detourFactor: number,
): number {
  const km = (m: number) => (m > 0 && m < Infinity ? (m * detourFactor) / 1000 : 0);
  return Math.round(
    rates.baseFeePaise + rates.perKmPaise * km(deliveryDistanceM) + rates.pickupPerKmPaise * km(pickupDistanceM),
  );
}

/** Throws unless every rate is a non-negative safe integer. */
export function checkPayoutRates(rates: PayoutRates): void {
  for (const [k, v] of Object.entries(rates)) {
    if (!(Number.isSafeInteger(v) && v >= 0))
      throw new RangeError(`config payout.${k} must be an integer number of paise ≥ 0, got ${String(v)}`);
  }
}
