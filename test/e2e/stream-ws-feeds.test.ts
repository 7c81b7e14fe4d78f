/**
 * Party feeds on `/ws` and `/v1/stream` over real sockets with real emulator
 * tokens: a socket that only authenticates hears every live order it is a
 * party to (a customer its orders, a restaurant its restaurant's, a rider its
 * offers and job) with no `subscribe`, never another party's, and never the
 * same message twice when it also subscribes.
 */
import t, { type Test } from 'tap';
import type { CustomerId, RiderId } from '../../protocol/index.js';
import { ofType, openStream, type StreamMsg } from '../support/stream-client.js';
import { near, startHarness } from '../support/ws-harness.js';

const h = await startHarness(t);
const base = `ws://127.0.0.1:${h.server.port}`;

/** A customer and a restaurant account; an order placed unpaid; a rider online near the restaurant. */
async function scene(label: string) {
  const customer = await h.user();
  const restId = h.restaurant();
  const restaurant = await h.user({ role: 'restaurant', restaurant_id: restId });
  const rider = await h.rider(label);
  const riderId = rider.riderId as RiderId;
  h.engine.registerRider({ riderId });
  h.engine.riderOnline(riderId);
  h.engine.updateRiderPosition(riderId, near(200).lat, near(200).lng, 5, NaN, 0, h.clock.now());
  const placed = h.engine.placeOrder({
    customerId: customer.uid as CustomerId,
    restaurantId: restId,
    drop: near(1500, 0),
    paid: false,
  });
  if (!placed.ok) throw new Error(placed.detail);
  return { customer, restaurant, restId, rider, riderId, orderId: placed.value };
}

const statuses = (msgs: readonly StreamMsg[], id: string) =>
  msgs.filter((m) => m.type === 'order_status_update' && m.data['order_id'] === id).map((m) => m.data['status']);

/** Moves the order from payment to delivery, with rider positions while it is out. */
async function deliver(t: Test, s: Awaited<ReturnType<typeof scene>>) {
  t.match(h.engine.confirmPayment(s.orderId), { ok: true });
  t.match(h.engine.restaurantAccept(s.orderId, { prepMinutes: 0 }), { ok: true });
  t.match(h.engine.acceptOffer(s.riderId, s.orderId), { ok: true });
  t.match(h.engine.pickedUp(s.riderId, s.orderId), { ok: true });
  for (let i = 1; i <= 3; i++) {
    const p = near(200 + i * 100, 0);
    h.engine.updateRiderPosition(s.riderId, p.lat, p.lng, 5, 0, 6, h.clock.now());
    h.clock.advance(h.server.limits.locationIntervalMs);
  }
  t.match(h.engine.delivered(s.riderId, s.orderId), { ok: true });
}

t.test('a seed /ws client that only authenticates follows its order to delivered', async (t) => {
  const s = await scene('seed');
  const c = openStream(`${base}/ws`);
  await c.send({ type: 'authenticate', token: s.customer.token });
  await c.next(ofType('authenticated'));
  t.match(
    await c.next(ofType('order_status_update')),
    { data: { order_id: s.orderId, event: 'snapshot', state: 'awaiting_payment' } },
    'its live order, as it stands',
  );
  await deliver(t, s);
  await c.next(ofType('order_status_update', (m) => m.data['status'] === 'delivered'));
  t.same(
    statuses(c.msgs, s.orderId),
    ['placed', 'placed', 'confirmed', 'preparing', 'in_transit', 'delivered'],
    'snapshot, then every change once',
  );
  const locs = c.msgs.filter((m) => m.type === 'location_update');
  t.ok(locs.length >= 1, `${locs.length} location updates while in transit`);
  t.match(locs[0], { data: { order_id: s.orderId, location: { latitude: Number, longitude: Number } } });
  t.notOk(
    c.msgs.some((m) => m.type === 'offer'),
    "the customer never sees the rider's offer",
  );
  c.ws.close();
});

