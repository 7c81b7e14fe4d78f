import {
  type AggregateKind,
  type CancelOrder,
  type CommandValue,
  type DecisionTrace,
  type EngineCommand,
  type EngineEvent,
  type H3Cell,
  type OrderId,
  type OrderView,
  type PlaceOrder,
  type RegisterRestaurant,
  type RegisterRider,
  type RestaurantId,
  type RestaurantStatus,
  type RestaurantView,
  type Result,
  type RiderId,
  type RiderStatus,
  type RiderJobView,
  type RiderView,
  PositionStatus,
  reject,
} from '../protocol/index.js';
import {
  type OrderFilter,
  type OrderRow,
  type Paged,
  type RiderFilter,
  type RiderRow,
  type ShardStat,
  listOrders,
  listRiders,
  shardStat,
  shardStats,
} from './admin-queries.js';
import { type Clock, type Stopwatch, nullStopwatch } from './clock.js';
import { type EngineConfig, type EngineConfigInput, resolveConfig } from './config.js';
import { EngineCore, type MatchInfo } from './core.js';
import { type CandidateRequest, ExternalCandidates } from './dispatch/candidate-source.js';
import type { EngineLogger } from './ports/engine-logger.js';
import type { EtaModel } from './ports/eta-model.js';
import {
  type BatchListener,
  type CommandBatch,
  type EngineListener,
  type Executed,
  Mailbox,
  type Queued,
  RELAYED,
  type RelayedCommand,
} from './mailbox.js';
import { MIRROR_RUNS_NO_COMMANDS, Mirror, type MirrorStats, type RelayedRows } from './mirror.js';
import { applyPosition } from './positions.js';
import {
  type EngineStats,
  engineStats,
  estimatedArrival,
  orderView,
  restaurantView,
  riderJobView,
  riderJobsView,
  riderView,
} from './queries.js';
import type { OrderRecord, RestaurantRecord, RiderRecord } from './records.js';
import type { Shard } from './shard.js';
import { loadActors, loadSnapshot, snapshotRow, toSnapshot } from './snapshot-codec.js';
import {
  type EngineSnapshot,
  type OrderSnapshotRow,
  type RestaurantSnapshotRow,
  type RiderSnapshotRow,
  SNAPSHOT_FORMAT,
} from './snapshot.js';

export type { CandidateRequest, EngineLogger, MatchInfo, MirrorStats, RelayedRows };

export interface EngineOptions {
  readonly clock: Clock;
  readonly config?: EngineConfigInput;
  /** Seed of generated ids. Same seed and commands, same event log. */
  readonly seed?: number;
  /** Measures match latency; without one the engine reports zeros. */
  readonly stopwatch?: Stopwatch;
  readonly onMatch?: (m: MatchInfo) => void;
  readonly logger?: EngineLogger;
  /**
   * External candidates mode, for baselines that replace only how candidates
   * are found (the benchmark's Redis GEO and PostGIS). An order that needs a
   * rider does not search the engine's index: the engine calls this and the
   * order keeps searching, with its retry deadline armed in case no answer
   * comes. The answer is an `offer_from_candidates` command, scored with the
   * engine's own scoring. Called inside a command: answer later.
   */
  readonly externalCandidates?: (request: CandidateRequest) => void;
  /**
   * The travel-time model behind dispatch, tracking and the promise; by default
   * {@link StraightLineEta} over the engine's settings. A road-network router
   * replaces it here.
   */
  readonly eta?: EtaModel;
  /**
   * A read mirror of engines that run elsewhere (a cluster gateway's copy of
   * the partitions): it runs no commands and arms no deadlines, and takes its
   * state from the rows and events their owners relay ({@link Engine.absorb}).
   * Its config should be the owners' (retention, the travel-time model).
   */
  readonly mirror?: boolean;
}

export type { BatchListener, CommandBatch, EngineListener, Executed, Queued, RelayedCommand };

