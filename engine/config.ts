import {
  DISPATCH_POLICIES,
  DISPATCH_SETTINGS,
  type DispatchPolicy,
  type DispatchSettingName,
  type DispatchSettings,
  type Result,
  SCORING_SETTINGS,
  VEHICLE_TYPES,
  type VehicleType,
  type ScoringSettingName,
  ok,
  reject,
} from '../protocol/index.js';
import { checkPayoutRates, type PayoutRates } from './payout.js';

export const KITCHEN_TIMINGS = ['learned', 'stated'] as const;
export type KitchenTiming = (typeof KITCHEN_TIMINGS)[number];

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
  /**
   * How dispatch is timed to the kitchen (engine/kitchen.ts): `learned` expects the food when the
   * restaurant's history says (its estimate plus its learned bias) and starts the search the
   * restaurant's learned pickup ETA before; `stated` trusts its estimate and `assumedPickupEtaMs`.
   */
  readonly kitchenTiming: KitchenTiming;
  /** Pickup travel time assumed when timing dispatch, until a restaurant has learned its own. */
  readonly assumedPickupEtaMs: number;
  /**
   * The longest delivery promise. The promise made at placement (the customer's estimated
   * delivery time, and the SLA-breach deadline) is the restaurant's expected preparation, the ride
   * from the restaurant to the drop and `promiseBufferMs`, capped at this.
   */
  readonly promiseMs: number;
  /** Slack in the promise for the restaurant's acceptance and the rider's way to the pickup. */
  readonly promiseBufferMs: number;
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
  /** How shards match orders unless an operator set a shard's own (`set_shard_policy`). */
  readonly dispatchPolicy: DispatchPolicy;
  /** In the batched policy, how long a shard collects dispatchable orders before assigning them together. */
  readonly batchWindowMs: number;
  /**
   * Stacking (engine/dispatch/stacking.ts): an order may join the route of a rider of capacity
   * above one heading to a restaurant within this distance of its own; 0 turns stacking off.
   */
  readonly stackRadiusM: number;
  /**
   * Stacking: seconds of margin a stack must leave before every promise on the new route (the new
   * order's and the held ones'), for what the route's forecast cannot see: a kitchen running late,
   * a slow accept, traffic. A held job already closer to its promise may not be delayed at all.
   */
  readonly stackSlackS: number;
  /**
   * Stacking: when at least this share of the riders positioned in an order's shard are free,
   * riders are not short there, and a free rider that reaches the pickup by the food's expected
   * ready time plus `stackSlackS` takes the order instead of a stack (a stack makes its rider wait
   * at the restaurant and its other orders ride longer, for a saving nobody needs). 0..1; 1 leaves
   * the choice to the stack's cost alone.
   */
  readonly stackSpareShare: number;
  /** Travel-time model (engine/eta.ts): a rider's speed when its vehicle is not known, m/s. */
  readonly riderSpeedMps: number;
  /** Travel-time model: speed by vehicle type, m/s, before the hour's traffic factor. */
  readonly vehicleSpeedMps: Readonly<Record<VehicleType, number>>;
  /**
   * Travel-time model: 24 speed factors, one per local hour 0..23 (0.8 at 19:00 means evening
   * traffic makes every ride 25% longer). Flat by default: a city sets its own from its data.
   */
  readonly speedByHour: readonly number[];
  /** The city's offset from UTC in minutes, for the local hour (India: 330). */
  readonly utcOffsetMinutes: number;
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
  /**
   * Onboarding: a registered rider starts pending and goes online only once an
   * operator approved its documents. Off: every rider is approved at registration.
   */
  readonly riderReview: boolean;
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
    /**
     * Batched policy only: seconds of cost per second the delivery would land past the
     * customer's promise with this rider (greedy ranks one order's riders, where it is the same
     * trade-off as the ETA).
     */
    readonly latenessWeight: number;
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
  kitchenTiming: 'learned',
  assumedPickupEtaMs: 5 * 60_000,
  promiseMs: 45 * 60_000,
  promiseBufferMs: 10 * 60_000,
  orderLifetimeMs: 4 * 3_600_000,
  disconnectGraceMs: 60_000,
  positionStaleMs: 60_000,
  maxClockSkewMs: 30_000,
  maxRing: 16,
  minCandidates: 4,
  maxPickupDistanceM: 6_000,
  dispatchPolicy: 'greedy',
  batchWindowMs: 2_000,
  stackRadiusM: 500,
  stackSlackS: 420,
  stackSpareShare: 0.2,
  riderSpeedMps: 5.5,
  vehicleSpeedMps: Object.freeze({ bicycle: 4, motorcycle: 6, scooter: 5.5, car: 5, on_foot: 1.4 }),
  speedByHour: Object.freeze(Array.from({ length: 24 }, () => 1)),
  utcOffsetMinutes: 330,
  detourFactor: 1.3,
  maxDeliveryDistanceM: 15_000,
  retentionMs: 30 * 60_000,
  arrivalRadiusM: 60,
  riderReview: false,
  // ₹25 a job, ₹8 a road km delivered, ₹3 a road km ridden to the pickup.
  payout: Object.freeze({ baseFeePaise: 2_500, perKmPaise: 800, pickupPerKmPaise: 300 }),
  scoring: Object.freeze({
    idleWeight: 0.1,
    idleCapS: 1_800,
    acceptancePenaltyS: 120,
    headingPenaltyS: 60,
    latenessWeight: 1,
  }),
});

