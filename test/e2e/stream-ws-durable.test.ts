/**
 * `/v1/stream` and `/ws` with a durability barrier, as the server runs them
 * (the WriteBehind's `barrier`, as for riders in rider-ws-durable.test.ts): a
 * customer is told of a transition (`order_status_update`, `notification`)
 * only once its events are durable, so nothing it was told is taken back by a
 * crash; what is held goes out in order, and a subscription's `subscribed`
 * and snapshot queue behind what was held before them. Replies that tell
 * nothing of engine state (`authenticated`, `pong`, `error`) go at once.
 */
import t from 'tap';
import WebSocket from 'ws';
import type { CustomerId } from '../../protocol/index.js';
import { Gate } from '../support/durability-gate.js';
import { near, startHarness } from '../support/ws-harness.js';

const gate = new Gate();
const h = await startHarness(t, { durable: gate.wait });
const base = `ws://127.0.0.1:${h.server.port}`;

interface Msg {
  type: string;
  data: Record<string, unknown>;
}

function open(path: string, token: string) {
  const ws = new WebSocket(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
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
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  const opened = new Promise<void>((r) => ws.once('open', () => r()));
  return {
    ws,
    msgs,
    closed,
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
    /** Sends a ping and waits for its pong: the server has handled everything sent before. */
    async sync(): Promise<void> {
      const n = msgs.filter((m) => m.type === 'pong').length;
      ws.send(JSON.stringify({ type: 'ping' }));
      await this.next(() => msgs.filter((m) => m.type === 'pong').length > n);
    },
  };
}
const told = (msgs: readonly Msg[]) =>
  msgs
    .filter((m) => m.type !== 'pong' && m.type !== 'authenticated')
    .map((m) => `${m.type}:${String(m.data['event'] ?? m.data['order_id'])}`);

async function scene() {
  const customer = await h.user();
  const restId = h.restaurant();
  const placed = h.engine.placeOrder({
    customerId: customer.uid as CustomerId,
    restaurantId: restId,
    drop: near(1500, 0),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  return { customer, orderId: placed.value };
}

t.test('an order_status_update waits until its events are durable; held updates go in order', async (t) => {
  const s = await scene();
  const c = open('/v1/stream', s.customer.token);
  await c.next((m) => m.type === 'authenticated');
  await c.send({ type: 'subscribe', order_id: s.orderId });
  await c.next((m) => m.type === 'subscribed');
  await c.sync();

  gate.shut();
  const mark = c.msgs.length;
  t.ok(h.engine.restaurantAccept(s.orderId, { prepMinutes: 20 }).ok);
  t.ok(h.engine.foodReady(s.orderId).ok);
  await c.sync();
  t.same(told(c.msgs.slice(mark)), [], 'the engine applied both, the customer is told nothing yet (a pong still goes)');
  t.ok(gate.calls > 0, 'the barrier was asked');

  gate.open();
  await c.next((m) => m.data['event'] === 'order_food_ready');
  t.same(
    told(c.msgs.slice(mark)),
    ['order_status_update:order_accepted', 'order_status_update:order_food_ready'],
    'both, in order, once durable',
  );
  t.match(
    c.msgs.find((m) => m.data['event'] === 'order_accepted'),
    { data: { status: 'confirmed' } },
  );

  // A refused barrier (Redis down): nothing told; asked again after a while, then told.
  gate.refusals = 1;
  const mark2 = c.msgs.length;
  const calls = gate.calls;
  t.ok(h.engine.cancelOrder({ orderId: s.orderId, by: 'admin' }).ok);
  await c.sync();
  t.equal(gate.calls, calls + 1, 'asked once and refused');
  t.same(told(c.msgs.slice(mark2)), [], 'nothing told after a refused barrier');
  h.clock.advance(250);
  await c.next((m) => m.type === 'notification');
  t.same(
    told(c.msgs.slice(mark2)),
    ['order_status_update:order_cancelled', `notification:${s.orderId}`],
    'the cancellation and its refund notice, once durable',
  );
  c.ws.close();
  await c.closed;
});

t.test('subscribed and its snapshot queue behind what was held before them; later updates follow', async (t) => {
  const s = await scene();
  const c = open('/ws', s.customer.token);
  await c.next((m) => m.type === 'authenticated');
  // The customer's feed begins with its live order as it stands; what follows is measured from here.
  await c.next((m) => m.type === 'order_status_update' && m.data['event'] === 'snapshot');
  const msgs = () => c.msgs.slice(c.msgs.findIndex((m) => m.data['event'] === 'snapshot') + 1);
  gate.shut();
  t.ok(
    h.engine.restaurantAccept(s.orderId, { prepMinutes: 20 }).ok,
    'a transition before the subscription, not yet durable',
  );
  await c.send({ type: 'subscribe', order_id: s.orderId });
  await c.sync();
  t.ok(h.engine.foodReady(s.orderId).ok, 'and one after it');
  await c.sync();
  t.same(told(msgs()), [], 'nothing while shut, not even subscribed: its snapshot tells of the first transition');

  gate.open();
  await c.next((m) => m.data['event'] === 'order_food_ready');
  t.same(
    told(msgs()),
    [
      'order_status_update:order_accepted',
      'subscribed:' + s.orderId,
      'order_status_update:snapshot',
      'order_status_update:order_food_ready',
    ],
    "the feed tells of the first transition, the subscription's snapshot follows it, the second is told once",
  );
  t.match(
    msgs().find((m) => m.data['event'] === 'snapshot'),
    { data: { state: 'preparing' } },
    'the snapshot includes the held transition',
  );

  gate.shut();
  await c.send({ type: 'unsubscribe', order_id: s.orderId });
  await c.sync();
  await c.send({ type: 'subscribe', order_id: s.orderId });
  await c.sync();
  gate.open();
  await c.next(
    (m) =>
      m.type === 'order_status_update' &&
      m.data['event'] === 'snapshot' &&
      c.msgs.filter((x) => x.type === 'subscribed').length === 2,
  );
  t.same(
    told(msgs()).slice(4),
    ['unsubscribed:' + s.orderId, 'subscribed:' + s.orderId, 'order_status_update:snapshot'],
    'unsubscribe and subscribe keep their order',
  );
  t.ok(h.engine.cancelOrder({ orderId: s.orderId, by: 'admin' }).ok);
  await c.next((m) => m.data['event'] === 'order_cancelled');
  t.pass('still watching after subscribing again');
  c.ws.close();
  await c.closed;
});

t.test('errors and pongs are not held', async (t) => {
  const s = await scene();
  const stranger = await h.user();
  const c = open('/v1/stream', stranger.token);
  await c.next((m) => m.type === 'authenticated');
  gate.shut();
  await c.send({ type: 'subscribe', order_id: s.orderId });
  t.match(
    await c.next((m) => m.type === 'error'),
    { data: { code: 'AUTH_OBJECT_FORBIDDEN' } },
    'a refusal goes at once',
  );
  await c.sync();
  gate.open();
  c.ws.close();
  await c.closed;
});

t.test('a party feed waits for durability too: a restaurant hears a paid order once it is durable', async (t) => {
  const customer = await h.user();
  const restId = h.restaurant();
  const restaurant = await h.user({ role: 'restaurant', restaurant_id: restId });
  const placed = h.engine.placeOrder({
    customerId: customer.uid as CustomerId,
    restaurantId: restId,
    drop: near(1500, 0),
    paid: false,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const r = open('/ws', restaurant.token);
  await r.next((m) => m.type === 'order_status_update' && m.data['event'] === 'snapshot');
  gate.shut();
  t.ok(h.engine.confirmPayment(placed.value).ok);
  await r.sync();
  t.notOk(
    r.msgs.some((m) => m.data['event'] === 'order_payment_confirmed'),
    'not told while the payment is not durable',
  );
  gate.open();
  t.match(await r.next((m) => m.data['event'] === 'order_payment_confirmed'), {
    data: { order_id: placed.value, status: 'placed' },
  });
  r.ws.close();
  await r.closed;
});
