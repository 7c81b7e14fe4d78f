import type { LatLng, OrderId, RouteStop } from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { fastDistanceM } from '../geo.js';
import type { OrderRecord, RiderRecord } from '../records.js';
import type { Match } from './ring-search.js';
import { Col } from '../rider-table.js';

/**
 * Stacking: a rider of capacity above one, heading to a restaurant for its
 * lead job, takes another order from the same or a nearby restaurant when
 * that breaks no promise it already carries.
 *
 * A rider's route is derived, never stored: the pickups still to make, in
 * the order the jobs were taken, then the drops by earliest promise. The
 * engine checks a stack against that route, sends it in the offer, and steers
 * the rider's next stop by it; the rider machine only keeps which jobs it
 * holds (its lead `orderId`, then `stack`).
 *
 * Candidates are the riders the StackIndex (stack-index.ts) lists under restaurants within
 * `stackRadiusM` of the order's: a handful of riders per restaurant, so a
 * stacking search costs a few route evaluations, not a ring search.
 */

/** A stack the engine would offer: the rider, what it costs and the route it makes. */
export interface StackMatch {
  readonly rider: RiderRecord;
  /** Seconds the order adds to the rider's route (to its last drop). */
  readonly addedS: number;
  /** Seconds from the rider's position to the order's pickup along the new route. */
  readonly etaS: number;
  /** When the order would reach its customer along the new route, engine ms. */
  readonly dropAt: number;
  readonly stops: readonly RouteStop[];
}

/** The rider's jobs, lead first, then the stacked ones in the order taken; orders no longer held are left out. */
export function jobsOf(core: EngineCore, r: RiderRecord): OrderRecord[] {
  const ctx = r.snap.context;
  const out: OrderRecord[] = [];
  const held = r.state === 'online.to_pickup' || r.state === 'online.at_pickup' || r.state === 'online.delivering';
  if (!held) return out;
  for (const id of [ctx.orderId, ...ctx.stack]) {
    const o = id === null ? undefined : core.orders.get(id);
    if (o !== undefined && (o.state === 'assigned' || o.state === 'picked_up')) out.push(o);
  }
  return out;
}

/** Pickups still to make in job order, then every drop by earliest promise (then order id). */
export function routeOf(jobs: readonly OrderRecord[]): RouteStop[] {
  const stops: RouteStop[] = [];
  for (const o of jobs) if (o.state !== 'picked_up') stops.push({ kind: 'pickup', orderId: o.id, at: o.pickup });
  const drops = [...jobs].sort((a, b) => a.promisedAt - b.promisedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const o of drops) stops.push({ kind: 'drop', orderId: o.id, at: o.drop });
  return stops;
}

/**
 * Rides `stops` from (lat, lng) leaving at `now`: a pickup waits for the
 * food's expected ready time. Answers each drop's arrival (engine ms), the
 * arrival at `watch`'s pickup, and the route's end.
 */
export function rideRoute(
  core: EngineCore,
  r: RiderRecord,
  from: LatLng,
  stops: readonly RouteStop[],
  ready: (id: OrderId) => number,
  now: number,
  watch?: OrderId,
): { drops: Map<OrderId, number>; watchPickupAt: number; end: number } {
  const drops = new Map<OrderId, number>();
  let t = now;
  let at = from;
  let watchPickupAt = now;
  for (const s of stops) {
    t += core.eta.travelS(at.lat, at.lng, s.at.lat, s.at.lng, r.vehicle, t) * 1000;
    at = s.at;
    if (s.kind === 'pickup') {
      if (s.orderId === watch) watchPickupAt = t;
      t = Math.max(t, ready(s.orderId));
    } else drops.set(s.orderId, t);
  }
  return { drops, watchPickupAt, end: t };
}

/** When `o`'s food is expected ready, engine ms (now when not known: ready as soon as anyone arrives). */
function readyOf(o: OrderRecord, now: number): number {
  return o.readyAt > 0 ? o.readyAt : now;
}

/**
 * The rider whose route `o` joins at the least added time, among riders
 * heading to restaurants within `stackRadiusM`, with room, connected, with a
 * fresh position, no live stack offer and not passed on `o`; the new route
 * must bring `o` by its promise and no job already held later than its
 * promise (or than it would come without `o`, for one already late).
 * Undefined when stacking is off or no rider qualifies.
 */
