import { type CancelledBy, type OrderId, type Result, type RiderId, OK, reject } from '../protocol/index.js';
import type { EngineCore } from './core.js';
import { syncOrderDeadlines } from './deadline-rules.js';
import type { OrderMachineEvent } from './machines/order-machine.js';
import type { RiderRecord } from './records.js';

/**
 * Moves the order to cancelled through `event` (the machine decides whether
 * the state allows it) and releases whatever rider it held: an offered rider
 * sees the offer withdrawn, an assigned one is released back to idle.
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
  if (r && r.snap.context.orderId === orderId) {
    if (fromState === 'dispatching.offered') {
      core.stepRider(r, { type: 'OFFER_ENDED', orderId });
      core.emit('rider', r, { type: 'rider_offer_ended', orderId, offerId: ctx.offerId!, outcome: 'withdrawn' });
    } else {
      core.stepRider(r, { type: 'RELEASE', orderId });
      r.idleSince = core.now();
      core.emit('rider', r, { type: 'rider_released', orderId, reason: 'order_cancelled' });
    }
    clearTarget(r);
    core.space.syncIndex(r);
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

/** The rider has no next stop. */
export function clearTarget(r: RiderRecord): void {
  r.targetLat = NaN;
  r.targetLng = NaN;
}
