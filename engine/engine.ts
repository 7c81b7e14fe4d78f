import { cellToParent } from 'h3-js';
import {
  type AggregateKind, type CancelOrder, type LatLng, type CancelledBy, type CustomerId, type EngineEvent, type EventBody, type H3Cell,
  type OrderId, type OrderView, type PlaceOrder, type RegisterRestaurant, type RegisterRider,
  type RestaurantId, type RestaurantStatus, type RestaurantView, type Result, type RiderId, type RiderJobView, type RiderView,
  CancelReason, OK, PositionStatus, isIdString, isLatLng, isLatitude, isLongitude, ok, reject,
} from '../protocol/index.js';
import { type Clock, type Stopwatch, nullStopwatch } from './clock.js';
import { type EngineConfig, type EngineConfigInput, resolveConfig } from './config.js';
import { type DeadlineKind, Deadlines } from './deadlines.js';
import { Dispatcher, type Match } from './dispatch.js';
import { cellDisc, cellOf, fastDistanceM } from './geo.js';
import { riderPayout } from './payout.js';
import { orderMachine, type OrderMachineEvent, type OrderState, TERMINAL_ORDER_STATES } from './machines/order-machine.js';
import { restaurantMachine, type RestaurantState } from './machines/restaurant-machine.js';
import { riderMachine, type RiderMachineEvent, type RiderState } from './machines/rider-machine.js';
import { createStepper, stateKey } from './machines/step.js';
import { OrderRecord, RestaurantRecord, RiderRecord } from './records.js';
import { seededUuid } from './random.js';
import { Col, RiderTable } from './rider-table.js';
import { Shard } from './shard.js';
import {
  type EngineSnapshot, type OrderSnapshotRow, type RestaurantSnapshotRow, type RiderSnapshotRow, SNAPSHOT_FORMAT,
} from './snapshot.js';

/** A successful match, reported to {@link EngineOptions.onMatch}. */
export interface MatchInfo {
  readonly orderId: OrderId;
  readonly riderId: RiderId;
  /**
   * Engine time from the order being dispatchable (entering, or back in, its
   * search) to the offer, µs; with external candidates, from the source's
   * answer ({@link Engine.offerFromCandidates}) to the offer.
   */
  readonly micros: number;
  readonly candidates: number;
  /** The ring the search stopped at; -1 when the candidates came from an external source. */
  readonly ring: number;
  readonly distanceM: number;
}

/**
 * What an external candidate source is asked for when an order needs a rider
 * and the engine runs with {@link EngineOptions.externalCandidates}.
 */
export interface CandidateRequest {
  readonly orderId: OrderId;
  readonly pickup: LatLng;
  /** Riders who passed on this order (declined, let it expire, went offline with it): never offered it again. */
  readonly exclude: readonly string[];
  /** Candidates farther than this are ignored ({@link EngineConfig.maxPickupDistanceM}). */
  readonly maxDistanceM: number;
  /** Engine time of the request, epoch ms. */
  readonly at: number;
}

/** A tiny logger port; the engine reports through it and its event stream only. */
export interface EngineLogger {
  error(message: string, detail?: unknown): void;
}

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
   * are found (the benchmark's Redis GEO and PostGIS). When set, an order that
   * needs a rider (it became dispatchable, its offer ended, its retry came)
   * does not search the engine's index: the engine calls this with the order
   * and the order keeps searching, with its retry deadline armed in case no
   * answer comes. The answer is {@link Engine.offerFromCandidates}, which
   * scores exactly the riders named, with the engine's own scoring, and makes
   * the same offer. Called synchronously inside a command: it must not call
   * commands re-entrantly (queue the lookup and answer later).
   */
  readonly externalCandidates?: (request: CandidateRequest) => void;
}

export type EngineListener = (event: EngineEvent) => void;

/**
 * An opaque reference to one rider of one engine, for callers that apply that
 * rider's positions many times (a connection): it skips the lookup by id.
 * Valid for the engine's life (riders are never removed; a restore builds a
 * new engine). See {@link Engine.riderHandle}.
 */
export type RiderHandle = { readonly __riderHandle: never };

type Internals = {
  riders: ReadonlyMap<RiderId, RiderRecord>;
  orders: ReadonlyMap<OrderId, OrderRecord>;
  restaurants: ReadonlyMap<RestaurantId, RestaurantRecord>;
  shards: ReadonlyMap<H3Cell, Shard>;
};

/** Order states in which the order's rider has a payout to see: offered, then the job until delivered. */
const PAID_ORDER_STATES: ReadonlySet<OrderState> = new Set(['dispatching.offered', 'assigned', 'picked_up', 'delivered']);
const RIDER_JOB_STATES: ReadonlySet<RiderState> = new Set(['online.to_pickup', 'online.at_pickup', 'online.delivering']);
const DEFAULT_CANCEL_REASON = {
  customer: CancelReason.CUSTOMER_REQUEST,
  restaurant: CancelReason.RESTAURANT_REQUEST,
  admin: CancelReason.ADMIN,
  system: CancelReason.SYSTEM,
} as const satisfies Record<CancelledBy, string>;

/** Rings precomputed around each restaurant: 127 cells, about 1 km at resolution 9. */
const WARM_RINGS = 6;
const STATUS_EVENT = { open: 'OPEN', busy: 'BUSY', closed: 'CLOSE' } as const;

/**
 * The dispatch engine: an in-memory actor system driven by commands and a
 * Clock, emitting typed events. No I/O, no globals: several engines can run in
 * one process. Every command answers a {@link Result}; a command the state does
 * not allow is a coded rejection, never a throw and never silently ignored.
 */
export class Engine {
  readonly config: EngineConfig;
  readonly #clock: Clock;
  readonly #stopwatch: Stopwatch;
  readonly #onMatch: ((m: MatchInfo) => void) | undefined;
  readonly #logger: EngineLogger | undefined;
  readonly #external: ((request: CandidateRequest) => void) | undefined;
  readonly #seed: number;
  #idCounter = 0;

  readonly #orderStep = createStepper(orderMachine);
  readonly #riderStep = createStepper(riderMachine);
  readonly #restaurantStep = createStepper(restaurantMachine);

  readonly #riders = new Map<RiderId, RiderRecord>();
  readonly #riderTable = new RiderTable();
  readonly #orders = new Map<OrderId, OrderRecord>();
  readonly #restaurants = new Map<RestaurantId, RestaurantRecord>();
  readonly #shards = new Map<H3Cell, Shard>();
  readonly #parents = new Map<H3Cell, H3Cell>();
  readonly #listeners = new Set<EngineListener>();
  readonly #deadlines: Deadlines;
  readonly #dispatcher: Dispatcher;

  constructor(options: EngineOptions) {
    this.config = resolveConfig(options.config);
    this.#clock = options.clock;
    this.#stopwatch = options.stopwatch ?? nullStopwatch;
    this.#onMatch = options.onMatch;
    this.#logger = options.logger;
    this.#external = options.externalCandidates;
    this.#seed = (options.seed ?? 1) >>> 0;
    this.#deadlines = new Deadlines(this.#clock, (kind, id) => this.#onDeadline(kind, id));
    this.#dispatcher = new Dispatcher(this.config, (cell) => this.#shards.get(this.#parentOf(cell)));
  }