export function bestStack(core: EngineCore, o: OrderRecord, now: number): StackMatch | undefined {
  const cfg = core.config;
  if (cfg.stackRadiusM <= 0 || core.stacks.size === 0) return undefined;
  const passed = o.snap.context.passed;
  let best: StackMatch | undefined;
  for (const restId of core.stacks.near(core.restaurants, o.restaurantId, cfg.stackRadiusM)) {
    const riders = core.stacks.headingTo(restId);
    if (riders === undefined) continue;
    for (const r of riders) {
      const ctx = r.snap.context;
      if (ctx.graceUntil !== 0 || ctx.stackOffer !== null || 1 + ctx.stack.length >= r.capacity) continue;
      if (now - r.table.data[r.base + Col.POS_AT]! > cfg.positionStaleMs) continue;
      if (passed.length > 0 && passed.includes(r.id)) continue;
      const m = tryStack(core, r, o, now);
      if (
        m !== undefined &&
        (best === undefined || m.addedS < best.addedS || (m.addedS === best.addedS && r.id < best.rider.id))
      )
        best = m;
    }
  }
  return best;
}

/** `o` on `r`'s route, if it keeps every promise (see {@link bestStack}). */
export function tryStack(core: EngineCore, r: RiderRecord, o: OrderRecord, now: number): StackMatch | undefined {
  const jobs = jobsOf(core, r);
  if (jobs.length === 0 || jobs.some((j) => j.state === 'picked_up')) return undefined;
  const from = { lat: r.lat, lng: r.lng };
  const ready = (id: OrderId) => {
    const x = id === o.id ? o : core.orders.get(id);
    return x === undefined ? now : readyOf(x, now);
  };
  const before = rideRoute(core, r, from, routeOf(jobs), ready, now);
  const stops = routeOf([...jobs, o]);
  const after = rideRoute(core, r, from, stops, ready, now, o.id);
  const slack = core.config.stackSlackS * 1000;
  const dropAt = after.drops.get(o.id)!;
  if (dropAt > o.promisedAt - slack) return undefined;
  for (const j of jobs) {
    const was = before.drops.get(j.id)!;
    const will = after.drops.get(j.id)!;
    if (will > Math.max(j.promisedAt - slack, was)) return undefined;
  }
  return {
    rider: r,
    addedS: (after.end - before.end) / 1000,
    etaS: (after.watchPickupAt - now) / 1000,
    dropAt,
    stops,
  };
}

/**
 * Whether free rider `r` should take `o` rather than a stack: when riders are
 * not short in `o`'s shard (at least `stackSpareShare` of those positioned
 * there are free) and `r` reaches the pickup by the food's expected ready
 * time plus `stackSlackS`. A stack saves a rider's time, which is worth
 * nothing while riders wait idle, and it costs the stacked rider a wait at the
 * restaurant, the other orders on its route a longer ride, and rests on a
 * forecast (kitchens run late, riders accept slowly) whose misses are late
 * orders. Where riders are short the stack's cost alone decides.
 */
export function freeRiderFirst(core: EngineCore, o: OrderRecord, r: RiderRecord, now: number): boolean {
  const share = core.config.stackSpareShare;
  if (share >= 1) return false;
  const shard = core.space.shardOfCell(o.pickupCell);
  if (shard === undefined || shard.available.size < share * shard.riders.size) return false;
  const atPickup = now + core.eta.travelS(r.lat, r.lng, o.pickup.lat, o.pickup.lng, r.vehicle, now) * 1000;
  return atPickup <= Math.max(o.readyAt, now) + core.config.stackSlackS * 1000;
}

/** The seconds `o`'s own ride (pickup to drop) takes for an unknown vehicle: what a fresh rider adds beside its pickup. */
export function rideS(core: EngineCore, o: OrderRecord, now: number): number {
  return core.eta.travelS(o.pickup.lat, o.pickup.lng, o.drop.lat, o.drop.lng, null, now);
}

/** Points the rider at the first stop of its route, or at nothing. */
export function retarget(core: EngineCore, r: RiderRecord): void {
  const ctx = r.snap.context;
  if (ctx.stack.length === 0) {
    // A lone job (nearly every rider): its pickup until picked up, then its drop, without building a route.
    const held = r.state === 'online.to_pickup' || r.state === 'online.at_pickup' || r.state === 'online.delivering';
    const o = held && ctx.orderId !== null ? core.orders.get(ctx.orderId) : undefined;
    const at =
      o === undefined ? undefined : o.state === 'assigned' ? o.pickup : o.state === 'picked_up' ? o.drop : undefined;
    r.targetLat = at === undefined ? NaN : at.lat;
    r.targetLng = at === undefined ? NaN : at.lng;
    return;
  }
  const first = routeOf(jobsOf(core, r))[0];
  r.targetLat = first === undefined ? NaN : first.at.lat;
  r.targetLng = first === undefined ? NaN : first.at.lng;
}

/** A stack as the match an offer takes: its score is the time it adds to the rider's route. */
export function stackedMatch(o: OrderRecord, s: StackMatch, searched: Match | undefined): Match {
  return {
    rider: s.rider,
    distanceM: fastDistanceM(s.rider.lat, s.rider.lng, o.pickup.lat, o.pickup.lng),
    etaS: s.etaS,
    score: s.addedS,
    candidates: searched?.candidates ?? 0,
    ring: searched?.ring ?? -1,
    stops: s.stops,
  };
}
