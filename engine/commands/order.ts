import {
  type CancelOrder,
  type CancelledBy,
  type OrderId,
  type PlaceOrder,
  type RestaurantId,
  type Result,
  CancelReason,
  OK,
  isIdString,
  isLatLng,
  ok,
  reject,
} from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { syncOrderDeadlines } from '../deadline-rules.js';
import { startDispatch } from '../dispatch/dispatch.js';
import { fastDistanceM } from '../geo.js';
import { dispatchLeadMs, expectedPrepMinutes, learnPrep, promiseMs } from '../kitchen.js';
import { type OrderMachineEvent, type OrderState, TERMINAL_ORDER_STATES } from '../machines/order-machine.js';
import { stateKey } from '../machines/step.js';
import { seededUuid } from '../random.js';
import { OrderRecord } from '../records.js';
import { cancelVia } from '../release.js';

const DEFAULT_CANCEL_REASON = {
  customer: CancelReason.CUSTOMER_REQUEST,
  restaurant: CancelReason.RESTAURANT_REQUEST,
  admin: CancelReason.ADMIN,
  system: CancelReason.SYSTEM,
} as const satisfies Record<CancelledBy, string>;

/** Places an order at a restaurant; answers its id. */
export function placeOrder(core: EngineCore, cmd: PlaceOrder): Result<OrderId> {
  if (cmd.orderId !== undefined && !isIdString(cmd.orderId))
    return reject('INVALID_ARGUMENT', 'orderId must be a UUID or a slug');
  if (!isIdString(cmd.customerId)) return reject('INVALID_ARGUMENT', 'customerId must be a UUID or a slug');
  if (!isLatLng(cmd.drop)) return reject('INVALID_ARGUMENT', 'drop must have lat in [-90, 90] and lng in [-180, 180]');
  const rest = core.restaurants.get(cmd.restaurantId);
  if (!rest) return reject('RESTAURANT_NOT_FOUND', `no restaurant ${cmd.restaurantId}`);
  if (rest.state === 'closed') return reject('RESTAURANT_CLOSED', `restaurant ${rest.id} is closed`);
  if (rest.state === 'busy') return reject('RESTAURANT_BUSY', `restaurant ${rest.id} is not taking orders right now`);
  if (rest.openOrders >= rest.capacity)
    return reject('RESTAURANT_AT_CAPACITY', `restaurant ${rest.id} has ${rest.openOrders} open orders`);
  if (core.drained.size > 0 && core.drained.has(core.space.parentOf(rest.cell)))
    return reject('SHARD_DRAINING', `restaurant ${rest.id} is in a drained area; it takes no new orders for now`);
  const distance = fastDistanceM(rest.location.lat, rest.location.lng, cmd.drop.lat, cmd.drop.lng);
  if (distance > core.config.maxDeliveryDistanceM) {
    const limit = core.config.maxDeliveryDistanceM;
    return reject(
      'OUT_OF_SERVICE_AREA',
      `drop is ${Math.round(distance)} m from the restaurant; the limit is ${limit} m`,
    );
  }
  const id = cmd.orderId ?? (seededUuid(core.seed, core.idCounter++) as OrderId);
  if (core.orders.has(id)) return reject('ORDER_EXISTS', `order ${id} exists`);
  const now = core.now();
  const paid = cmd.paid === true;
  const input = {
    paid,
    paymentExpiresAt: paid ? 0 : now + core.config.paymentTimeoutMs,
    restaurantAcceptBy: paid ? now + core.config.restaurantAcceptTimeoutMs : 0,
  };
  const snap = core.orderStep.initial(input);
  const o = new OrderRecord({
    id,
    customerId: cmd.customerId,
    restaurantId: rest.id,
    pickup: rest.location,
    drop: { lat: cmd.drop.lat, lng: cmd.drop.lng },
    pickupCell: rest.cell,
    placedAt: now,
    promisedAt: now + promiseMs(core, rest, cmd.drop),
    expiresAt: now + core.config.orderLifetimeMs,
    snap,
    state: stateKey(snap.value) as OrderState,
  });
  addOrder(core, o);
  rest.openOrders++;
  core.emit('order', o, {
    type: 'order_placed',
    customerId: o.customerId,
    restaurantId: o.restaurantId,
    pickup: o.pickup,
    drop: o.drop,
    paid,
    paymentExpiresAt: input.paymentExpiresAt,
    promisedAt: o.promisedAt,
  });
  syncOrderDeadlines(core, o);
  return ok(id);
}

/** Places an order in its pickup's shard (placement and restore). */
export function addOrder(core: EngineCore, o: OrderRecord): void {
  core.space.shardFor(o.pickupCell).orders.set(o.id, o);
  core.orders.set(o.id, o);
}

/** Forgets an ended order past its retention (its evict deadline, or a read mirror's sweep). */
export function removeOrder(core: EngineCore, o: OrderRecord): void {
  core.orders.delete(o.id);
  core.space.shardOfCell(o.pickupCell)?.orders.delete(o.id);
}