export type EngineConfigInput = Partial<Omit<EngineConfig, 'scoring' | 'payout' | 'vehicleSpeedMps'>> & {
  scoring?: Partial<EngineConfig['scoring']>;
  payout?: Partial<PayoutRates>;
  vehicleSpeedMps?: Partial<Record<VehicleType, number>>;
};

/** Defaults overlaid with `input`, checked and frozen. Throws on a nonsensical value. */
export function resolveConfig(input: EngineConfigInput = {}): EngineConfig {
  const c: EngineConfig = {
    ...defaultEngineConfig,
    ...input,
    scoring: Object.freeze({ ...defaultEngineConfig.scoring, ...input.scoring }),
    payout: Object.freeze({ ...defaultEngineConfig.payout, ...input.payout }),
    vehicleSpeedMps: Object.freeze({ ...defaultEngineConfig.vehicleSpeedMps, ...input.vehicleSpeedMps }),
    speedByHour: Object.freeze([...(input.speedByHour ?? defaultEngineConfig.speedByHour)]),
  };
  if (!(c.shardResolution >= 0 && c.indexResolution <= 15 && c.shardResolution < c.indexResolution)) {
    throw new RangeError(
      `shardResolution (${c.shardResolution}) must be below indexResolution (${c.indexResolution}), both in 0..15`,
    );
  }
  for (const [k, v] of Object.entries(c)) {
    if (k !== 'utcOffsetMinutes' && typeof v === 'number' && !(Number.isFinite(v) && v >= 0))
      throw new RangeError(`config ${k} must be a finite number ≥ 0, got ${v}`);
  }
  if (!(Number.isInteger(c.utcOffsetMinutes) && c.utcOffsetMinutes >= -720 && c.utcOffsetMinutes <= 840))
    throw new RangeError(`utcOffsetMinutes must be an integer in -720..840, got ${c.utcOffsetMinutes}`);
  if (!(Number.isFinite(c.stackRadiusM) && c.stackRadiusM >= 0 && c.stackRadiusM <= 10_000))
    throw new RangeError(`stackRadiusM must be a number in 0..10000, got ${c.stackRadiusM}`);
  if (!(c.stackSlackS <= 3600)) throw new RangeError(`stackSlackS must be a number in 0..3600, got ${c.stackSlackS}`);
  if (!(c.stackSpareShare <= 1))
    throw new RangeError(`stackSpareShare must be a number in 0..1, got ${c.stackSpareShare}`);
  if (!(c.riderSpeedMps > 0)) throw new RangeError(`riderSpeedMps must be above 0, got ${c.riderSpeedMps}`);
  for (const [k, v] of Object.entries(c.vehicleSpeedMps)) {
    if (!(VEHICLE_TYPES as readonly string[]).includes(k))
      throw new RangeError(`vehicleSpeedMps.${k} is not a vehicle type`);
    if (!(typeof v === 'number' && v > 0 && v <= 50))
      throw new RangeError(`vehicleSpeedMps.${k} must be a speed in (0, 50] m/s, got ${v}`);
  }
  if (c.speedByHour.length !== 24 || !c.speedByHour.every((f) => typeof f === 'number' && f > 0 && f <= 3))
    throw new RangeError('speedByHour must be 24 factors in (0, 3], one per local hour');
  if (!(KITCHEN_TIMINGS as readonly string[]).includes(c.kitchenTiming))
    throw new RangeError(`kitchenTiming must be one of ${KITCHEN_TIMINGS.join(', ')}, got ${c.kitchenTiming}`);
  if (!(DISPATCH_POLICIES as readonly string[]).includes(c.dispatchPolicy))
    throw new RangeError(`dispatchPolicy must be one of ${DISPATCH_POLICIES.join(', ')}, got ${c.dispatchPolicy}`);
  checkPayoutRates(c.payout);
  return Object.freeze(c);
}

