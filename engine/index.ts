/**
 * The engine's public surface: commands and queries on {@link Engine}, the
 * events it emits (from protocol/), the Clock port with its simulated clock,
 * seeded randomness, snapshots and invariant checks.
 *
 * The engine is pure: no I/O, no wall clock, no timers but the Clock it is
 * given. Adapters drive it with commands and act on its events.
 */
export {
  Engine,
  type EngineOptions,
  type RiderHandle,
  type EngineListener,
  type BatchListener,
  type CommandBatch,
  type Executed,
  type Queued,
  type EngineLogger,
  type MatchInfo,
  type CandidateRequest,
  type MirrorStats,
  type RelayedCommand,
  type RelayedRows,
} from './engine.js';
export type { EngineStats } from './queries.js';
export type { Area, OrderFilter, OrderRow, Paged, RiderFilter, RiderRow, ShardStat } from './admin-queries.js';
export { StraightLineEta, arrivalAt, localHour, type ArrivalInput } from './eta.js';
export type { EtaModel } from './ports/eta-model.js';
export { assign as minCostAssignment, FORBIDDEN as FORBIDDEN_PAIR } from './dispatch/assignment.js';
export {
  type EngineConfig,
  type EngineConfigInput,
  applyDispatchSettings,
  defaultEngineConfig,
  dispatchSettings,
  resolveConfig,
} from './config.js';
export { type PayoutRates, riderPayout } from './payout.js';
export { type Clock, type Stopwatch, type TimerHandle, SimulatedClock, nullStopwatch } from './clock.js';
export { type Random, SeededRandom, seededUuid } from './random.js';
export {
  type EngineSnapshot,
  type OrderSnapshotRow,
  type RestaurantSnapshotRow,
  type RiderSnapshotRow,
  SNAPSHOT_FORMAT,
} from './snapshot.js';
export { checkInvariants } from './invariants.js';
export { distanceM, fastDistanceM, bearingDeg, offsetM } from './geo.js';
export {
  type BoundingBox,
  type PartitionId,
  type PartitionMapConfig,
  PartitionMap,
  PartitionMapError,
  parsePartitionMap,
  splitBoundingBox,
  splitCells,
} from './partition-map.js';
export type { OrderState } from './machines/order-machine.js';
export type { RiderState } from './machines/rider-machine.js';
export type { RestaurantState } from './machines/restaurant-machine.js';
export { orderMachine } from './machines/order-machine.js';
export { riderMachine } from './machines/rider-machine.js';
export { restaurantMachine } from './machines/restaurant-machine.js';
export * from '../protocol/index.js';
export * from './access.js';
export type * from './ports/identity.js';
export type * from './ports/event-store.js';
export type * from './ports/job-queue.js';
export type * from './ports/fence.js';
export * from './catalog.js';
export { statusCommand, type StatusRequest } from './order-status.js';
export * from './notify-rules.js';
export * from './chat-rules.js';