export function confirmPayment(core: EngineCore, orderId: OrderId): Result {
  const restaurantAcceptBy = core.now() + core.config.restaurantAcceptTimeoutMs;
  return orderStep(core, orderId, { type: 'PAYMENT_CONFIRMED', restaurantAcceptBy }, (o) => {
    core.emit('order', o, { type: 'order_payment_confirmed', restaurantAcceptBy });
  });
}

export function failPayment(core: EngineCore, orderId: OrderId): Result {
  return cancelVia(core, orderId, { type: 'PAYMENT_FAILED' }, 'system', CancelReason.PAYMENT_FAILED);
}

/**
 * The restaurant accepts and says how long cooking takes. The order becomes
 * dispatchable when a rider leaving then would arrive as the food is ready.
 */
export function restaurantAccept(
  core: EngineCore,
  orderId: OrderId,
  opts: { restaurantId?: RestaurantId | undefined; prepMinutes?: number | undefined },
): Result {
  const o = core.orders.get(orderId);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
  const denied = notOwner(o, orderId, opts.restaurantId);
  if (denied) return denied;
  const rest = core.restaurants.get(o.restaurantId);
  const prep = opts.prepMinutes ?? rest?.prepMinutes ?? 15;
  if (!(prep >= 0 && prep <= 240)) return reject('INVALID_ARGUMENT', 'prepMinutes must be in [0, 240]');
  const now = core.now();
  const readyAt = now + Math.round(expectedPrepMinutes(core, rest, prep) * 60_000);
  const dispatchAt = Math.max(now, readyAt - dispatchLeadMs(core, rest));
  const res = orderStep(core, orderId, { type: 'RESTAURANT_ACCEPT', dispatchAt }, (oo) => {
    oo.prepMinutes = prep;
    oo.acceptedAt = now;
    oo.readyAt = readyAt;
    core.emit('order', oo, { type: 'order_accepted', prepMinutes: prep, readyAt, dispatchAt });
  });
  if (res.ok && dispatchAt <= now) startDispatch(core, o);
  return res;
}

export function restaurantReject(
  core: EngineCore,
  orderId: OrderId,
  opts: { restaurantId?: RestaurantId | undefined; reason?: string | undefined },
): Result {
  const o = core.orders.get(orderId);
  const denied = o && notOwner(o, orderId, opts.restaurantId);
  if (denied) return denied;
  return cancelVia(
    core,
    orderId,
    { type: 'RESTAURANT_REJECT' },
    'restaurant',
    opts.reason ?? CancelReason.RESTAURANT_REJECTED,
  );
}

/** Food is ready. An order still waiting for its dispatch time is dispatched now. */
export function foodReady(
  core: EngineCore,
  orderId: OrderId,
  opts: { restaurantId?: RestaurantId | undefined },
): Result {
  const o = core.orders.get(orderId);
  const denied = o && notOwner(o, orderId, opts.restaurantId);
  if (denied) return denied;
  if (o?.snap.context.foodReady) return reject('ORDER_INVALID_TRANSITION', `order ${orderId} is already marked ready`);
  const res = orderStep(core, orderId, { type: 'FOOD_READY' }, (oo) => {
    // Ready now, whatever was expected: tracking and the batch's lateness count from here.
    if (oo.acceptedAt > 0) oo.readyAt = core.now();
    core.emit('order', oo, { type: 'order_food_ready' });
    learnPrep(core, oo, core.now());
  });
  if (res.ok && o?.state === 'preparing') startDispatch(core, o);
  return res;
}

/**
 * Cancels an order. Customers may cancel until the restaurant accepts;
 * restaurants until pickup; admins and the engine itself at any live stage.
 */
export function cancelOrder(core: EngineCore, cmd: CancelOrder): Result {
  const o = core.orders.get(cmd.orderId);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${cmd.orderId}`);
  if (!Object.hasOwn(DEFAULT_CANCEL_REASON, cmd.by))
    return reject('INVALID_ARGUMENT', 'by must be customer, restaurant, admin or system');
  if (TERMINAL_ORDER_STATES.has(o.state))
    return reject('ORDER_INVALID_TRANSITION', `order ${o.id} is already ${o.state}`);
  const res = cancelVia(
    core,
    cmd.orderId,
    { type: 'CANCEL', by: cmd.by },
    cmd.by,
    cmd.reason ?? DEFAULT_CANCEL_REASON[cmd.by],
  );
  return res.ok ? res : reject('ORDER_CANCEL_NOT_ALLOWED', `a ${cmd.by} may not cancel an order that is ${o.state}`);
}

function notOwner(o: OrderRecord, orderId: OrderId, restaurantId: RestaurantId | undefined) {
  if (restaurantId === undefined || restaurantId === o.restaurantId) return undefined;
  return reject('RESTAURANT_NOT_OWNER', `order ${orderId} is not for restaurant ${restaurantId}`);
}

/** Steps the order's machine, then runs `then` and re-arms its deadlines; a refused step is a coded rejection. */
function orderStep(core: EngineCore, id: OrderId, event: OrderMachineEvent, then: (o: OrderRecord) => void): Result {
  const o = core.orders.get(id);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${id}`);
  if (!core.stepOrder(o, event))
    return reject('ORDER_INVALID_TRANSITION', `${event.type} is not allowed for order ${id} in state ${o.state}`);
  then(o);
  syncOrderDeadlines(core, o);
  return OK;
}