  // ─── Events ──────────────────────────────────────────────────────────────

  /** Calls `listener` with every event, synchronously, in order. Returns an unsubscribe function. */
  subscribe(listener: EngineListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops the engine's clock timer. State and deadlines stay; a snapshot can still be taken. */
  stop(): void {
    this.#deadlines.stop();
  }

  // ─── Restaurants ─────────────────────────────────────────────────────────

  registerRestaurant(cmd: RegisterRestaurant): Result<null> {
    if (!isIdString(cmd.restaurantId)) return reject('INVALID_ARGUMENT', 'restaurantId must be a UUID or a slug');
    if (!isLatLng(cmd.location)) return reject('INVALID_ARGUMENT', 'location must have lat in [-90, 90] and lng in [-180, 180]');
    if (!(cmd.prepMinutes > 0 && cmd.prepMinutes <= 240)) return reject('INVALID_ARGUMENT', 'prepMinutes must be in (0, 240]');
    if (!(Number.isInteger(cmd.capacity) && cmd.capacity >= 1)) return reject('INVALID_ARGUMENT', 'capacity must be an integer ≥ 1');
    if (cmd.status !== undefined && !Object.hasOwn(STATUS_EVENT, cmd.status)) return reject('INVALID_ARGUMENT', 'status must be open, busy or closed');
    if (this.#restaurants.has(cmd.restaurantId)) return reject('RESTAURANT_EXISTS', `restaurant ${cmd.restaurantId} exists`);
    const cell = cellOf(cmd.location.lat, cmd.location.lng, this.config.indexResolution);
    const snap = this.#restaurantStep.initial();
    const r = new RestaurantRecord({
      id: cmd.restaurantId, location: { lat: cmd.location.lat, lng: cmd.location.lng }, cell, snap,
      state: 'open', prepMinutes: cmd.prepMinutes, capacity: cmd.capacity,
    });
    r.shard = this.#shardFor(cell);
    r.shard.restaurants.set(r.id, r);
    this.#restaurants.set(r.id, r);
    this.#dispatcher.warm(cell, WARM_RINGS);
    this.#emit('restaurant', r, { type: 'restaurant_registered', location: r.location, prepMinutes: r.prepMinutes, capacity: r.capacity });
    return cmd.status && cmd.status !== 'open' ? this.setRestaurantStatus(r.id, cmd.status) : OK;
  }

  setRestaurantStatus(id: RestaurantId, status: RestaurantStatus): Result<null> {
    const r = this.#restaurants.get(id);
    if (!r) return reject('RESTAURANT_NOT_FOUND', `no restaurant ${id}`);
    const type = STATUS_EVENT[status];
    if (!type) return reject('INVALID_ARGUMENT', 'status must be open, busy or closed');
    const next = this.#restaurantStep.step(r.snap, { type });
    if (!next) return reject('RESTAURANT_INVALID_TRANSITION', `restaurant ${id} is already ${r.state}`);
    r.snap = next;
    r.state = stateKey(next.value) as RestaurantState;
    this.#emit('restaurant', r, { type: 'restaurant_status_changed', status });
    return OK;
  }

  // ─── Riders ──────────────────────────────────────────────────────────────

  registerRider(cmd: RegisterRider): Result<null> {
    if (!isIdString(cmd.riderId)) return reject('INVALID_ARGUMENT', 'riderId must be a UUID or a slug');
    const capacity = cmd.capacity ?? 1;
    if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= 8)) return reject('INVALID_ARGUMENT', 'capacity must be an integer in 1..8');
    if (this.#riders.has(cmd.riderId)) return reject('RIDER_EXISTS', `rider ${cmd.riderId} exists`);
    const snap = this.#riderStep.initial();
    const r = new RiderRecord(cmd.riderId, this.#riderTable, snap, 'offline', capacity);
    this.#riders.set(r.id, r);
    this.#emit('rider', r, { type: 'rider_registered', capacity });
    return OK;
  }

  riderOnline(id: RiderId): Result<null> {
    return this.#riderCommand(id, { type: 'GO_ONLINE' }, (r) => {
      // GO_ONLINE clears graceUntil; a rider who went offline while disconnected still has that deadline armed.
      this.#deadlines.set('grace', r.id, 0);
      r.idleSince = this.#clock.now();
      this.#emit('rider', r, { type: 'rider_online' });
    });
  }