t.test('a restaurant that only authenticates hears a new order when it is paid, and accepts it', async (t) => {
  const s = await scene('rest');
  const r = openStream(`${base}/v1/stream`, { token: s.restaurant.token });
  await r.next(ofType('authenticated'));
  await r.sync();
  const t0 = performance.now();
  h.engine.confirmPayment(s.orderId);
  const paid = await r.next(ofType('order_status_update', (m) => m.data['event'] === 'order_payment_confirmed'));
  t.comment(`payment → restaurant socket: ${(performance.now() - t0).toFixed(1)} ms`);
  t.match(paid, { data: { order_id: s.orderId, status: 'placed', accept_by: String } });
  t.match(h.engine.restaurantAccept(s.orderId, { restaurantId: s.restId, prepMinutes: 10 }), { ok: true });
  t.match(await r.next(ofType('order_status_update', (m) => m.data['status'] === 'confirmed')), {
    data: { order_id: s.orderId },
  });
  r.ws.close();
});

t.test('a rider hears its offer with no subscribe, then its job; others hear nothing of it', async (t) => {
  const s = await scene('offer');
  const d = openStream(`${base}/v1/stream`, { token: s.rider.token });
  const stranger = openStream(`${base}/v1/stream`, { token: (await h.user()).token });
  const otherRest = openStream(`${base}/v1/stream`, {
    token: (await h.user({ role: 'restaurant', restaurant_id: h.restaurant() })).token,
  });
  for (const c of [d, stranger, otherRest]) await c.next(ofType('authenticated'));
  h.engine.confirmPayment(s.orderId);
  h.engine.restaurantAccept(s.orderId, { prepMinutes: 0 });
  t.match(await d.next(ofType('offer')), {
    data: { order_id: s.orderId, offer_id: String, expires_at: String, pickup: { latitude: Number } },
  });
  t.match(h.engine.acceptOffer(s.riderId, s.orderId), { ok: true });
  t.match(await d.next(ofType('order_status_update', (m) => m.data['event'] === 'order_assigned')), {
    data: { delivery_person_id: s.riderId },
  });
  await stranger.sync();
  await otherRest.sync();
  t.same(
    stranger.msgs.map((m) => m.type),
    ['authenticated', 'pong'],
    'another customer hears nothing',
  );
  t.same(
    otherRest.msgs.map((m) => m.type),
    ['authenticated', 'pong'],
    'another restaurant hears nothing',
  );
  // A rider that reconnects is told its job again.
  d.ws.close();
  const again = openStream(`${base}/v1/stream`, { token: s.rider.token });
  t.match(await again.next(ofType('order_status_update')), {
    data: { order_id: s.orderId, event: 'snapshot', state: 'assigned' },
  });
  for (const c of [again, stranger, otherRest]) c.ws.close();
});

t.test('a feed and a subscription to the same order: each message once', async (t) => {
  const s = await scene('both');
  const c = openStream(`${base}/v1/stream`, { token: s.customer.token });
  await c.next(ofType('authenticated'));
  await c.send({ type: 'subscribe', order_id: s.orderId });
  await c.next(ofType('subscribed'));
  await deliver(t, s);
  await c.next(ofType('order_status_update', (m) => m.data['status'] === 'delivered'));
  await c.sync();
  const changes = c.msgs
    .filter((m) => m.type === 'order_status_update' && m.data['event'] !== 'snapshot')
    .map((m) => m.data['event']);
  t.same(changes, [
    'order_payment_confirmed',
    'order_accepted',
    'order_assigned',
    'order_picked_up',
    'order_delivered',
  ]);
  const locAts = c.msgs.filter((m) => m.type === 'location_update').map((m) => m.data['at']);
  t.equal(new Set(locAts).size, locAts.length, 'no location update twice');
  c.ws.close();
});

t.test('a cancelled order: status to every party, the refund notice to the customer only', async (t) => {
  const s = await scene('cancel');
  h.engine.confirmPayment(s.orderId);
  const c = openStream(`${base}/ws`, { token: s.customer.token });
  const r = openStream(`${base}/ws`, { token: s.restaurant.token });
  await c.next(ofType('order_status_update'));
  await r.next(ofType('order_status_update'));
  h.engine.cancelOrder({ orderId: s.orderId, by: 'restaurant' });
  t.match(
    await c.next(ofType('notification')),
    {
      data: { order_id: s.orderId, message: /refund/, id: new RegExp(`^order\\.${s.orderId}\\.\\d+\\.customer$`) },
    },
    'with the id of the stored notice and the push',
  );
  await r.next(ofType('order_status_update', (m) => m.data['status'] === 'cancelled'));
  await r.sync();
  t.notOk(
    r.msgs.some((m) => m.type === 'notification'),
    "the restaurant is not told of the customer's refund",
  );
  c.ws.close();
  r.ws.close();
});
