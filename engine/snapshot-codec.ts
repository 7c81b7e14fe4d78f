import { type AggregateKind, type OrderId, type RestaurantId, type RiderId, VEHICLE_TYPES } from '../protocol/index.js';
import { addOrder } from './commands/order.js';
import { addRestaurant } from './commands/restaurant.js';
import type { EngineCore } from './core.js';
import { syncOrderDeadlines } from './deadline-rules.js';
import { cellOf } from './geo.js';
import type { OrderState } from './machines/order-machine.js';
import type { RiderContext, RiderState } from './machines/rider-machine.js';
import { stateKey } from './machines/step.js';
import { placeRider } from './positions.js';
import { OrderRecord, RestaurantRecord, type RiderSnapshot, RiderRecord } from './records.js';
import {
  type EngineSnapshot,
  type OrderSnapshotRow,
  type RestaurantSnapshotRow,
  type RiderSnapshotRow,
  SNAPSHOT_FORMAT,
} from './snapshot.js';

/** The whole engine as plain JSON-safe data. */
export function toSnapshot(core: EngineCore): EngineSnapshot {
  return {
    format: SNAPSHOT_FORMAT,
    at: core.now(),
    seed: core.seed,
    idCounter: core.idCounter,
    restaurants: [...core.restaurants.values()].map(restaurantRow),
    riders: [...core.riders.values()].map(riderRow),
    orders: [...core.orders.values()].map(orderRow),
  };
}

/** One actor's row as it is now, or undefined when the engine does not hold it. */
export function snapshotRow(
  core: EngineCore,
  aggregate: AggregateKind,
  id: string,
): RestaurantSnapshotRow | RiderSnapshotRow | OrderSnapshotRow | undefined {
  if (aggregate === 'order') {
    const o = core.orders.get(id as OrderId);
    return o && orderRow(o);
  }
  if (aggregate === 'rider') {
    const r = core.riders.get(id as RiderId);
    return r && riderRow(r);
  }
  const r = core.restaurants.get(id as RestaurantId);
  return r && restaurantRow(r);
}

function restaurantRow(r: RestaurantRecord): RestaurantSnapshotRow {
  return {
    id: r.id,
    seq: r.seq,
    state: r.state,
    location: r.location,
    prepMinutes: r.prepMinutes,
    capacity: r.capacity,
    openOrders: r.openOrders,
    ...(r.prepSamples > 0 || r.pickupEtaSamples > 0
      ? { kitchen: [r.prepBiasMin, r.prepSamples, r.pickupEtaS, r.pickupEtaSamples] as const }
      : {}),
  };
}

function riderRow(r: RiderRecord): RiderSnapshotRow {
  const num = (x: number) => (Number.isNaN(x) ? null : x);
  return {
    id: r.id,
    seq: r.seq,
    value: r.snap.value,
    context: r.snap.context,
    capacity: r.capacity,
    ...(r.vehicle === null ? {} : { vehicle: r.vehicle }),
    position: r.posAt > 0 ? ([r.lat, r.lng, r.accuracy, num(r.heading), num(r.speed), r.posAt] as const) : null,
    target: Number.isNaN(r.targetLat) ? null : ([r.targetLat, r.targetLng] as const),
    idleSince: r.idleSince,
    stats: [r.offers, r.accepts, r.declines, r.expiries, r.delivered] as const,
    ...(r.review === 'approved' ? {} : { review: [r.review, r.reviewReason] as const }),
    ...(r.away === null ? {} : { away: r.away }),
  };
}

function orderRow(o: OrderRecord): OrderSnapshotRow {
  return {
    id: o.id,
    seq: o.seq,
    value: o.snap.value,
    context: o.snap.context,
    customerId: o.customerId,
    restaurantId: o.restaurantId,
    drop: o.drop,
    placedAt: o.placedAt,
    promisedAt: o.promisedAt,
    expiresAt: o.expiresAt,
    slaBreached: o.slaBreached,
    prepMinutes: o.prepMinutes,
    acceptedAt: o.acceptedAt,
    readyAt: o.readyAt,
    ...(o.offerEtaS > 0 ? { offerEtaS: o.offerEtaS } : {}),
    endedAt: o.endedAt,
  };
}

/** Loads a snapshot into an empty engine state and re-arms every pending deadline from the actors' state. */
export function loadSnapshot(core: EngineCore, snap: EngineSnapshot): void {
  loadActors(core, snap);
  armDeadlines(core);
}

/** Loads a snapshot's actors into an empty engine, arming nothing: a read mirror (engine/mirror.ts) stops here. */
export function loadActors(core: EngineCore, snap: EngineSnapshot): void {
  core.idCounter = snap.idCounter;
  for (const row of snap.restaurants) restaurantFromRow(core, row);
  for (const row of snap.riders) riderFromRow(core, row);
  for (const row of snap.orders) {
    const rest = core.restaurants.get(row.restaurantId);
    if (!rest) throw new TypeError(`snapshot order ${row.id} names missing restaurant ${row.restaurantId}`);
    orderFromRow(core, row, rest);
  }
  // The stacking index names riders by their lead order's restaurant: the orders are loaded now.
  for (const r of core.riders.values()) if (r.capacity > 1) core.stacks.sync(r, core.orders);
}

/** Arms every deadline the actors' state calls for (those due at one instant fire in one order however armed). */
function armDeadlines(core: EngineCore): void {
  for (const r of core.riders.values()) core.deadlines.set('grace', r.id, r.snap.context.graceUntil);
  for (const o of core.orders.values()) syncOrderDeadlines(core, o);
}