/**
 * An opaque reference to one rider of one engine, for callers that apply that
 * rider's positions many times (a connection): it skips the lookup by id.
 * Valid for the engine's life (riders are never removed; a restore builds a
 * new engine). See {@link Engine.riderHandle}.
 */
export type RiderHandle = { readonly __riderHandle: never };

/** The commands a read mirror runs: an operator's settings, which change no actor and emit nothing. */
const SETTINGS_COMMANDS: ReadonlySet<string> = new Set(['set_dispatch_config', 'drain_shard', 'set_shard_policy']);

interface Internals {
  riders: ReadonlyMap<RiderId, RiderRecord>;
  orders: ReadonlyMap<OrderId, OrderRecord>;
  restaurants: ReadonlyMap<RestaurantId, RestaurantRecord>;
  shards: ReadonlyMap<H3Cell, Shard>;
  /** Available riders per coarse cell, as the search's bound reads them. */
  available: { coarseOf(cell: H3Cell): H3Cell; counts(): IterableIterator<[H3Cell, number]> };
  /** Riders who could take a stacked order, and the restaurant each is listed under. */
  stacks: { entries(): ReadonlyMap<RiderRecord, RestaurantId> };
}

/**
 * The dispatch engine: an in-memory actor system driven by commands as data
 * and a Clock, emitting typed events. No I/O, no globals: several engines can
 * run in one process. {@link execute} runs one command to its end; a command
 * issued meanwhile (by a listener, a deadline) waits in the mailbox and runs
 * next, never inside the first. Listeners hear each command's events together
 * once it has finished. Each command's rules live in engine/commands/.
 */
export class Engine {
  readonly #core: EngineCore;
  readonly #mailbox: Mailbox;
  /** Null unless this engine is a read mirror. */
  readonly #mirror: Mirror | null;

  constructor(options: EngineOptions) {
    const config = resolveConfig(options.config);
    const ask = options.externalCandidates;
    const logger = options.logger;
    this.#core = new EngineCore({
      clock: options.clock,
      config,
      seed: (options.seed ?? 1) >>> 0,
      stopwatch: options.stopwatch ?? nullStopwatch,
      onMatch: options.onMatch,
      logger,
      onDeadline: (kind, id) => this.execute({ type: 'fire_deadline', kind, id }),
      ...(options.eta ? { eta: options.eta } : {}),
      ...(ask
        ? { candidates: () => new ExternalCandidates(ask, () => this.#core.config.maxPickupDistanceM, logger) }
        : {}),
    });
    this.#mailbox = new Mailbox(this.#core);
    this.#mirror = options.mirror === true ? new Mirror(this.#core) : null;
  }

  /** The engine's settings as they are now (an operator may change the dispatch settings at run time). */
  get config(): EngineConfig {
    return this.#core.config;
  }

  // ─── Commands ────────────────────────────────────────────────────────────

