import { checkPayoutRates, type PayoutRates } from './payout.js';

/**
 * Tunables of one engine. Every duration is in milliseconds, every distance in
 * metres. Defaults suit a dense Indian city; a deployment overrides what it must.
 */
export interface EngineConfig {
  /** H3 resolution of shard keys (res 6 cells are about 36 km²). */
  readonly shardResolution: number;
  /** H3 resolution of the available-rider index (res 9 cells are about 0.1 km²). */
  readonly indexResolution: number;
  /** How long a rider has to answer an offer. */
  readonly offerTimeoutMs: number;
  /** How long an unpaid order waits for its payment. */
  readonly paymentTimeoutMs: number;
  /** How long a paid order waits for the restaurant to accept. */
  readonly restaurantAcceptTimeoutMs: number;
  /** After a search finds no rider, when to search again. */
  readonly dispatchRetryMs: number;
  /** How long after becoming dispatchable an order may search before it is cancelled. */
  readonly dispatchGiveUpMs: number;
  /** Pickup travel time assumed when timing dispatch so the rider arrives as food is ready. */
  readonly assumedPickupEtaMs: number;
  /** Delivery promise from placement, for the SLA-breach event. */
  readonly promiseMs: number;
  /** Hard lifetime of an order: past it the engine cancels whatever is left. */
  readonly orderLifetimeMs: number;
  /** How long a disconnected rider keeps its state before going offline. */
  readonly disconnectGraceMs: number;
  /** A position older than this is not used for matching. */
  readonly positionStaleMs: number;
  /** How far ahead of the engine's clock a device time may be; later positions are refused. */
  readonly maxClockSkewMs: number;
  /** Ring cap of the candidate search around the pickup cell. */
  readonly maxRing: number;
  /** Stop widening the search once this many candidates are found. */
  readonly minCandidates: number;
  /** Candidates farther than this from the pickup are ignored. */
  readonly maxPickupDistanceM: number;
  /** Speed model for pickup ETA. */
  readonly riderSpeedMps: number;
  /** Road distance over straight-line distance. */
  readonly detourFactor: number;
  /** Drops farther than this from the restaurant are outside the service area. */
  readonly maxDeliveryDistanceM: number;
  /** How long a finished order stays in memory for queries before only storage has it. */
  readonly retentionMs: number;
  /** A rider closer than this to the pickup or drop has arrived. */
  readonly arrivalRadiusM: number;
  /** Rider pay per job, integer paise; computed at the offer and sent with it (engine/payout.ts). */
  readonly payout: PayoutRates;
  /** Score weights, in seconds of ETA. */
  readonly scoring: {
    /** Seconds of ETA one second of idle time is worth (fairness). */
    readonly idleWeight: number;
    /** Cap on the idle bonus. */
    readonly idleCapS: number;
    /** Penalty for a rider who never accepts, scaled by (1 - acceptance rate). */
    readonly acceptancePenaltyS: number;
    /** Penalty for a moving rider heading directly away from the pickup. */
    readonly headingPenaltyS: number;
  };
}

export const defaultEngineConfig: EngineConfig = Object.freeze({
  shardResolution: 6,
  indexResolution: 9,
  offerTimeoutMs: 20_000,
  paymentTimeoutMs: 15 * 60_000,
  restaurantAcceptTimeoutMs: 5 * 60_000,
  dispatchRetryMs: 10_000,
  dispatchGiveUpMs: 30 * 60_000,
  assumedPickupEtaMs: 5 * 60_000,
  promiseMs: 45 * 60_000,
  orderLifetimeMs: 4 * 3_600_000,
  disconnectGraceMs: 60_000,
  positionStaleMs: 60_000,
  maxClockSkewMs: 30_000,
  maxRing: 16,
  minCandidates: 4,
  maxPickupDistanceM: 6_000,
  riderSpeedMps: 5.5,
  detourFactor: 1.3,
  maxDeliveryDistanceM: 15_000,
  retentionMs: 30 * 60_000,
  arrivalRadiusM: 60,
  // ₹25 a job, ₹8 a road km delivered, ₹3 a road km ridden to the pickup.
  payout: Object.freeze({ baseFeePaise: 2_500, perKmPaise: 800, pickupPerKmPaise: 300 }),
  scoring: Object.freeze({ idleWeight: 0.1, idleCapS: 1_800, acceptancePenaltyS: 120, headingPenaltyS: 60 }),
});

export type EngineConfigInput = Partial<Omit<EngineConfig, 'scoring' | 'payout'>> & {
  scoring?: Partial<EngineConfig['scoring']>;
  payout?: Partial<PayoutRates>;
};

/** Defaults overlaid with `input`, checked and frozen. Throws on a nonsensical value. */
export function resolveConfig(input: EngineConfigInput = {}): EngineConfig {
  const c: EngineConfig = {
    ...defaultEngineConfig,
    ...input,
    scoring: Object.freeze({ ...defaultEngineConfig.scoring, ...input.scoring }),
    payout: Object.freeze({ ...defaultEngineConfig.payout, ...input.payout }),
  };
  if (!(c.shardResolution >= 0 && c.indexResolution <= 15 && c.shardResolution < c.indexResolution)) {
    throw new RangeError(
      `shardResolution (${c.shardResolution}) must be below indexResolution (${c.indexResolution}), both in 0..15`,
    );
  }
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0))
      throw new RangeError(`config ${k} must be a finite number ≥ 0, got ${v}`);
  }
  checkPayoutRates(c.payout);
  return Object.freeze(c);
}