/** What each setting may be: [min, max, integer]. */
const SETTING_RANGES: Record<DispatchSettingName | ScoringSettingName, readonly [number, number, boolean]> = {
  maxRing: [0, 64, true],
  minCandidates: [1, 1_000, true],
  maxPickupDistanceM: [100, 100_000, false],
  offerTimeoutMs: [1_000, 600_000, true],
  dispatchRetryMs: [100, 3_600_000, true],
  dispatchGiveUpMs: [1_000, 24 * 3_600_000, true],
  positionStaleMs: [1_000, 3_600_000, true],
  batchWindowMs: [100, 60_000, true],
  idleWeight: [0, 100, false],
  idleCapS: [0, 86_400, false],
  acceptancePenaltyS: [0, 86_400, false],
  headingPenaltyS: [0, 86_400, false],
  latenessWeight: [0, 100, false],
};

/**
 * `current` with `patch` applied, checked and frozen; a rejection naming
 * every bad field (unknown, not a number, out of range) changes nothing.
 */
export function applyDispatchSettings(current: EngineConfig, patch: unknown): Result<EngineConfig> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
    return reject('INVALID_ARGUMENT', 'settings must be an object');
  const problems: string[] = [];
  const check = (name: DispatchSettingName | ScoringSettingName, v: unknown): number | undefined => {
    const [min, max, integer] = SETTING_RANGES[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      problems.push(
        `${name} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${JSON.stringify(v)}`,
      );
      return undefined;
    }
    return v;
  };
  const top: Record<string, number> = {};
  const scoring: Record<string, number> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'scoring') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        problems.push('scoring must be an object');
        continue;
      }
      for (const [sk, sv] of Object.entries(v as Record<string, unknown>)) {
        if (!(SCORING_SETTINGS as readonly string[]).includes(sk)) problems.push(`scoring.${sk} is not a setting`);
        else {
          const n = check(sk as ScoringSettingName, sv);
          if (n !== undefined) scoring[sk] = n;
        }
      }
    } else if (!(DISPATCH_SETTINGS as readonly string[]).includes(k)) {
      problems.push(`${k} is not a setting that can change at run time`);
    } else {
      const n = check(k as DispatchSettingName, v);
      if (n !== undefined) top[k] = n;
    }
  }
  if (problems.length > 0) return reject('INVALID_ARGUMENT', problems.join('; '));
  return ok(
    Object.freeze({
      ...current,
      ...top,
      scoring: Object.freeze({ ...current.scoring, ...scoring }),
    }),
  );
}

/** The settings {@link applyDispatchSettings} may change, as they are now. */
export function dispatchSettings(c: EngineConfig): DispatchSettings {
  const out: Record<string, unknown> = {};
  for (const k of DISPATCH_SETTINGS) out[k] = c[k];
  out['scoring'] = { ...c.scoring };
  return out as DispatchSettings;
}