  /** Goes offline. A held offer passes to the next rider, an unpicked job is reassigned; a rider carrying food is refused. */
  riderOffline(id: RiderId): Result<null> {
    const r = this.#riders.get(id);
    if (r?.state === 'online.delivering') return reject('RIDER_HAS_ACTIVE_JOB', `rider ${id} is carrying order ${r.snap.context.orderId}`);
    const orderId = r?.snap.context.orderId ?? null;
    const before = r?.state;
    return this.#riderCommand(id, { type: 'GO_OFFLINE' }, (rr) => {
      this.#emit('rider', rr, { type: 'rider_offline', reason: 'requested' });
      if (orderId && before) this.#riderLeftJob(rr, before, orderId as OrderId);
    });
  }

  riderBreak(id: RiderId): Result<null> {
    return this.#riderCommand(id, { type: 'BREAK' }, (r) => this.#emit('rider', r, { type: 'rider_break_started' }));
  }

  riderResume(id: RiderId): Result<null> {
    return this.#riderCommand(id, { type: 'RESUME' }, (r) => {
      r.idleSince = this.#clock.now();
      this.#emit('rider', r, { type: 'rider_break_ended' });
    });
  }

  /** The rider's connection dropped: it keeps its state for the grace period, but gets no offers. */
  riderDisconnected(id: RiderId): Result<null> {
    const graceUntil = this.#clock.now() + this.config.disconnectGraceMs;
    const r = this.#riders.get(id);
    if (r && r.snap.context.graceUntil !== 0) return reject('RIDER_INVALID_TRANSITION', `rider ${id} is already disconnected`);
    return this.#riderCommand(id, { type: 'DISCONNECT', graceUntil }, (rr) => {
      this.#emit('rider', rr, { type: 'rider_disconnected', graceUntil });
      this.#deadlines.set('grace', rr.id, graceUntil);
    });
  }

  riderReconnected(id: RiderId): Result<null> {
    return this.#riderCommand(id, { type: 'RECONNECT' }, (r) => {
      this.#deadlines.set('grace', r.id, 0);
      this.#emit('rider', r, { type: 'rider_reconnected' });
    });
  }

  /**
   * The hot path: applies a rider position in place. No XState transition and
   * no allocation unless the rider leaves the disc inside its H3 cell or
   * reaches a pickup or drop geofence. Answers a {@link PositionStatus} code.
   * `heading` and `speed` may be NaN when unknown.
   */
  updateRiderPosition(
    id: RiderId, lat: number, lng: number, accuracy: number, heading: number, speed: number, at: number,
  ): PositionStatus {
    const r = this.#riders.get(id);
    if (r === undefined) return PositionStatus.UNKNOWN_RIDER;
    return this.#applyPosition(r, lat, lng, accuracy, heading, speed, at);
  }

  /** The rider's handle, for {@link updateRiderPositionOf}; undefined for a rider the engine does not know. */
  riderHandle(id: RiderId): RiderHandle | undefined {
    return this.#riders.get(id) as RiderHandle | undefined;
  }

  /**
   * {@link updateRiderPosition} through a handle from {@link riderHandle}
   * (a connection's hot path: no lookup by id). A handle of another engine
   * answers UNKNOWN_RIDER.
   */
  updateRiderPositionOf(
    h: RiderHandle, lat: number, lng: number, accuracy: number, heading: number, speed: number, at: number,
  ): PositionStatus {
    const r = h as unknown as RiderRecord;
    if (r.table !== this.#riderTable) return PositionStatus.UNKNOWN_RIDER;
    return this.#applyPosition(r, lat, lng, accuracy, heading, speed, at);
  }

  #applyPosition(
    r: RiderRecord, lat: number, lng: number, accuracy: number, heading: number, speed: number, at: number,
  ): PositionStatus {
    // Comparisons, not Number.isFinite calls, keep this cheap; NaN heading and speed mean unknown.
    if (
      !isLatitude(lat) || !isLongitude(lng) || !(at > 0 && at < Infinity) || !(accuracy >= 0 && accuracy < Infinity) ||
      speed < 0 || speed === Infinity || heading < 0 || heading >= 360
    ) {
      return PositionStatus.INVALID;
    }
    const d = r.table.data;
    const b = r.base;
    if (at <= d[b + Col.POS_AT]!) return PositionStatus.OUT_OF_ORDER;
    const now = this.#clock.now();
    if (now - at > this.config.positionStaleMs) return PositionStatus.STALE;
    // Accepting a time far ahead would refuse every real position after it as out of order.
    if (at - now > this.config.maxClockSkewMs) return PositionStatus.FUTURE;
    d[b + Col.LAT] = lat;
    d[b + Col.LNG] = lng;
    d[b + Col.ACCURACY] = accuracy;
    d[b + Col.HEADING] = heading;
    d[b + Col.SPEED] = speed;
    d[b + Col.POS_AT] = at;
    if (!(fastDistanceM(lat, lng, d[b + Col.DISC_LAT]!, d[b + Col.DISC_LNG]!) < d[b + Col.DISC_R]!)) this.#relocate(r);
    const tLat = d[b + Col.TARGET_LAT]!;
    if (tLat === tLat && fastDistanceM(lat, lng, tLat, d[b + Col.TARGET_LNG]!) < this.config.arrivalRadiusM) this.#arrived(r);
    return PositionStatus.APPLIED;
  }

  // ─── Orders ──────────────────────────────────────────────────────────────

  /** Places an order at a restaurant; answers its id. */
  placeOrder(cmd: PlaceOrder): Result<OrderId> {
    if (cmd.orderId !== undefined && !isIdString(cmd.orderId)) return reject('INVALID_ARGUMENT', 'orderId must be a UUID or a slug');
    if (!isIdString(cmd.customerId)) return reject('INVALID_ARGUMENT', 'customerId must be a UUID or a slug');
    if (!isLatLng(cmd.drop)) return reject('INVALID_ARGUMENT', 'drop must have lat in [-90, 90] and lng in [-180, 180]');
    const rest = this.#restaurants.get(cmd.restaurantId);
    if (!rest) return reject('RESTAURANT_NOT_FOUND', `no restaurant ${cmd.restaurantId}`);
    if (rest.state === 'closed') return reject('RESTAURANT_CLOSED', `restaurant ${rest.id} is closed`);
    if (rest.state === 'busy') return reject('RESTAURANT_BUSY', `restaurant ${rest.id} is not taking orders right now`);
    if (rest.openOrders >= rest.capacity) return reject('RESTAURANT_AT_CAPACITY', `restaurant ${rest.id} has ${rest.openOrders} open orders`);
    const distance = fastDistanceM(rest.location.lat, rest.location.lng, cmd.drop.lat, cmd.drop.lng);
    if (distance > this.config.maxDeliveryDistanceM) {
      return reject('OUT_OF_SERVICE_AREA', `drop is ${Math.round(distance)} m from the restaurant; the limit is ${this.config.maxDeliveryDistanceM} m`);
    }
    const id = cmd.orderId ?? (seededUuid(this.#seed, this.#idCounter++) as OrderId);
    if (this.#orders.has(id)) return reject('ORDER_EXISTS', `order ${id} exists`);
    const now = this.#clock.now();
    const paid = cmd.paid === true;
    const input = {
      paid,
      paymentExpiresAt: paid ? 0 : now + this.config.paymentTimeoutMs,
      restaurantAcceptBy: paid ? now + this.config.restaurantAcceptTimeoutMs : 0,
    };
    const snap = this.#orderStep.initial(input);
    const o = new OrderRecord({
      id, customerId: cmd.customerId as CustomerId, restaurantId: rest.id, pickup: rest.location,
      drop: { lat: cmd.drop.lat, lng: cmd.drop.lng }, pickupCell: rest.cell, placedAt: now,
      promisedAt: now + this.config.promiseMs, expiresAt: now + this.config.orderLifetimeMs,
      snap, state: stateKey(snap.value) as OrderState,
    });
    o.shard = rest.shard;
    o.shard!.orders.set(id, o);
    this.#orders.set(id, o);
    rest.openOrders++;
    this.#emit('order', o, {
      type: 'order_placed', customerId: o.customerId, restaurantId: o.restaurantId, pickup: o.pickup, drop: o.drop,
      paid, paymentExpiresAt: input.paymentExpiresAt, promisedAt: o.promisedAt,
    });
    this.#syncOrderDeadlines(o);
    return ok(id);
  }

  confirmPayment(orderId: OrderId): Result<null> {
    const restaurantAcceptBy = this.#clock.now() + this.config.restaurantAcceptTimeoutMs;
    return this.#orderCommand(orderId, { type: 'PAYMENT_CONFIRMED', restaurantAcceptBy }, (o) => {
      this.#emit('order', o, { type: 'order_payment_confirmed', restaurantAcceptBy });
    });
  }

  failPayment(orderId: OrderId): Result<null> {
    return this.#cancelVia(orderId, { type: 'PAYMENT_FAILED' }, 'system', CancelReason.PAYMENT_FAILED);
  }

  /**
   * The restaurant accepts and says how long cooking takes. The order becomes
   * dispatchable when a rider leaving then would arrive as the food is ready.
   */
  restaurantAccept(orderId: OrderId, opts: { restaurantId?: RestaurantId; prepMinutes?: number } = {}): Result<null> {
    const o = this.#orders.get(orderId);
    if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
    if (opts.restaurantId !== undefined && opts.restaurantId !== o.restaurantId) return reject('RESTAURANT_NOT_OWNER', `order ${orderId} is not for restaurant ${opts.restaurantId}`);
    const prep = opts.prepMinutes ?? this.#restaurants.get(o.restaurantId)?.prepMinutes ?? 15;
    if (!(prep >= 0 && prep <= 240)) return reject('INVALID_ARGUMENT', 'prepMinutes must be in [0, 240]');
    const now = this.#clock.now();
    const readyAt = now + prep * 60_000;
    const dispatchAt = Math.max(now, readyAt - this.config.assumedPickupEtaMs);
    const res = this.#orderCommand(orderId, { type: 'RESTAURANT_ACCEPT', dispatchAt }, (oo) => {
      oo.prepMinutes = prep;
      oo.readyAt = readyAt;
      this.#emit('order', oo, { type: 'order_accepted', prepMinutes: prep, readyAt, dispatchAt });
    });
    if (res.ok && dispatchAt <= now) this.#startDispatch(o);
    return res;
  }

  restaurantReject(orderId: OrderId, opts: { restaurantId?: RestaurantId; reason?: string } = {}): Result<null> {
    const o = this.#orders.get(orderId);
    if (o && opts.restaurantId !== undefined && opts.restaurantId !== o.restaurantId) return reject('RESTAURANT_NOT_OWNER', `order ${orderId} is not for restaurant ${opts.restaurantId}`);
    return this.#cancelVia(orderId, { type: 'RESTAURANT_REJECT' }, 'restaurant', opts.reason ?? CancelReason.RESTAURANT_REJECTED);
  }

  /** Food is ready. An order still waiting for its dispatch time is dispatched now. */
  foodReady(orderId: OrderId, opts: { restaurantId?: RestaurantId } = {}): Result<null> {
    const o = this.#orders.get(orderId);
    if (o && opts.restaurantId !== undefined && opts.restaurantId !== o.restaurantId) return reject('RESTAURANT_NOT_OWNER', `order ${orderId} is not for restaurant ${opts.restaurantId}`);
    if (o?.snap.context.foodReady) return reject('ORDER_INVALID_TRANSITION', `order ${orderId} is already marked ready`);
    const res = this.#orderCommand(orderId, { type: 'FOOD_READY' }, (oo) => this.#emit('order', oo, { type: 'order_food_ready' }));
    if (res.ok && o?.state === 'preparing') this.#startDispatch(o);
    return res;
  }

  acceptOffer(riderId: RiderId, orderId: OrderId): Result<null> {
    const check = this.#checkOffer(riderId, orderId);
    if (!check.ok) return check;
    const { r, o } = check.value;
    const offerId = o.snap.context.offerId!;
    this.#stepOrder(o, { type: 'ACCEPT', riderId });
    this.#stepRider(r, { type: 'ACCEPT', orderId });
    r.accepts++;
    r.targetLat = o.pickup.lat;
    r.targetLng = o.pickup.lng;
    this.#emit('order', o, { type: 'order_assigned', riderId, offerId });
    this.#emit('rider', r, { type: 'rider_assigned', orderId });
    this.#syncOrderDeadlines(o);
    return OK;
  }

  declineOffer(riderId: RiderId, orderId: OrderId): Result<null> {
    const check = this.#checkOffer(riderId, orderId);
    if (!check.ok) return check;
    const { r, o } = check.value;
    r.declines++;
    this.#endOffer(o, r, 'declined', { type: 'DECLINE', riderId });
    return OK;
  }

  pickedUp(riderId: RiderId, orderId: OrderId): Result<null> {
    const check = this.#checkHolder(riderId, orderId, 'assigned');
    if (!check.ok) return check;
    const { r, o } = check.value;
    this.#stepOrder(o, { type: 'PICKED_UP', riderId, at: this.#clock.now() });
    this.#stepRider(r, { type: 'PICKED_UP', orderId });
    const rest = this.#restaurants.get(o.restaurantId);
    if (rest) rest.openOrders--;
    r.targetLat = o.drop.lat;
    r.targetLng = o.drop.lng;
    this.#emit('order', o, { type: 'order_picked_up', riderId });
    this.#emit('rider', r, { type: 'rider_picked_up', orderId });
    this.#syncOrderDeadlines(o);
    return OK;
  }

  delivered(riderId: RiderId, orderId: OrderId): Result<null> {
    const check = this.#checkHolder(riderId, orderId, 'picked_up');
    if (!check.ok) return check;
    const { r, o } = check.value;
    this.#stepOrder(o, { type: 'DELIVERED', riderId });
    this.#stepRider(r, { type: 'DELIVERED', orderId });
    r.delivered++;
    r.idleSince = this.#clock.now();
    r.targetLat = NaN;
    r.targetLng = NaN;
    o.endedAt = this.#clock.now();
    this.#emit('order', o, { type: 'order_delivered', riderId });
    this.#emit('rider', r, { type: 'rider_delivered', orderId });
    this.#syncOrderDeadlines(o);
    this.#syncIndex(r);
    return OK;
  }

  /**
   * Cancels an order. Customers may cancel until the restaurant accepts;
   * restaurants until pickup; admins and the engine itself at any live stage.
   */
  cancelOrder(cmd: CancelOrder): Result<null> {
    const o = this.#orders.get(cmd.orderId);
    if (!o) return reject('ORDER_NOT_FOUND', `no order ${cmd.orderId}`);
    if (!Object.hasOwn(DEFAULT_CANCEL_REASON, cmd.by)) return reject('INVALID_ARGUMENT', 'by must be customer, restaurant, admin or system');
    if (TERMINAL_ORDER_STATES.has(o.state)) return reject('ORDER_INVALID_TRANSITION', `order ${o.id} is already ${o.state}`);
    const res = this.#cancelVia(cmd.orderId, { type: 'CANCEL', by: cmd.by }, cmd.by, cmd.reason ?? DEFAULT_CANCEL_REASON[cmd.by]);
    return res.ok ? res : reject('ORDER_CANCEL_NOT_ALLOWED', `a ${cmd.by} may not cancel an order that is ${o.state}`);
  }

  /**
   * The answer of an external candidate source (see
   * {@link EngineOptions.externalCandidates}): scores exactly `riderIds` with
   * the engine's scoring and offers the order to the best of them, as a ring
   * search would have. Riders who are unknown, not available, stale, too far
   * or who passed on the order are skipped. Answers the rider offered, or null
   * when none would do (the order then waits for its retry, or is given up past
   * its give-up time, exactly as after an empty ring search). Works in either
   * mode; the order must be searching. `onMatch` times this call alone.
   */
  offerFromCandidates(orderId: OrderId, riderIds: readonly string[]): Result<RiderId | null> {
    const t0 = this.#stopwatch.nowMicros();
    const o = this.#orders.get(orderId);
    if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
    if (o.state !== 'dispatching.searching') return reject('ORDER_INVALID_TRANSITION', `order ${orderId} is ${o.state}, not searching for a rider`);
    const riders: RiderRecord[] = [];
    for (const id of riderIds) {
      const r = this.#riders.get(id as RiderId);
      if (r !== undefined) riders.push(r);
    }
    const now = this.#clock.now();
    const match = this.#dispatcher.bestAmong(o, riders, now);
    if (match) {
      this.#offer(o, match, now, t0);
      return ok(match.rider.id);
    }
    this.#noCandidate(o, now);
    return ok(null);
  }

  // ─── Queries ─────────────────────────────────────────────────────────────

  /**
   * Whether the rider is in the available index (online, idle, connected,
   * positioned): what an external candidate store must mirror. No allocation;
   * cheap enough to ask after every position.
   */
  isRiderAvailable(id: RiderId): boolean {
    const r = this.#riders.get(id);
    return r !== undefined && r.indexCell !== null;
  }

  getOrder(id: OrderId): Result<OrderView> {
    const o = this.#orders.get(id);
    if (!o) return reject('ORDER_NOT_FOUND', `no order ${id}`);
    const c = o.snap.context;
    return ok({
      id: o.id, state: o.state, customerId: o.customerId, restaurantId: o.restaurantId,
      riderId: (c.riderId as RiderId | null), pickup: o.pickup, drop: o.drop, paid: c.paid, foodReady: c.foodReady,
      placedAt: o.placedAt, promisedAt: o.promisedAt, readyAt: o.readyAt || null,
      offer: o.state === 'dispatching.offered'
        ? { riderId: c.riderId as RiderId, offerId: c.offerId!, expiresAt: c.offerExpiresAt, payout: c.payout ?? null }
        : null,
      payout: c.riderId !== null && PAID_ORDER_STATES.has(o.state) ? c.payout ?? null : null,
      offersMade: c.offers,
    });
  }

  getRider(id: RiderId): Result<RiderView> {
    const r = this.#riders.get(id);
    if (!r) return reject('RIDER_NOT_FOUND', `no rider ${id}`);
    return ok({
      id: r.id, state: r.state, connected: r.snap.context.graceUntil === 0,
      position: r.posAt > 0 ? { lat: r.lat, lng: r.lng, at: r.posAt, heading: Number.isNaN(r.heading) ? null : r.heading, speed: Number.isNaN(r.speed) ? null : r.speed } : null,
      cell: r.cell, orderId: r.snap.context.orderId as OrderId | null, available: r.indexCell !== null,
      stats: { offers: r.offers, accepts: r.accepts, declines: r.declines, expiries: r.expiries, delivered: r.delivered },
    });
  }

  /**
   * The rider's live offer or current job (null when it holds neither), from
   * the order it names: what a rider app that lost its connection must be told
   * again. Distance and ETA to the pickup are from the rider's last position.
   */
  getRiderJob(id: RiderId): Result<RiderJobView | null> {
    const r = this.#riders.get(id);
    if (!r) return reject('RIDER_NOT_FOUND', `no rider ${id}`);
    const orderId = r.snap.context.orderId as OrderId | null;
    const o = orderId === null ? undefined : this.#orders.get(orderId);
    if (o === undefined) return ok(null);
    const c = o.snap.context;
    if (c.riderId !== id) return ok(null);
    const stage = o.state === 'dispatching.offered' ? 'offered' : o.state === 'assigned' || o.state === 'picked_up' ? o.state : null;
    if (stage === null) return ok(null);
    const d = r.posAt > 0 ? fastDistanceM(r.lat, r.lng, o.pickup.lat, o.pickup.lng) : null;
    return ok({
      orderId: o.id, offerId: c.offerId ?? '', stage, expiresAt: stage === 'offered' ? c.offerExpiresAt : null,
      pickup: o.pickup, drop: o.drop,
      pickupDistanceM: d === null ? null : Math.round(d), pickupEtaS: d === null ? null : Math.round(this.#dispatcher.etaS(d)),
      payout: c.payout ?? null, foodReady: c.foodReady, pickedUpAt: c.pickedUpAt > 0 ? c.pickedUpAt : null,
    });
  }

  getRestaurant(id: RestaurantId): Result<RestaurantView> {
    const r = this.#restaurants.get(id);
    if (!r) return reject('RESTAURANT_NOT_FOUND', `no restaurant ${id}`);
    return ok({ id: r.id, state: r.state, location: r.location, prepMinutes: r.prepMinutes, capacity: r.capacity, openOrders: r.openOrders });
  }

  /** Counts for progress lines and metrics. */
  stats(): { riders: number; ridersOnline: number; ridersAvailable: number; orders: number; ordersLive: number; shards: number; deadlines: number } {
    let online = 0;
    for (const r of this.#riders.values()) if (r.state !== 'offline') online++;
    let live = 0;
    for (const o of this.#orders.values()) if (!TERMINAL_ORDER_STATES.has(o.state)) live++;
    let available = 0;
    for (const s of this.#shards.values()) available += s.available.size;
    return {
      riders: this.#riders.size, ridersOnline: online, ridersAvailable: available, orders: this.#orders.size,
      ordersLive: live, shards: this.#shards.size, deadlines: this.#deadlines.size,
    };
  }

  /** Read-only access to the actors, for invariant checks, snapshots and tools in this package. */
  get internals(): Internals {
    return { riders: this.#riders, orders: this.#orders, restaurants: this.#restaurants, shards: this.#shards };
  }

  get now(): number {
    return this.#clock.now();
  }

  // ─── Snapshot and restore ────────────────────────────────────────────────

  /** The whole engine as plain JSON-safe data. */
  toSnapshot(): EngineSnapshot {
    return {
      format: SNAPSHOT_FORMAT,
      at: this.#clock.now(),
      seed: this.#seed,
      idCounter: this.#idCounter,
      restaurants: [...this.#restaurants.values()].map((r) => this.#restaurantRow(r)),
      riders: [...this.#riders.values()].map((r) => this.#riderRow(r)),
      orders: [...this.#orders.values()].map((o) => this.#orderRow(o)),
    };
  }

  /**
   * One actor's row of {@link toSnapshot} as it is now, or undefined when the
   * engine does not hold it (never existed, or an ended order past retention).
   * Write-behind stores it beside the actor's events so that recovery is a
   * snapshot load, not a replay.
   */
  snapshotRow(aggregate: AggregateKind, id: string): RestaurantSnapshotRow | RiderSnapshotRow | OrderSnapshotRow | undefined {
    if (aggregate === 'order') {
      const o = this.#orders.get(id as OrderId);
      return o && this.#orderRow(o);
    }
    if (aggregate === 'rider') {
      const r = this.#riders.get(id as RiderId);
      return r && this.#riderRow(r);
    }
    const r = this.#restaurants.get(id as RestaurantId);
    return r && this.#restaurantRow(r);
  }

  /** How many ids the seeded generator has handed out; a restored engine goes on from here. */
  get idCounter(): number {
    return this.#idCounter;
  }

  /** The seed of generated ids. */
  get seed(): number {
    return this.#seed;
  }

  #restaurantRow(r: RestaurantRecord): RestaurantSnapshotRow {
    return {
      id: r.id, seq: r.seq, state: r.state, location: r.location, prepMinutes: r.prepMinutes,
      capacity: r.capacity, openOrders: r.openOrders,
    };
  }

  #riderRow(r: RiderRecord): RiderSnapshotRow {
    const num = (x: number) => (Number.isNaN(x) ? null : x);
    return {
      id: r.id, seq: r.seq, value: r.snap.value, context: r.snap.context, capacity: r.capacity,
      position: r.posAt > 0 ? [r.lat, r.lng, r.accuracy, num(r.heading), num(r.speed), r.posAt] as const : null,
      target: Number.isNaN(r.targetLat) ? null : [r.targetLat, r.targetLng] as const,
      idleSince: r.idleSince, stats: [r.offers, r.accepts, r.declines, r.expiries, r.delivered] as const,
    };
  }

  #orderRow(o: OrderRecord): OrderSnapshotRow {
    return {
      id: o.id, seq: o.seq, value: o.snap.value, context: o.snap.context, customerId: o.customerId,
      restaurantId: o.restaurantId, drop: o.drop, placedAt: o.placedAt, promisedAt: o.promisedAt,
      expiresAt: o.expiresAt, slaBreached: o.slaBreached, prepMinutes: o.prepMinutes, readyAt: o.readyAt, endedAt: o.endedAt,
    };
  }

  /**
   * Rebuilds an engine from {@link toSnapshot} output (after a JSON round trip
   * or not) and re-arms every pending deadline from the actors' state. The
   * clock must not be earlier than the snapshot; deadlines already past fire
   * at the clock's next tick. The seed comes from the snapshot.
   */
  static restore(snapshot: EngineSnapshot, options: EngineOptions): Engine {
    if (snapshot.format !== SNAPSHOT_FORMAT) throw new TypeError(`unsupported snapshot format ${String(snapshot.format)}; expected ${SNAPSHOT_FORMAT}`);
    if (options.clock.now() < snapshot.at) throw new RangeError(`clock (${options.clock.now()}) is earlier than the snapshot (${snapshot.at})`);
    const e = new Engine({ ...options, seed: snapshot.seed });
    e.#load(snapshot);
    return e;
  }

  #load(snap: EngineSnapshot): void {
    this.#idCounter = snap.idCounter;
    for (const row of snap.restaurants) {
      const cell = cellOf(row.location.lat, row.location.lng, this.config.indexResolution);
      const r = new RestaurantRecord({
        id: row.id, location: row.location, cell, snap: this.#restaurantStep.resolve(row.state, {}), state: row.state,
        prepMinutes: row.prepMinutes, capacity: row.capacity,
      });
      r.seq = row.seq;
      r.openOrders = row.openOrders;
      r.shard = this.#shardFor(cell);
      r.shard.restaurants.set(r.id, r);
      this.#restaurants.set(r.id, r);
      this.#dispatcher.warm(cell, WARM_RINGS);
    }
    for (const row of snap.riders) {
      const snapshot = this.#riderStep.resolve(row.value as never, row.context);
      const r = new RiderRecord(row.id, this.#riderTable, snapshot, stateKey(snapshot.value) as RiderState, row.capacity);
      r.seq = row.seq;
      r.idleSince = row.idleSince;
      [r.offers, r.accepts, r.declines, r.expiries, r.delivered] = row.stats;
      if (row.target) [r.targetLat, r.targetLng] = row.target;
      this.#riders.set(r.id, r);
      if (row.position) {
        const [lat, lng, accuracy, heading, speed, at] = row.position;
        r.lat = lat;
        r.lng = lng;
        r.accuracy = accuracy;
        r.heading = heading ?? NaN;
        r.speed = speed ?? NaN;
        r.posAt = at;
        this.#relocate(r);
      }
      this.#syncIndex(r);
      this.#deadlines.set('grace', r.id, r.snap.context.graceUntil);
    }
    for (const row of snap.orders) {
      const rest = this.#restaurants.get(row.restaurantId);
      if (!rest) throw new TypeError(`snapshot order ${row.id} names missing restaurant ${row.restaurantId}`);
      const snapshot = this.#orderStep.resolve(row.value as never, row.context);
      const o = new OrderRecord({
        id: row.id, customerId: row.customerId, restaurantId: row.restaurantId, pickup: rest.location, drop: row.drop,
        pickupCell: rest.cell, placedAt: row.placedAt, promisedAt: row.promisedAt, expiresAt: row.expiresAt,
        snap: snapshot, state: stateKey(snapshot.value) as OrderState,
      });
      o.seq = row.seq;
      o.slaBreached = row.slaBreached;
      o.prepMinutes = row.prepMinutes;
      o.readyAt = row.readyAt;
      o.endedAt = row.endedAt;
      o.shard = rest.shard;
      o.shard!.orders.set(o.id, o);
      this.#orders.set(o.id, o);
      this.#syncOrderDeadlines(o);
    }
  }

  // ─── Internals: stepping ─────────────────────────────────────────────────

  #stepOrder(o: OrderRecord, event: OrderMachineEvent): boolean {
    const next = this.#orderStep.step(o.snap, event);
    if (!next) return false;
    o.snap = next;
    o.state = stateKey(next.value) as OrderState;
    return true;
  }

  #stepRider(r: RiderRecord, event: RiderMachineEvent): boolean {
    const next = this.#riderStep.step(r.snap, event);
    if (!next) return false;
    r.snap = next;
    r.state = stateKey(next.value) as RiderState;
    return true;
  }

  #riderCommand(id: RiderId, event: RiderMachineEvent, then: (r: RiderRecord) => void): Result<null> {
    const r = this.#riders.get(id);
    if (!r) return reject('RIDER_NOT_FOUND', `no rider ${id}`);
    if (!this.#stepRider(r, event)) return reject('RIDER_INVALID_TRANSITION', `${event.type} is not allowed for rider ${id} in state ${r.state}${r.snap.context.graceUntil ? ' (disconnected)' : ''}`);
    then(r);
    this.#syncIndex(r);
    return OK;
  }

  #orderCommand(id: OrderId, event: OrderMachineEvent, then: (o: OrderRecord) => void): Result<null> {
    const o = this.#orders.get(id);
    if (!o) return reject('ORDER_NOT_FOUND', `no order ${id}`);
    if (!this.#stepOrder(o, event)) return reject('ORDER_INVALID_TRANSITION', `${event.type} is not allowed for order ${id} in state ${o.state}`);
    then(o);
    this.#syncOrderDeadlines(o);
    return OK;
  }

  #checkOffer(riderId: RiderId, orderId: OrderId): Result<{ r: RiderRecord; o: OrderRecord }> {
    const r = this.#riders.get(riderId);
    if (!r) return reject('RIDER_NOT_FOUND', `no rider ${riderId}`);
    const o = this.#orders.get(orderId);
    if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
    if (o.state === 'dispatching.offered' && o.snap.context.riderId === riderId && r.snap.context.orderId === orderId) return ok({ r, o });
    if (o.snap.context.passed.includes(riderId)) return reject('OFFER_EXPIRED', `the offer of order ${orderId} to rider ${riderId} has ended`);
    return reject('OFFER_NOT_FOUND', `rider ${riderId} holds no live offer for order ${orderId}`);
  }

  #checkHolder(riderId: RiderId, orderId: OrderId, state: OrderState): Result<{ r: RiderRecord; o: OrderRecord }> {
    const r = this.#riders.get(riderId);
    if (!r) return reject('RIDER_NOT_FOUND', `no rider ${riderId}`);
    const o = this.#orders.get(orderId);
    if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
    const holder = o.state === 'assigned' || o.state === 'picked_up' ? o.snap.context.riderId : null;
    if (holder !== riderId) return reject('RIDER_NOT_ASSIGNED', `order ${orderId} is not assigned to rider ${riderId}`);
    if (o.state !== state) return reject('ORDER_INVALID_TRANSITION', `order ${orderId} is ${o.state}, not ${state}`);
    return ok({ r, o });
  }

  // ─── Internals: dispatch ─────────────────────────────────────────────────

  #startDispatch(o: OrderRecord): void {
    const giveUpAt = this.#clock.now() + this.config.dispatchGiveUpMs;
    if (!this.#stepOrder(o, { type: 'DISPATCH_DUE', giveUpAt })) return;
    this.#emit('order', o, { type: 'order_dispatchable', giveUpAt });
    this.#tryOffer(o);
  }

  /**
   * Offers a searching order to the best rider, or schedules another search, or
   * gives up. Match latency runs from here (the order is dispatchable) to the
   * offer event leaving the engine. In external candidates mode it asks the
   * source instead, and {@link offerFromCandidates} goes on from there.
   */
  #tryOffer(o: OrderRecord): void {
    const t0 = this.#stopwatch.nowMicros();
    const now = this.#clock.now();
    if (this.#external !== undefined) {
      this.#askExternal(o, now);
      return;
    }
    const match = this.#dispatcher.findBest(o, now);
    if (match) this.#offer(o, match, now, t0);
    else this.#noCandidate(o, now);
  }

  /** Makes the exclusive offer of `match` and reports the match latency since `t0`. */
  #offer(o: OrderRecord, match: Match, now: number, t0: number): void {
    const r = match.rider;
    const ctx = o.snap.context;
    const offerId = `${o.id}.${ctx.offers + 1}`;
    const expiresAt = now + this.config.offerTimeoutMs;
    const payout = riderPayout(
      this.config.payout, fastDistanceM(o.pickup.lat, o.pickup.lng, o.drop.lat, o.drop.lng), match.distanceM, this.config.detourFactor,
    );
    this.#stepOrder(o, { type: 'OFFER', riderId: r.id, offerId, expiresAt, payout });
    this.#stepRider(r, { type: 'OFFER', orderId: o.id, offerId });
    r.offers++;
    this.#syncIndex(r);
    this.#emit('order', o, {
      type: 'order_offered', riderId: r.id, offerId, expiresAt, pickupDistanceM: Math.round(match.distanceM),
      pickupEtaS: Math.round(match.etaS), pickup: o.pickup, drop: o.drop, payout,
    });
    this.#emit('rider', r, { type: 'rider_offered', orderId: o.id, offerId, expiresAt });
    this.#syncOrderDeadlines(o);
    this.#onMatch?.({
      orderId: o.id, riderId: r.id, micros: this.#stopwatch.nowMicros() - t0, candidates: match.candidates,
      ring: match.ring, distanceM: match.distanceM,
    });
  }

  /** No rider for a searching order: give up past its give-up time, else search again later. */
  #noCandidate(o: OrderRecord, now: number): void {
    const giveUpAt = o.snap.context.giveUpAt;
    if (now >= giveUpAt) {
      this.#cancelVia(o.id, { type: 'GIVE_UP' }, 'system', CancelReason.NO_RIDER);
      return;
    }
    const retryAt = Math.min(now + this.config.dispatchRetryMs, giveUpAt);
    this.#stepOrder(o, { type: 'NO_CANDIDATE', retryAt });
    this.#emit('order', o, { type: 'order_no_rider', candidates: 0, retryAt });
    this.#syncOrderDeadlines(o);
  }

  /**
   * External candidates mode: arms the retry deadline (so an answer that never
   * comes only delays the order) and asks the source. Past its give-up time the
   * order is cancelled instead, so a silent source cannot keep it forever.
   */
  #askExternal(o: OrderRecord, now: number): void {
    const ctx = o.snap.context;
    if (now >= ctx.giveUpAt) {
      this.#cancelVia(o.id, { type: 'GIVE_UP' }, 'system', CancelReason.NO_RIDER);
      return;
    }
    // NO_CANDIDATE only sets retryAt; no event, since nothing was searched yet.
    this.#stepOrder(o, { type: 'NO_CANDIDATE', retryAt: Math.min(now + this.config.dispatchRetryMs, ctx.giveUpAt) });
    this.#syncOrderDeadlines(o);
    try {
      this.#external!({ orderId: o.id, pickup: o.pickup, exclude: ctx.passed, maxDistanceM: this.config.maxPickupDistanceM, at: now });
    } catch (err) {
      this.#logger?.error(`external candidate request for order ${o.id} failed`, err);
    }
  }

  /** An offer ended without acceptance: free the rider and offer the order to the next one. */
  #endOffer(o: OrderRecord, r: RiderRecord, outcome: 'declined' | 'expired', event: OrderMachineEvent): void {
    const offerId = o.snap.context.offerId!;
    this.#stepOrder(o, event);
    this.#stepRider(r, { type: 'OFFER_ENDED', orderId: o.id });
    this.#emit('order', o, { type: 'order_offer_ended', riderId: r.id, offerId, outcome });
    this.#emit('rider', r, { type: 'rider_offer_ended', orderId: o.id, offerId, outcome });
    this.#syncIndex(r);
    this.#tryOffer(o);
  }

  /** The rider went offline (asked, or its grace ran out) while holding `orderId` in state `before`. */
  #riderLeftJob(r: RiderRecord, before: RiderState, orderId: OrderId): void {
    const o = this.#orders.get(orderId);
    if (!o) return;
    r.targetLat = NaN;
    r.targetLng = NaN;
    if (before === 'online.offered') {
      const offerId = o.snap.context.offerId!;
      r.expiries++;
      this.#stepOrder(o, { type: 'OFFER_EXPIRED' });
      this.#emit('order', o, { type: 'order_offer_ended', riderId: r.id, offerId, outcome: 'withdrawn' });
      this.#emit('rider', r, { type: 'rider_offer_ended', orderId, offerId, outcome: 'withdrawn' });
      this.#tryOffer(o);
    } else if (before === 'online.delivering') {
      this.#cancelVia(o.id, { type: 'CANCEL', by: 'system' }, 'system', CancelReason.RIDER_LOST, r.id);
    } else {
      this.#stepOrder(o, { type: 'UNASSIGN', giveUpAt: this.#clock.now() + this.config.dispatchGiveUpMs });
      this.#emit('order', o, { type: 'order_unassigned', riderId: r.id, reason: 'rider_offline' });
      this.#emit('rider', r, { type: 'rider_released', orderId, reason: 'rider_offline' });
      this.#syncOrderDeadlines(o);
      this.#tryOffer(o);
    }
  }

  /**
   * Moves the order to cancelled through `event` and releases whatever rider
   * it held. `releasedRider` is given when the rider already left the job.
   */
  #cancelVia(orderId: OrderId, event: OrderMachineEvent, by: CancelledBy, reason: string, releasedRider?: RiderId): Result<null> {
    const o = this.#orders.get(orderId);
    if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
    const fromState = o.state;
    const ctx = o.snap.context;
    const riderId = (releasedRider ?? ctx.riderId) as RiderId | null;
    if (!this.#stepOrder(o, event)) return reject('ORDER_INVALID_TRANSITION', `${event.type} is not allowed for order ${orderId} in state ${fromState}`);
    o.endedAt = this.#clock.now();
    if (fromState !== 'picked_up') {
      const rest = this.#restaurants.get(o.restaurantId);
      if (rest) rest.openOrders--;
    }
    const r = riderId && !releasedRider ? this.#riders.get(riderId) : undefined;
    if (r && r.snap.context.orderId === orderId) {
      if (fromState === 'dispatching.offered') {
        this.#stepRider(r, { type: 'OFFER_ENDED', orderId });
        this.#emit('rider', r, { type: 'rider_offer_ended', orderId, offerId: ctx.offerId!, outcome: 'withdrawn' });
      } else {
        this.#stepRider(r, { type: 'RELEASE', orderId });
        r.idleSince = this.#clock.now();
        this.#emit('rider', r, { type: 'rider_released', orderId, reason: 'order_cancelled' });
      }
      r.targetLat = NaN;
      r.targetLng = NaN;
      this.#syncIndex(r);
    }
    this.#emit('order', o, {
      type: 'order_cancelled', by, reason, fromState, refundDue: ctx.paid, riderId: riderId ?? null,
    });
    this.#syncOrderDeadlines(o);
    return OK;
  }

  // ─── Internals: deadlines ────────────────────────────────────────────────

  #onDeadline(kind: DeadlineKind, id: string): void {
    try {
      this.#handleDeadline(kind, id);
    } catch (err) {
      this.#logger?.error(`deadline ${kind} of ${id} failed`, err);
    }
  }

  #handleDeadline(kind: DeadlineKind, id: string): void {
    if (kind === 'grace') {
      const r = this.#riders.get(id as RiderId);
      if (!r) return;
      const before = r.state;
      const orderId = r.snap.context.orderId as OrderId | null;
      if (!this.#stepRider(r, { type: 'GRACE_EXPIRED' })) return;
      this.#emit('rider', r, { type: 'rider_offline', reason: 'grace_expired' });
      this.#syncIndex(r);
      if (orderId) this.#riderLeftJob(r, before, orderId);
      return;
    }
    const o = this.#orders.get(id as OrderId);
    if (!o) return;
    switch (kind) {
      case 'payment':
        this.#cancelVia(o.id, { type: 'PAYMENT_EXPIRED' }, 'system', CancelReason.PAYMENT_EXPIRED);
        break;
      case 'restaurant':
        this.#cancelVia(o.id, { type: 'RESTAURANT_TIMEOUT' }, 'system', CancelReason.RESTAURANT_TIMEOUT);
        break;
      case 'dispatch':
        this.#startDispatch(o);
        break;
      case 'retry':
        if (o.state === 'dispatching.searching') this.#tryOffer(o);
        break;
      case 'offer': {
        const r = this.#riders.get(o.snap.context.riderId as RiderId);
        if (r) {
          r.expiries++;
          this.#endOffer(o, r, 'expired', { type: 'OFFER_EXPIRED' });
        }
        break;
      }
      case 'sla':
        o.slaBreached = true;
        this.#emit('order', o, { type: 'order_sla_breached', promisedAt: o.promisedAt });
        break;
      case 'expire':
        this.#cancelVia(o.id, { type: 'EXPIRE' }, 'system', CancelReason.ORDER_EXPIRED);
        break;
      case 'evict':
        this.#orders.delete(o.id);
        o.shard?.orders.delete(o.id);
        break;
    }
  }

  /** Arms exactly the deadlines the order's state calls for, from absolute times in its state. */
  #syncOrderDeadlines(o: OrderRecord): void {
    const c = o.snap.context;
    const s = o.state;
    const d = this.#deadlines;
    const live = !TERMINAL_ORDER_STATES.has(s);
    d.set('payment', o.id, s === 'awaiting_payment' ? c.paymentExpiresAt : 0);
    d.set('restaurant', o.id, s === 'awaiting_restaurant' ? c.restaurantAcceptBy : 0);
    d.set('dispatch', o.id, s === 'preparing' ? c.dispatchAt : 0);
    d.set('offer', o.id, s === 'dispatching.offered' ? c.offerExpiresAt : 0);
    d.set('retry', o.id, s === 'dispatching.searching' ? c.retryAt : 0);
    d.set('sla', o.id, live && !o.slaBreached ? o.promisedAt : 0);
    d.set('expire', o.id, live ? o.expiresAt : 0);
    d.set('evict', o.id, live ? 0 : o.endedAt + this.config.retentionMs);
  }

  // ─── Internals: space ────────────────────────────────────────────────────

  #parentOf(cell: H3Cell): H3Cell {
    let p = this.#parents.get(cell);
    if (p === undefined) {
      p = cellToParent(cell, this.config.shardResolution) as H3Cell;
      this.#parents.set(cell, p);
    }
    return p;
  }

  #shardFor(cell: H3Cell): Shard {
    const key = this.#parentOf(cell);
    let s = this.#shards.get(key);
    if (s === undefined) {
      s = new Shard(key);
      this.#shards.set(key, s);
    }
    return s;
  }

  /** The rider left the disc inside its cell: find its cell, and its shard if that changed. */
  #relocate(r: RiderRecord): void {
    const cell = cellOf(r.lat, r.lng, this.config.indexResolution);
    if (cell === r.cell) return;
    const disc = cellDisc(cell);
    r.cell = cell;
    r.discLat = disc.lat;
    r.discLng = disc.lng;
    r.discR = disc.radiusM;
    const shard = this.#shardFor(cell);
    if (shard !== r.shard) {
      r.shard?.riders.delete(r.id);
      shard.riders.set(r.id, r);
      r.shard = shard;
    }
    this.#syncIndex(r);
  }

  /** A rider is in the available index exactly when idle, connected and positioned. */
  #syncIndex(r: RiderRecord): void {
    const want = r.state === 'online.idle' && r.snap.context.graceUntil === 0 && r.cell !== null && r.shard !== null;
    if (r.indexCell !== null && (!want || r.indexCell !== r.cell)) {
      r.indexedIn!.available.remove(r);
      r.indexedIn = null;
    }
    if (want && r.indexCell === null) {
      r.shard!.available.add(r.cell!, r);
      r.indexedIn = r.shard;
    }
  }

  /** The rider entered the geofence of its next stop. */
  #arrived(r: RiderRecord): void {
    const orderId = r.snap.context.orderId as OrderId | null;
    r.targetLat = NaN;
    r.targetLng = NaN;
    if (!orderId) return;
    if (r.state === 'online.to_pickup' && this.#stepRider(r, { type: 'ARRIVED_PICKUP', orderId })) {
      this.#emit('rider', r, { type: 'rider_arrived_pickup', orderId });
    } else if (r.state === 'online.delivering') {
      this.#emit('rider', r, { type: 'rider_arrived_drop', orderId });
    }
  }

  // ─── Internals: events ───────────────────────────────────────────────────

  #emit(aggregate: 'order' | 'rider' | 'restaurant', rec: { readonly id: string; seq: number }, body: EventBody): void {
    const event = Object.assign({ type: body.type, aggregate, id: rec.id, seq: ++rec.seq, at: this.#clock.now() }, body) as EngineEvent;
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (err) {
        this.#logger?.error(`event listener failed on ${event.type}`, err);
      }
    }
  }
}