  /**
   * Runs `cmd` and answers its result and events; when another command is
   * running (this one was issued by a listener or a deadline) it is queued,
   * runs right after, and the answer is {@link Queued}.
   */
  execute<C extends EngineCommand>(cmd: C): Executed<CommandValue<C>> | Queued {
    // An operator's settings are the one exception: they are in no row and emit no event, so a
    // mirror is told them as its owners are (adapters/admin/admin-audit.ts, applyStanding).
    if (this.#mirror && !SETTINGS_COMMANDS.has(cmd.type)) throw new Error(MIRROR_RUNS_NO_COMMANDS);
    return this.#mailbox.execute(cmd) as Executed<CommandValue<C>> | Queued;
  }

  /** Calls `listener` with every event, once its command has finished, in order. Returns an unsubscribe function. */
  subscribe(listener: EngineListener): () => void {
    const logger = this.#core.logger;
    return this.subscribeBatches((b) => {
      for (const e of b.events) {
        try {
          listener(e);
        } catch (err) {
          logger?.error(`event listener failed on ${e.type}`, err);
        }
      }
    });
  }

  /** Calls `listener` with each command's events together, once it has finished. Returns an unsubscribe function. */
  subscribeBatches(listener: BatchListener): () => void {
    return this.#mailbox.subscribe(listener);
  }

  /** Stops the engine's clock timer. State and deadlines stay; a snapshot can still be taken. */
  stop(): void {
    this.#core.deadlines.stop();
  }

  /** A typed command's result; a command issued while another runs is queued and answers COMMAND_QUEUED. */
  #call<C extends EngineCommand>(cmd: C): Result<CommandValue<C>> {
    if (this.#mirror) throw new Error(MIRROR_RUNS_NO_COMMANDS);
    const result = this.#mailbox.call(cmd) as Result<CommandValue<C>> | undefined;
    return result ?? reject('COMMAND_QUEUED', `${cmd.type} runs after the command in progress`);
  }

  registerRestaurant(cmd: RegisterRestaurant): Result {
    return this.#call({ type: 'register_restaurant', ...cmd });
  }

  setRestaurantStatus(restaurantId: RestaurantId, status: RestaurantStatus): Result {
    return this.#call({ type: 'set_restaurant_status', restaurantId, status });
  }

  registerRider(cmd: RegisterRider): Result {
    return this.#call({ type: 'register_rider', ...cmd });
  }

  riderOnline(riderId: RiderId): Result {
    return this.#call({ type: 'rider_online', riderId });
  }

  /** Goes offline. A held offer passes to the next rider, an unpicked job is reassigned; a rider carrying food is refused. */
  riderOffline(riderId: RiderId): Result {
    return this.#call({ type: 'rider_offline', riderId });
  }

  riderBreak(riderId: RiderId): Result {
    return this.#call({ type: 'rider_break', riderId });
  }

  riderResume(riderId: RiderId): Result {
    return this.#call({ type: 'rider_resume', riderId });
  }

  /** What the rider asks for: online (resuming a break; no-op when online), break or offline. */
  setRiderStatus(riderId: RiderId, status: RiderStatus): Result {
    return this.#call({ type: 'set_rider_status', riderId, status });
  }

  /** A connection of the rider opened: registers it if unknown, ends a disconnect's grace period. */
  riderConnected(riderId: RiderId): Result {
    return this.#call({ type: 'rider_connected', riderId });
  }

  /** The rider's connection dropped: it keeps its state for the grace period, but gets no offers. */
  riderDisconnected(riderId: RiderId): Result {
    return this.#call({ type: 'rider_disconnected', riderId });
  }

  riderReconnected(riderId: RiderId): Result {
    return this.#call({ type: 'rider_reconnected', riderId });
  }

  /** Places an order at a restaurant; answers its id. */
  placeOrder(cmd: PlaceOrder): Result<OrderId> {
    return this.#call({ type: 'place_order', ...cmd });
  }

  confirmPayment(orderId: OrderId): Result {
    return this.#call({ type: 'confirm_payment', orderId });
  }

  failPayment(orderId: OrderId): Result {
    return this.#call({ type: 'fail_payment', orderId });
  }

  /** The restaurant accepts and says how long cooking takes; see engine/commands/order.ts. */
  restaurantAccept(orderId: OrderId, opts: { restaurantId?: RestaurantId; prepMinutes?: number } = {}): Result {
    return this.#call({ type: 'restaurant_accept', orderId, ...opts });
  }

  restaurantReject(orderId: OrderId, opts: { restaurantId?: RestaurantId; reason?: string } = {}): Result {
    return this.#call({ type: 'restaurant_reject', orderId, ...opts });
  }

  /** Food is ready. An order still waiting for its dispatch time is dispatched now. */
  foodReady(orderId: OrderId, opts: { restaurantId?: RestaurantId } = {}): Result {
    return this.#call({ type: 'food_ready', orderId, ...opts });
  }

  acceptOffer(riderId: RiderId, orderId: OrderId): Result {
    return this.#call({ type: 'accept_offer', riderId, orderId });
  }

  declineOffer(riderId: RiderId, orderId: OrderId): Result {
    return this.#call({ type: 'decline_offer', riderId, orderId });
  }

  pickedUp(riderId: RiderId, orderId: OrderId): Result {
    return this.#call({ type: 'picked_up', riderId, orderId });
  }

  delivered(riderId: RiderId, orderId: OrderId): Result {
    return this.#call({ type: 'delivered', riderId, orderId });
  }

  /** Cancels an order; who may cancel when is in engine/commands/order.ts. */
  cancelOrder(cmd: CancelOrder): Result {
    return this.#call({ type: 'cancel_order', ...cmd });
  }

  /** An external candidate source's answer (see {@link EngineOptions.externalCandidates}). */
  offerFromCandidates(orderId: OrderId, riderIds: readonly string[]): Result<RiderId | null> {
    return this.#call({ type: 'offer_from_candidates', orderId, riderIds });
  }

  // ─── The position hot path ───────────────────────────────────────────────

  /**
   * The hot path, outside the mailbox: applies a rider position in place, with
   * no transition and no allocation unless the rider changes cell or reaches a
   * geofence (engine/positions.ts). Answers a {@link PositionStatus} code.
   */
  updateRiderPosition(
    id: RiderId,
    lat: number,
    lng: number,
    accuracy: number,
    heading: number,
    speed: number,
    at: number,
  ): PositionStatus {
    if (this.#mirror) throw new Error(MIRROR_RUNS_NO_COMMANDS);
    const r = this.#core.riders.get(id);
    if (r === undefined) return PositionStatus.UNKNOWN_RIDER;
    return this.#position(r, lat, lng, accuracy, heading, speed, at);
  }

  /** The rider's handle, for {@link updateRiderPositionOf}; undefined for a rider the engine does not know. */
  riderHandle(id: RiderId): RiderHandle | undefined {
    return this.#core.riders.get(id) as RiderHandle | undefined;
  }

  /**
   * {@link updateRiderPosition} through a handle from {@link riderHandle}
   * (a connection's hot path: no lookup by id). A handle of another engine
   * answers UNKNOWN_RIDER.
   */
  updateRiderPositionOf(
    h: RiderHandle,
    lat: number,
    lng: number,
    accuracy: number,
    heading: number,
    speed: number,
    at: number,
  ): PositionStatus {
    if (this.#mirror) throw new Error(MIRROR_RUNS_NO_COMMANDS);
    const r = h as unknown as RiderRecord;
    if (r.table !== this.#core.riderTable) return PositionStatus.UNKNOWN_RIDER;
    return this.#position(r, lat, lng, accuracy, heading, speed, at);
  }

  #position(
    r: RiderRecord,
    lat: number,
    lng: number,
    accuracy: number,
    heading: number,
    speed: number,
    at: number,
  ): PositionStatus {
    const core = this.#core;
    // A rider handed over to another partition is that partition's (engine/commands/handover.ts).
    if (r.away !== null) return PositionStatus.UNKNOWN_RIDER;
    const status = applyPosition(core, r, lat, lng, accuracy, heading, speed, at);
    // Only an arrival emits: then the update becomes a command's worth of events, like any other.
    if (core.buffer.length > 0) {
      const command: EngineCommand = {
        type: 'update_rider_position',
        riderId: r.id,
        lat,
        lng,
        accuracy,
        heading,
        speed,
        at,
      };
      const events = core.buffer;
      core.buffer = [];
      this.#mailbox.deliverBatch({ command, events });
    }
    return status;
  }

  // ─── A read mirror ───────────────────────────────────────────────────────

  /**
   * A read mirror takes in what a partition's owner relays after a command:
   * the state rows of the actors its events name, then the events. Each row
   * newer (by seq) than the actor held is applied in place, restaurants first,
   * then riders, then orders; an older or repeated row is ignored, except a
   * rider's newer position (the owner's hot path moves riders without an
   * event); an order whose restaurant is unknown is skipped. Ended orders past
   * retention are forgotten, as the owner forgets them. Then listeners hear the
   * events as one batch, as after a local command; its command is
   * {@link RelayedCommand}. Throws on an engine that is not a mirror.
   */
  absorb(rows: RelayedRows, events: readonly EngineEvent[]): void {
    const mirror = this.#mirror;
    if (mirror === null)
      throw new Error('absorb is for a read mirror (EngineOptions.mirror); this engine runs commands');
    mirror.absorb(rows, events);
    if (events.length > 0) this.#mailbox.deliverBatch({ command: RELAYED, events });
  }

  /**
   * A read mirror shows a rider's fix that its owner applied (a gateway
   * forwards a rider's positions and shows them at once): position, cell and
   * index, no geofence, no event. False for an unknown rider, a fix no newer
   * than the one held, or an invalid one. Throws on an engine that is not a mirror.
   */
  mirrorPosition(
    riderId: RiderId,
    lat: number,
    lng: number,
    accuracy: number,
    heading: number,
    speed: number,
    at: number,
  ): boolean {
    const mirror = this.#mirror;
    if (mirror === null) throw new Error('mirrorPosition is for a read mirror; use updateRiderPosition');
    return mirror.position(riderId, lat, lng, accuracy, heading, speed, at);
  }

  /** Whether this engine is a read mirror ({@link EngineOptions.mirror}). */
  get isMirror(): boolean {
    return this.#mirror !== null;
  }

  /** What a read mirror refused or forgot; null for an engine that is not one. */
  get mirrorStats(): MirrorStats | null {
    return this.#mirror?.stats ?? null;
  }

  // ─── Queries ─────────────────────────────────────────────────────────────

  /**
   * Whether the rider is in the available index (online, idle, connected,
   * positioned): what an external candidate store must mirror. No allocation;
   * cheap enough to ask after every position.
   */
  isRiderAvailable(id: RiderId): boolean {
    const r = this.#core.riders.get(id);
    return r !== undefined && r.indexCell !== null;
  }

  getOrder(id: OrderId): Result<OrderView> {
    return orderView(this.#core, id);
  }

  /** The order's latest dispatch decisions held in memory (oldest first), or undefined for an order not held. */
  orderDecisions(id: OrderId): readonly DecisionTrace[] | undefined {
    return this.#core.orders.get(id)?.traces.slice();
  }

  getRider(id: RiderId): Result<RiderView> {
    return riderView(this.#core, id);
  }

  /** When the order's rider should reach the customer by the engine's travel-time model, epoch ms; null without a positioned rider on it. */
  estimatedArrival(id: OrderId): number | null {
    return estimatedArrival(this.#core, id);
  }

  /** The engine's travel-time model (dispatch, tracking and the promise use it). */
  get eta(): EtaModel {
    return this.#core.eta;
  }

  /** The rider's live offer or current job, as a reconnecting rider app must be told again. */
  getRiderJob(id: RiderId): Result<RiderJobView | null> {
    return riderJobView(this.#core, id);
  }

  /**
   * Every offer and job the rider holds (a rider of capacity above one may
   * hold several: its lead, stacked jobs and a stack offer), each with the
   * rider's route when there are several; empty when it holds nothing.
   */
  getRiderJobs(id: RiderId): Result<RiderJobView[]> {
    return riderJobsView(this.#core, id);
  }

  getRestaurant(id: RestaurantId): Result<RestaurantView> {
    return restaurantView(this.#core, id);
  }

  /** Riders filtered by shard, state and area, a page at a time (the admin service). */
  listRiders(filter: RiderFilter): Paged<RiderRow> {
    return listRiders(this.#core, filter);
  }

  /** Orders filtered by state, restaurant, age and shard, a page at a time (the admin service). */
  listOrders(filter: OrderFilter): Paged<OrderRow> {
    return listOrders(this.#core, filter);
  }

  /**
   * The shard an actor belongs to now (an order by its pickup, a rider by its
   * last position, a restaurant by its place); null when unknown or unplaced.
   * A map lookup: cheap enough per event for a filtered event stream.
   */
  shardOf(aggregate: AggregateKind, id: string): string | null {
    const c = this.#core;
    if (aggregate === 'rider') return c.riders.get(id as RiderId)?.shardKey ?? null;
    const cell =
      aggregate === 'order' ? c.orders.get(id as OrderId)?.pickupCell : c.restaurants.get(id as RestaurantId)?.cell;
    return cell === undefined ? null : c.space.parentOf(cell);
  }

  /** Per-shard counts, with whether each is drained and its dispatch policy. */
  shardStats(): ShardStat[] {
    return shardStats(this.#core);
  }

  /** One shard's counts by its key (an H3 cell at the shard resolution); zero for a shard holding nothing. */
  shardStat(shard: string): ShardStat {
    return shardStat(this.#core, shard as H3Cell);
  }

  /** Counts for progress lines and metrics. */
  stats(): EngineStats {
    return engineStats(this.#core);
  }

  /** Read-only access to the actors, for invariant checks, snapshots and tools in this package. */
  get internals(): Internals {
    const c = this.#core;
    return {
      riders: c.riders,
      orders: c.orders,
      restaurants: c.restaurants,
      shards: c.space.shards,
      available: c.space,
      stacks: c.stacks,
    };
  }

  get now(): number {
    return this.#core.now();
  }

  // ─── Snapshot and restore ────────────────────────────────────────────────

  /** The whole engine as plain JSON-safe data. */
  toSnapshot(): EngineSnapshot {
    return toSnapshot(this.#core);
  }

  /**
   * One actor's row of {@link toSnapshot} as it is now, or undefined when the
   * engine does not hold it (never existed, or an ended order past retention).
   * Write-behind stores it beside the actor's events so that recovery is a
   * snapshot load, not a replay.
   */
  snapshotRow(
    aggregate: AggregateKind,
    id: string,
  ): RestaurantSnapshotRow | RiderSnapshotRow | OrderSnapshotRow | undefined {
    return snapshotRow(this.#core, aggregate, id);
  }

  /** How many ids the seeded generator has handed out; a restored engine goes on from here. */
  get idCounter(): number {
    return this.#core.idCounter;
  }

  /** The seed of generated ids. */
  get seed(): number {
    return this.#core.seed;
  }

  /**
   * Rebuilds an engine from {@link toSnapshot} output (after a JSON round trip
   * or not) and re-arms every pending deadline from the actors' state. The
   * clock must not be earlier than the snapshot; deadlines already past fire
   * at the clock's next tick. The seed comes from the snapshot. With
   * `mirror: true` it builds a read mirror, which arms nothing, so its clock
   * may trail the snapshot's (a gateway's clock beside its owners').
   */
  static restore(snapshot: EngineSnapshot, options: EngineOptions): Engine {
    // Snapshots come from storage: the type says what they should be, not what they are.
    const format: unknown = snapshot.format;
    if (format !== SNAPSHOT_FORMAT)
      throw new TypeError(`unsupported snapshot format ${String(format)}; expected ${SNAPSHOT_FORMAT}`);
    if (options.mirror !== true && options.clock.now() < snapshot.at)
      throw new RangeError(`clock (${options.clock.now()}) is earlier than the snapshot (${snapshot.at})`);
    const e = new Engine({ ...options, seed: snapshot.seed });
    if (e.#mirror === null) loadSnapshot(e.#core, snapshot);
    else {
      loadActors(e.#core, snapshot);
      e.#mirror.loaded();
    }
    return e;
  }
}
