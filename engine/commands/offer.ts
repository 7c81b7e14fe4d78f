import { type OrderId, type Result, type RiderId, OK, ok, reject } from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { syncOrderDeadlines } from '../deadline-rules.js';
import { endOffer, noCandidate, offer } from '../dispatch/dispatch.js';
import type { OrderState } from '../machines/order-machine.js';
import type { OrderRecord, RiderRecord } from '../records.js';
import { retarget } from '../dispatch/stacking.js';
import { dropJob } from '../release.js';

/** The offered rider takes the job and heads to the pickup (a stacked job: on along its route). */
export function acceptOffer(core: EngineCore, riderId: RiderId, orderId: OrderId): Result {
  const check = offerHolder(core, riderId, orderId);
  if (!check.ok) return check;
  const { r, o } = check.value;
  const offerId = o.snap.context.offerId!;
  const stacked = r.snap.context.stackOffer?.orderId === orderId;
  core.stepOrder(o, { type: 'ACCEPT', riderId });
  core.stepRider(r, stacked ? { type: 'STACK_ACCEPT', orderId } : { type: 'ACCEPT', orderId });
  r.accepts++;
  retarget(core, r);
  core.emit('order', o, { type: 'order_assigned', riderId, offerId });
  core.emit('rider', r, { type: 'rider_assigned', orderId });
  syncOrderDeadlines(core, o);
  return OK;
}

/** The offered rider passes; the order goes to the next one. */
export function declineOffer(core: EngineCore, riderId: RiderId, orderId: OrderId): Result {
  const check = offerHolder(core, riderId, orderId);
  if (!check.ok) return check;
  const { r, o } = check.value;
  r.declines++;
  endOffer(core, o, r, 'declined', { type: 'DECLINE', riderId });
  return OK;
}

/** The offer's time ran out without an answer. */
export function offerExpired(core: EngineCore, o: OrderRecord): void {
  const r = core.riders.get(o.snap.context.riderId as RiderId);
  if (!r) return;
  r.expiries++;
  endOffer(core, o, r, 'expired', { type: 'OFFER_EXPIRED' });
}

export function pickedUp(core: EngineCore, riderId: RiderId, orderId: OrderId): Result {
  const check = jobHolder(core, riderId, orderId, 'assigned');
  if (!check.ok) return check;
  const { r, o } = check.value;
  core.stepOrder(o, { type: 'PICKED_UP', riderId, at: core.now() });
  // A stacked job's pickup leaves the rider's state to its lead job.
  if (r.snap.context.orderId === orderId) core.stepRider(r, { type: 'PICKED_UP', orderId });
  const rest = core.restaurants.get(o.restaurantId);
  if (rest) rest.openOrders--;
  retarget(core, r);
  core.emit('order', o, { type: 'order_picked_up', riderId });
  core.emit('rider', r, { type: 'rider_picked_up', orderId });
  syncOrderDeadlines(core, o);
  return OK;
}

export function delivered(core: EngineCore, riderId: RiderId, orderId: OrderId): Result {
  const check = jobHolder(core, riderId, orderId, 'picked_up');
  if (!check.ok) return check;
  const { r, o } = check.value;
  core.stepOrder(o, { type: 'DELIVERED', riderId });
  dropJob(core, r, orderId, 'DELIVERED');
  r.delivered++;
  o.endedAt = core.now();
  core.emit('order', o, { type: 'order_delivered', riderId });
  core.emit('rider', r, { type: 'rider_delivered', orderId });
  syncOrderDeadlines(core, o);
  return OK;
}

/**
 * The answer of an external candidate source: scores exactly `riderIds` with
 * the engine's scoring and offers the order to the best of them, as a ring
 * search would have. Riders who are unknown, not available, stale, too far or
 * who passed on the order are skipped. Answers the rider offered, or null when
 * none would do (the order then waits for its retry, or is given up past its
 * give-up time, exactly as after an empty ring search). The order must be
 * searching. `onMatch` times this command alone.
 */
export function offerFromCandidates(
  core: EngineCore,
  orderId: OrderId,
  riderIds: readonly string[],
): Result<RiderId | null> {
  const t0 = core.stopwatch.nowMicros();
  const o = core.orders.get(orderId);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
  if (o.state !== 'dispatching.searching') {
    return reject('ORDER_INVALID_TRANSITION', `order ${orderId} is ${o.state}, not searching for a rider`);
  }
  const riders: RiderRecord[] = [];
  for (const id of riderIds) {
    const r = core.riders.get(id as RiderId);
    if (r !== undefined && r.away === null) riders.push(r);
  }
  const now = core.now();
  const match = core.search.bestAmong(o, riders, now);
  if (match) {
    offer(core, o, match, now, t0);
    return ok(match.rider.id);
  }
  noCandidate(core, o, now);
  return ok(null);
}

/** The rider and the order of a live offer between them, or why there is none. */
function offerHolder(core: EngineCore, riderId: RiderId, orderId: OrderId): Result<{ r: RiderRecord; o: OrderRecord }> {
  const r = core.riders.get(riderId);
  if (!r) return reject('RIDER_NOT_FOUND', `no rider ${riderId}`);
  const o = core.orders.get(orderId);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
  const rc = r.snap.context;
  const holds = rc.stackOffer?.orderId === orderId || (r.state === 'online.offered' && rc.orderId === orderId);
  if (o.state === 'dispatching.offered' && o.snap.context.riderId === riderId && holds) return ok({ r, o });
  if (o.snap.context.passed.includes(riderId))
    return reject('OFFER_EXPIRED', `the offer of order ${orderId} to rider ${riderId} has ended`);
  return reject('OFFER_NOT_FOUND', `rider ${riderId} holds no live offer for order ${orderId}`);
}

/** The rider and the order of a job in `state` that the rider holds, or why not. */
function jobHolder(
  core: EngineCore,
  riderId: RiderId,
  orderId: OrderId,
  state: OrderState,
): Result<{ r: RiderRecord; o: OrderRecord }> {
  const r = core.riders.get(riderId);
  if (!r) return reject('RIDER_NOT_FOUND', `no rider ${riderId}`);
  const o = core.orders.get(orderId);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
  const holder = o.state === 'assigned' || o.state === 'picked_up' ? o.snap.context.riderId : null;
  if (holder !== riderId) return reject('RIDER_NOT_ASSIGNED', `order ${orderId} is not assigned to rider ${riderId}`);
  if (o.state !== state) return reject('ORDER_INVALID_TRANSITION', `order ${orderId} is ${o.state}, not ${state}`);
  return ok({ r, o });
}
