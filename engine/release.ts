import { type CancelledBy, type OrderId, type Result, type RiderId, OK, reject } from '../protocol/index.js';
import type { EngineCore } from './core.js';
import { syncOrderDeadlines } from './deadline-rules.js';
import type { OrderMachineEvent } from './machines/order-machine.js';
import type { RiderState } from './machines/rider-machine.js';
import { retarget } from './dispatch/stacking.js';
import type { RiderRecord } from './records.js';

/**
 * Moves the order to cancelled through `event` (the machine decides whether
 * the state allows it) and releases whatever rider it held: an offered rider
 * sees the offer withdrawn, an assigned one is released (back to idle, or on
 * to its next stacked job).
 * `releasedRider` is given when the rider already left the job.
 */
export function cancelVia(
  core: EngineCore,
  orderId: OrderId,
  event: OrderMachineEvent,
  by: CancelledBy,
  reason: string,
  releasedRider?: RiderId,
): Result {
  const o = core.orders.get(orderId);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
  const fromState = o.state;
  const ctx = o.snap.context;
  const riderId = releasedRider ?? ctx.riderId;
  if (!core.stepOrder(o, event))
    return reject(
      'ORDER_INVALID_TRANSITION',
      `${event.type} is not allowed for order ${orderId} in state ${fromState}`,
    );
  o.endedAt = core.now();
  if (fromState !== 'picked_up') {
    const rest = core.restaurants.get(o.restaurantId);
    if (rest) rest.openOrders--;
  }
  const r = riderId && !releasedRider ? core.riders.get(riderId) : undefined;
  if (r) {
    if (fromState === 'dispatching.offered') {
      if (endRiderOffer(core, r, orderId))
        core.emit('rider', r, { type: 'rider_offer_ended', orderId, offerId: ctx.offerId!, outcome: 'withdrawn' });
    } else if (dropJob(core, r, orderId, 'RELEASE')) {
      core.emit('rider', r, { type: 'rider_released', orderId, reason: 'order_cancelled' });
    }
  }
  core.emit('order', o, {
    type: 'order_cancelled',
    by,
    reason,
    fromState,
    refundDue: ctx.paid,
    riderId: riderId ?? null,
  });
  syncOrderDeadlines(core, o);
  return OK;
}

/**
 * Steps `r` out of its live offer of `orderId`, its lead offer or a stack
 * offer (the order's side is the caller's); false when it holds neither.
 */
export function endRiderOffer(core: EngineCore, r: RiderRecord, orderId: OrderId): boolean {
  const ctx = r.snap.context;
  let ended = false;
  if (ctx.stackOffer?.orderId === orderId) ended = core.stepRider(r, { type: 'STACK_OFFER_ENDED', orderId });
  else if (r.state === 'online.offered' && ctx.orderId === orderId) {
    ended = core.stepRider(r, { type: 'OFFER_ENDED', orderId });
    clearTarget(r);
  }
  if (ended) core.space.syncIndex(r);
  return ended;
}

/**
 * `r` stops holding job `orderId` (`DELIVERED` or `RELEASE`; the order's side
 * is the caller's): a stacked job leaves the stack; a lead job hands the lead
 * to the first stacked one, else to a live stack offer, else the rider is idle.
 * The rider's next stop follows its route. False when it holds no such job.
 */
export function dropJob(core: EngineCore, r: RiderRecord, orderId: OrderId, how: 'DELIVERED' | 'RELEASE'): boolean {
  const ctx = r.snap.context;
  if (ctx.stack.includes(orderId)) {
    core.stepRider(r, { type: 'STACK_DONE', orderId });
  } else if (ctx.orderId === orderId && r.state !== 'online.offered') {
    const next = ctx.stack[0];
    const offered = ctx.stackOffer?.orderId;
    if (next !== undefined)
      core.stepRider(r, { type: 'PROMOTE', orderId: next, pickedUp: core.orders.get(next)?.state === 'picked_up' });
    else if (offered !== undefined) core.stepRider(r, { type: 'PROMOTE_OFFER', orderId: offered });
    else if (!core.stepRider(r, { type: how, orderId })) return false;
    // The step above moved the state on: read it afresh (TypeScript narrowed it before the step).
    const after = r.state as RiderState;
    if (after === 'online.idle' || after === 'online.offered') r.idleSince = core.now();
  } else return false;
  retarget(core, r);
  core.space.syncIndex(r);
  return true;
}

/** The rider has no next stop. */
export function clearTarget(r: RiderRecord): void {
  r.targetLat = NaN;
  r.targetLng = NaN;
}
