import { type AggregateKind, type OrderId, type RestaurantId, type RiderId, VEHICLE_TYPES } from '../protocol/index.js';
import { addOrder } from './commands/order.js';
import { addRestaurant } from './commands/restaurant.js';
import type { EngineCore } from './core.js';
import { syncOrderDeadlines } from './deadline-rules.js';
import { cellOf } from './geo.js';
import type { OrderState } from './machines/order-machine.js';
import type { RiderContext, RiderState } from './machines/rider-machine.js';
import { stateKey } from './machines/step.js';
import { OrderRecord, RestaurantRecord, RiderRecord } from './records.js';
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
  core.idCounter = snap.idCounter;
  for (const row of snap.restaurants) {
    const cell = cellOf(row.location.lat, row.location.lng, core.config.indexResolution);
    const r = new RestaurantRecord({
      id: row.id,
      location: row.location,
      cell,
      snap: core.restaurantStep.resolve(row.state, {}),
      state: row.state,
      prepMinutes: row.prepMinutes,
      capacity: row.capacity,
    });
    r.seq = row.seq;
    r.openOrders = row.openOrders;
    if (row.kitchen) [r.prepBiasMin, r.prepSamples, r.pickupEtaS, r.pickupEtaSamples] = row.kitchen;
    addRestaurant(core, r);
  }
  for (const row of snap.riders) {
    // Rows written before stacking have no stack fields.
    const context: Partial<RiderContext> = row.context;
    const snapshot = core.riderStep.resolve(row.value as never, {
      ...context,
      stack: context.stack ?? [],
      stackOffer: context.stackOffer ?? null,
    });
    const r = new RiderRecord(row.id, core.riderTable, snapshot, stateKey(snapshot.value) as RiderState, row.capacity);
    r.seq = row.seq;
    // A vehicle this build does not know (an older or newer list) rides at the default speed.
    r.vehicle =
      row.vehicle !== undefined && (VEHICLE_TYPES as readonly string[]).includes(row.vehicle) ? row.vehicle : null;
    r.idleSince = row.idleSince;
    [r.offers, r.accepts, r.declines, r.expiries, r.delivered] = row.stats;
    if (row.review) [r.review, r.reviewReason] = row.review;
    if (row.target) [r.targetLat, r.targetLng] = row.target;
    core.riders.set(r.id, r);
    if (row.position) {
      const [lat, lng, accuracy, heading, speed, at] = row.position;
      r.lat = lat;
      r.lng = lng;
      r.accuracy = accuracy;
      r.heading = heading ?? NaN;
      r.speed = speed ?? NaN;
      r.posAt = at;
      core.space.relocate(r);
    }
    core.space.syncIndex(r);
    core.deadlines.set('grace', r.id, r.snap.context.graceUntil);
  }
  for (const row of snap.orders) {
    const rest = core.restaurants.get(row.restaurantId);
    if (!rest) throw new TypeError(`snapshot order ${row.id} names missing restaurant ${row.restaurantId}`);
    const snapshot = core.orderStep.resolve(row.value as never, row.context);
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
      snap: snapshot,
      state: stateKey(snapshot.value) as OrderState,
    });
    o.seq = row.seq;
    o.slaBreached = row.slaBreached;
    o.prepMinutes = row.prepMinutes;
    o.readyAt = row.readyAt;
    o.acceptedAt = row.acceptedAt ?? (row.readyAt > 0 ? row.readyAt - row.prepMinutes * 60_000 : 0);
    o.offerEtaS = row.offerEtaS ?? 0;
    o.endedAt = row.endedAt;
    addOrder(core, o);
    syncOrderDeadlines(core, o);
  }
  // The stacking index names riders by their lead order's restaurant: the orders are loaded now.
  for (const r of core.riders.values()) if (r.capacity > 1) core.stacks.sync(r, core.orders);
}
