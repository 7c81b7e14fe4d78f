/**
 * `/v1/stream` and the seed's `/ws` over real sockets with real emulator
 * tokens: in-band and upgrade authentication, the auth timeout, ownership of
 * subscriptions (customer, restaurant, rider; nobody else), status updates
 * and rider locations throttled to one a second per order.
 */
import t from 'tap';
import WebSocket from 'ws';
import { CloseCode, type CustomerId, type RiderId } from '../../protocol/index.js';
import { near, startHarness } from '../support/ws-harness.js';

const h = await startHarness(t);
const base = `ws://127.0.0.1:${h.server.port}`;

interface Msg {
  type: string;
  data: Record<string, unknown>;
}

function open(path: string, opts: { token?: string } = {}) {
  const ws = new WebSocket(`${base}${path}`, opts.token ? { headers: { authorization: `Bearer ${opts.token}` } } : {});
  const msgs: Msg[] = [];
  const waiters = new Set<{ pred: (m: Msg) => boolean; done: (m: Msg) => void }>();
  ws.on('error', () => undefined);
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString()) as Msg;
    msgs.push(m);
    for (const w of waiters)
      if (w.pred(m)) {
        waiters.delete(w);
        w.done(m);
      }
  });
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.once('close', (code, reason) => r({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((r) => ws.once('open', () => r()));
  return {
    ws,
    msgs,
    closed,
    opened,
    send: async (m: unknown) => {
      await opened;
      ws.send(JSON.stringify(m));
    },
    next(pred: (m: Msg) => boolean, ms = 15_000): Promise<Msg> {
      const seen = msgs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(msgs)}`)), ms);
        waiters.add({
          pred,
          done: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
  };
}
const ofType =
  (type: string, extra: (m: Msg) => boolean = () => true) =>
  (m: Msg) =>
    m.type === type && extra(m);

/** A customer, a restaurant account, and an order of that customer at that restaurant. */
async function scene() {
  const customer = await h.user();
  const restId = h.restaurant();
  const restaurant = await h.user({ role: 'restaurant', restaurant_id: restId });
  const placed = h.engine.placeOrder({
    customerId: customer.uid as CustomerId,
    restaurantId: restId,
    drop: near(1500, 0),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  return { customer, restaurant, restId, orderId: placed.value };
}

t.test('seed clients: authenticate in-band on /ws, then watch their own order', async (t) => {
  const s = await scene();
  const c = open('/ws');
  await c.send({ type: 'authenticate', token: s.customer.token });
  t.match(await c.next(ofType('authenticated')), { data: { uid: s.customer.uid, role: 'customer' } });
  await c.send({ type: 'subscribe', order_id: s.orderId });
  t.match(await c.next(ofType('subscribed')), { data: { order_id: s.orderId } });
  t.match(await c.next(ofType('order_status_update')), {
    data: { order_id: s.orderId, status: 'placed', event: 'snapshot' },
  });
  h.engine.restaurantAccept(s.orderId, { prepMinutes: 15 });
  t.match(await c.next(ofType('order_status_update', (m) => m.data['event'] === 'order_accepted')), {
    data: { status: 'confirmed' },
  });
  c.ws.close();
});

t.test("only the order's customer, restaurant and rider may subscribe", async (t) => {
  const s = await scene();
  const stranger = await h.user();
  const otherRest = await h.user({ role: 'restaurant', restaurant_id: h.restaurant() });
  const rider = await h.rider('watcher');
  for (const [who, token, want] of [
    ['its restaurant', s.restaurant.token, 'subscribed'],
    ['another customer', stranger.token, 'error'],
    ['another restaurant', otherRest.token, 'error'],
    ['a rider not assigned', rider.token, 'error'],
  ] as const) {
    const c = open('/v1/stream', { token });
    await c.next(ofType('authenticated'));
    await c.send({ type: 'subscribe', order_id: s.orderId });
    const m = await c.next((m) => m.type === 'subscribed' || m.type === 'error');
    t.equal(m.type, want, who);
    if (want === 'error') t.equal(m.data['code'], 'AUTH_OBJECT_FORBIDDEN', `${who}: code`);
    c.ws.close();
  }
  const c = open('/v1/stream', { token: stranger.token });
  await c.next(ofType('authenticated'));
  await c.send({ type: 'subscribe', order_id: 'no-such-order' });
  t.match(
    await c.next(ofType('error')),
    { data: { code: 'AUTH_OBJECT_FORBIDDEN' } },
    "a missing order looks like someone else's",
  );
  await c.send({ type: 'subscribe', order_id: 'bad id!' });
  t.match(await c.next(ofType('error', (m) => m.data['code'] === 'INVALID_ARGUMENT')), { type: 'error' });
  c.ws.close();
});

t.test('a socket that does not authenticate in time is closed with 4009', async (t) => {
  const c = open('/ws');
  await c.opened;
  h.clock.advance(h.server.limits.authTimeoutMs);
  t.same(await c.closed, { code: CloseCode.AUTH_TIMEOUT, reason: 'AUTH_TIMEOUT' });
  const d = open('/ws');
  await d.send({ type: 'subscribe', order_id: 'x' });
  t.match(await d.next(ofType('error')), { data: { code: 'AUTH_TOKEN_MISSING' } }, 'nothing before authentication');
  await d.send({ type: 'authenticate', token: 'garbage' });
  t.match(await d.next(ofType('error', (m) => m.data['code'] === 'AUTH_TOKEN_INVALID')), { type: 'error' });
  t.equal((await d.closed).code, CloseCode.AUTH_FAILED);
  const bad = new WebSocket(`${base}/v1/stream`, { headers: { authorization: 'Bearer garbage' } });
  const status = await new Promise<number>((r) => {
    bad.on('unexpected-response', (_q, res) => r(res.statusCode ?? 0));
    bad.on('error', () => undefined);
  });
  t.equal(status, 401, 'a bad token at upgrade is refused before the socket opens');
});

t.test("the assigned rider's location reaches the customer at most once a second", async (t) => {
  const s = await scene();
  const riderId = `loc-${process.pid}` as RiderId;
  h.engine.registerRider({ riderId });
  h.engine.riderOnline(riderId);
  h.engine.updateRiderPosition(riderId, near(200).lat, near(200).lng, 5, NaN, 0, h.clock.now());
  const c = open('/v1/stream', { token: s.customer.token });
  await c.next(ofType('authenticated'));
  await c.send({ type: 'subscribe', order_id: s.orderId });
  await c.next(ofType('subscribed'));
  h.engine.restaurantAccept(s.orderId, { prepMinutes: 0 });
  t.match(h.engine.acceptOffer(riderId, s.orderId), { ok: true });
  t.match(await c.next(ofType('order_status_update', (m) => m.data['event'] === 'order_assigned')), {
    data: { delivery_person_id: riderId, status: 'preparing' },
  });
  // Ten positions in two seconds of engine time: two location updates, not ten.
  for (let i = 1; i <= 10; i++) {
    const p = near(200 - i * 10);
    h.engine.updateRiderPosition(riderId, p.lat, p.lng, 5, 90, 4, h.clock.now());
    h.clock.advance(200);
  }
  await c.send({ type: 'ping' });
  await c.next(ofType('pong'));
  const locs = c.msgs.filter((m) => m.type === 'location_update');
  t.ok(locs.length >= 1 && locs.length <= 2, `${locs.length} location updates for 10 positions in 2 s`);
  t.match(locs[0], {
    data: { order_id: s.orderId, location: { latitude: Number, longitude: Number }, heading: 90, speed: 4 },
  });
  h.engine.cancelOrder({ orderId: s.orderId, by: 'admin' });
  t.match(await c.next(ofType('order_status_update', (m) => m.data['status'] === 'cancelled')), {
    type: 'order_status_update',
  });
  t.match(await c.next(ofType('notification')), { data: { message: /refund/ } });
  c.ws.close();
});