// ─── One row to one record: a snapshot load, and a read mirror absorbing rows ──

const NO_KITCHEN = [0, 0, 0, 0] as const;
const NO_TARGET = [NaN, NaN] as const;
const APPROVED = ['approved', ''] as const;

/** A new restaurant from its row, placed in its shard. */
export function restaurantFromRow(core: EngineCore, row: RestaurantSnapshotRow): RestaurantRecord {
  const snap = core.restaurantStep.resolve(row.state, {});
  const r = new RestaurantRecord({
    id: row.id,
    location: row.location,
    cell: cellOf(row.location.lat, row.location.lng, core.config.indexResolution),
    snap,
    state: row.state,
    prepMinutes: row.prepMinutes,
    capacity: row.capacity,
  });
  writeRestaurantRow(core, r, row, snap);
  r.openOrders = row.openOrders;
  addRestaurant(core, r);
  return r;
}

/**
 * Writes a restaurant's row into its record, in place; its place is fixed at
 * registration. Not `openOrders`: placing an order and a pickup change it with
 * no restaurant event, so the count is not ordered by the row's seq. A new
 * record takes it from its row, a read mirror counts it from its orders.
 */
export function writeRestaurantRow(
  core: EngineCore,
  r: RestaurantRecord,
  row: RestaurantSnapshotRow,
  snap = core.restaurantStep.resolve(row.state, {}),
): void {
  r.snap = snap;
  r.state = row.state;
  r.seq = row.seq;
  r.prepMinutes = row.prepMinutes;
  r.capacity = row.capacity;
  [r.prepBiasMin, r.prepSamples, r.pickupEtaS, r.pickupEtaSamples] = row.kitchen ?? NO_KITCHEN;
}

function riderSnapshot(core: EngineCore, row: RiderSnapshotRow): RiderSnapshot {
  // Rows written before stacking have no stack fields.
  const context: Partial<RiderContext> = row.context;
  return core.riderStep.resolve(row.value as never, {
    ...context,
    stack: context.stack ?? [],
    stackOffer: context.stackOffer ?? null,
  });
}

/** A new rider from its row, in its shard and, when available, its index. */
export function riderFromRow(core: EngineCore, row: RiderSnapshotRow): RiderRecord {
  const snap = riderSnapshot(core, row);
  const r = new RiderRecord(row.id, core.riderTable, snap, stateKey(snap.value) as RiderState, row.capacity);
  core.riders.set(r.id, r);
  writeRiderRow(core, r, row, snap);
  return r;
}

/**
 * Writes a rider's row into its record, in place, and moves it in its shard
 * and the available index. Not the stacking index: that needs the rider's
 * lead order, which may come after it.
 */
export function writeRiderRow(
  core: EngineCore,
  r: RiderRecord,
  row: RiderSnapshotRow,
  snap = riderSnapshot(core, row),
): void {
  r.snap = snap;
  r.state = stateKey(snap.value) as RiderState;
  r.seq = row.seq;
  r.capacity = row.capacity;
  // A vehicle this build does not know (an older or newer list) rides at the default speed.
  r.vehicle =
    row.vehicle !== undefined && (VEHICLE_TYPES as readonly string[]).includes(row.vehicle) ? row.vehicle : null;
  r.idleSince = row.idleSince;
  [r.offers, r.accepts, r.declines, r.expiries, r.delivered] = row.stats;
  [r.review, r.reviewReason] = row.review ?? APPROVED;
  r.away = row.away ?? null;
  writeRiderPlace(core, r, row);
  core.space.syncIndex(r);
}

/**
 * The row's next stop, and its position when newer than the one held: what
 * the position hot path changes without an event (positions are ordered by
 * their device time, not by seq).
 */
export function writeRiderPlace(core: EngineCore, r: RiderRecord, row: RiderSnapshotRow): void {
  [r.targetLat, r.targetLng] = row.target ?? NO_TARGET;
  const p = row.position;
  if (p !== null && p[5] > r.posAt) placeRider(core, r, p[0], p[1], p[2], p[3] ?? NaN, p[4] ?? NaN, p[5]);
}

/** A new order from its row, in its pickup's shard. */
export function orderFromRow(core: EngineCore, row: OrderSnapshotRow, rest: RestaurantRecord): OrderRecord {
  const snap = core.orderStep.resolve(row.value as never, row.context);
  const o = new OrderRecord({
    id: row.id,
    customerId: row.customerId,
    restaurantId: row.restaurantId,
    pickup: rest.location,
    drop: row.drop,
    pickupCell: rest.cell,
    placedAt: row.placedAt,
    promisedAt: row.promisedAt,
    expiresAt: row.expiresAt,
    snap,
    state: stateKey(snap.value) as OrderState,
  });
  writeOrderRow(core, o, row, snap);
  addOrder(core, o);
  return o;
}

/** Writes an order's row into its record, in place; what was fixed at placement (parties, places, promise) stays. */
export function writeOrderRow(
  core: EngineCore,
  o: OrderRecord,
  row: OrderSnapshotRow,
  snap = core.orderStep.resolve(row.value as never, row.context),
): void {
  o.snap = snap;
  o.state = stateKey(snap.value) as OrderState;
  o.seq = row.seq;
  o.slaBreached = row.slaBreached;
  o.prepMinutes = row.prepMinutes;
  o.readyAt = row.readyAt;
  o.acceptedAt = row.acceptedAt ?? (row.readyAt > 0 ? row.readyAt - row.prepMinutes * 60_000 : 0);
  o.offerEtaS = row.offerEtaS ?? 0;
  o.endedAt = row.endedAt;
}
