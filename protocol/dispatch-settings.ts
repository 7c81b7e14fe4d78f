/**
 * The dispatch settings an operator may change while the engine runs (the
 * admin service's SetDispatchConfig, the `set_dispatch_config` command): the
 * radius caps, the offer expiry, retry timing and the score weights.
 */
export const DISPATCH_SETTINGS = [
  'maxRing',
  'minCandidates',
  'maxPickupDistanceM',
  'offerTimeoutMs',
  'dispatchRetryMs',
  'dispatchGiveUpMs',
  'positionStaleMs',
  'batchWindowMs',
] as const;
export type DispatchSettingName = (typeof DISPATCH_SETTINGS)[number];

export const SCORING_SETTINGS = [
  'idleWeight',
  'idleCapS',
  'acceptancePenaltyS',
  'headingPenaltyS',
  'latenessWeight',
] as const;
export type ScoringSettingName = (typeof SCORING_SETTINGS)[number];

/** The settings as they are: every field. */
export type DispatchSettings = Readonly<Record<DispatchSettingName, number>> & {
  readonly scoring: Readonly<Record<ScoringSettingName, number>>;
};

/** A change to the dispatch settings: only the fields given change. */
export type DispatchSettingsPatch = Partial<Readonly<Record<DispatchSettingName, number>>> & {
  readonly scoring?: Partial<Readonly<Record<ScoringSettingName, number>>>;
};

/**
 * How a shard matches its orders to riders: `greedy` offers each order, as it
 * becomes dispatchable, to its best-scored rider; `batched` collects the
 * shard's dispatchable orders for `batchWindowMs` and offers them by a
 * least-cost assignment of the whole batch.
 */
export const DISPATCH_POLICIES = ['greedy', 'batched'] as const;
export type DispatchPolicy = (typeof DISPATCH_POLICIES)[number];
