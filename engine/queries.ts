import {
  type OrderId,
  type OrderView,
  type RestaurantId,
  type RestaurantView,
  type Result,
  type RiderId,
  type RiderJobView,
  type RiderView,
  type RouteStop,
  ok,
  reject,
} from '../protocol/index.js';
import type { EngineCore } from './core.js';
import { arrivalAt } from './eta.js';
import { fastDistanceM } from './geo.js';
import { type OrderState, TERMINAL_ORDER_STATES } from './machines/order-machine.js';
import { jobsOf, routeOf } from './dispatch/stacking.js';
import type { RiderRecord } from './records.js';

/** Order states in which the order's rider has a payout to see: offered, then the job until delivered. */
const PAID_ORDER_STATES: ReadonlySet<OrderState> = new Set([
  'dispatching.offered',
  'assigned',
  'picked_up',
  'delivered',
]);

export function orderView(core: EngineCore, id: OrderId): Result<OrderView> {
  const o = core.orders.get(id);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${id}`);
  const c = o.snap.context;
  return ok({
    id: o.id,
    state: o.state,
    customerId: o.customerId,
    restaurantId: o.restaurantId,
    riderId: c.riderId,
    pickup: o.pickup,
    drop: o.drop,
    paid: c.paid,
    foodReady: c.foodReady,
    placedAt: o.placedAt,
    promisedAt: o.promisedAt,
    readyAt: o.readyAt || null,
    offer:
      o.state === 'dispatching.offered'
        ? { riderId: c.riderId as RiderId, offerId: c.offerId!, expiresAt: c.offerExpiresAt, payout: c.payout ?? null }
        : null,
    payout: c.riderId !== null && PAID_ORDER_STATES.has(o.state) ? (c.payout ?? null) : null,
    offersMade: c.offers,
  });
}

export function riderView(core: EngineCore, id: RiderId): Result<RiderView> {
  const r = core.riders.get(id);
  if (!r) return reject('RIDER_NOT_FOUND', `no rider ${id}`);
  const known = (x: number) => (Number.isNaN(x) ? null : x);
  return ok({
    id: r.id,
    state: r.state,
    connected: r.snap.context.graceUntil === 0,
    position:
      r.posAt > 0 ? { lat: r.lat, lng: r.lng, at: r.posAt, heading: known(r.heading), speed: known(r.speed) } : null,
    cell: r.cell,
    orderId: r.snap.context.orderId,
    available: r.indexCell !== null,
    vehicle: r.vehicle,
    review: { status: r.review, reason: r.reviewReason },
    stats: { offers: r.offers, accepts: r.accepts, declines: r.declines, expiries: r.expiries, delivered: r.delivered },
  });
}

/**
 * The rider's live offer or current job (null when it holds neither), from
 * the order it names: what a rider app that lost its connection must be told
 * again. Distance and ETA to the pickup are from the rider's last position.
 */
export function riderJobView(core: EngineCore, id: RiderId): Result<RiderJobView | null> {
  const r = core.riders.get(id);
  if (!r) return reject('RIDER_NOT_FOUND', `no rider ${id}`);
  const orderId = r.snap.context.orderId;
  return ok(orderId === null ? null : jobView(core, r, orderId, undefined));
}

/**
 * Every offer and job the rider holds: its lead offer or job, its stacked jobs
 * and a stack offer (dispatch/stacking.ts), in that order. With several jobs
 * each carries the route they make; a stack offer carries the route with it.
 */
export function riderJobsView(core: EngineCore, id: RiderId): Result<RiderJobView[]> {
  const r = core.riders.get(id);
  if (!r) return reject('RIDER_NOT_FOUND', `no rider ${id}`);
  const c = r.snap.context;
  const ids = [c.orderId, ...c.stack, c.stackOffer?.orderId ?? null].filter((x): x is OrderId => x !== null);
  // Held jobs carry the route they make; a stack offer the route the rider would ride if it accepted.
  const jobs = ids.length > 1 ? jobsOf(core, r) : [];
  const held = jobs.length > 1 ? routeOf(jobs) : undefined;
  const offered = c.stackOffer === null ? undefined : core.orders.get(c.stackOffer.orderId);
  const out: RiderJobView[] = [];
  for (const orderId of ids) {
    const stops = offered !== undefined && orderId === offered.id ? routeOf([...jobs, offered]) : held;
    const v = jobView(core, r, orderId, stops);
    if (v !== null) out.push(v);
  }
  return ok(out);
}

/** One offer or job of `r`, from the order it names; null when the order no longer has it. */
function jobView(
  core: EngineCore,
  r: RiderRecord,
  orderId: OrderId,
  stops: RouteStop[] | undefined,
): RiderJobView | null {
  const o = core.orders.get(orderId);
  if (o === undefined) return null;
  const c = o.snap.context;
  if (c.riderId !== r.id) return null;
  const stage =
    o.state === 'dispatching.offered' ? 'offered' : o.state === 'assigned' || o.state === 'picked_up' ? o.state : null;
  if (stage === null) return null;
  const d = r.posAt > 0 ? fastDistanceM(r.lat, r.lng, o.pickup.lat, o.pickup.lng) : null;
  return {
    orderId: o.id,
    offerId: c.offerId ?? '',
    stage,
    expiresAt: stage === 'offered' ? c.offerExpiresAt : null,
    pickup: o.pickup,
    drop: o.drop,
    pickupDistanceM: d === null ? null : Math.round(d),
    pickupEtaS: d === null ? null : Math.round(core.search.etaS(r, o.pickup.lat, o.pickup.lng, core.now())),
    payout: c.payout ?? null,
    foodReady: c.foodReady,
    pickedUpAt: c.pickedUpAt > 0 ? c.pickedUpAt : null,
    ...(stops === undefined ? {} : { stops }),
  };
}

/**
 * When the order's rider should reach the customer, epoch ms, by the engine's
 * travel-time model (by the pickup and the food's ready time until picked
 * up); null when the order is not held or over, has no rider on it (offered
 * or assigned), or the rider has sent no position.
 */
export function estimatedArrival(core: EngineCore, id: OrderId): number | null {
  const o = core.orders.get(id);
  const riderId = o?.snap.context.riderId;
  if (!o || !riderId || TERMINAL_ORDER_STATES.has(o.state)) return null;
  const r = core.riders.get(riderId);
  if (!r || r.posAt <= 0) return null;
  return arrivalAt(core.eta, core.now(), {
    pickedUp: o.state === 'picked_up',
    rider: { lat: r.lat, lng: r.lng },
    vehicle: r.vehicle,
    pickup: o.pickup,
    drop: o.drop,
    readyAt: o.readyAt > 0 ? o.readyAt : null,
  });
}

export function restaurantView(core: EngineCore, id: RestaurantId): Result<RestaurantView> {
  const r = core.restaurants.get(id);
  if (!r) return reject('RESTAURANT_NOT_FOUND', `no restaurant ${id}`);
  return ok({
    id: r.id,
    state: r.state,
    location: r.location,
    prepMinutes: r.prepMinutes,
    capacity: r.capacity,
    openOrders: r.openOrders,
  });
}

/** Counts for progress lines and metrics. */
export interface EngineStats {
  riders: number;
  ridersOnline: number;
  ridersAvailable: number;
  orders: number;
  ordersLive: number;
  shards: number;
  deadlines: number;
}

export function engineStats(core: EngineCore): EngineStats {
  let online = 0;
  for (const r of core.riders.values()) if (r.state !== 'offline') online++;
  let live = 0;
  for (const o of core.orders.values()) if (!TERMINAL_ORDER_STATES.has(o.state)) live++;
  let available = 0;
  for (const s of core.space.shards.values()) available += s.available.size;
  return {
    riders: core.riders.size,
    ridersOnline: online,
    ridersAvailable: available,
    orders: core.orders.size,
    ordersLive: live,
    shards: core.space.shards.size,
    deadlines: core.deadlines.size,
  };
}
