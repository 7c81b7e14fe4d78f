/**
 * Pushes from the durable event stream, end to end through real parts: the
 * engine's events go through write-behind and BullMQ to Postgres, the stored
 * batches feed the BullMQ push queue, and the push worker sends with the real
 * firebase-admin messaging code to the local FCM v1 stand-in, whose received
 * bodies are checked: who hears what, priorities and TTLs, token cleanup,
 * retries, and at most one push per notice and device across redeliveries.
 */
import t from 'tap';
import { pushEventsOf } from '../../../adapters/push/push-feed.js';
import type { EventRecord } from '../../../engine/index.js';
import { reminderFor } from '../../../engine/notify-rules.js';
import type { OrderId } from '../../../protocol/index.js';
import { world, cust } from '../../engine/world.js';
import { eventually, startPushPipeline } from '../../support/push-pipeline.js';

const w = world();
const p = await startPushPipeline(t, w.engine);
const restId = w.restaurant('r1');
await p.store.register({
  token: 'rest-tab',
  userId: 'staff-1',
  party: 'restaurant:r1',
  platform: 'android',
  appVersion: '2.1.0',
});
await p.store.register({ token: 'cust-phone', userId: 'c1', party: 'customer:c1', platform: 'ios', appVersion: '5.0' });
await p.store.register({
  token: 'cust-tablet',
  userId: 'c1',
  party: 'customer:c1',
  platform: 'android',
  appVersion: '5.0',
});
await p.store.register({
  token: 'rider-phone',
  userId: 'u-d1',
  party: 'rider:d1',
  platform: 'android',
  appVersion: '1.0',
});

type Got = { token: string; kind: string; order_id: string; notification_id: string; priority: string; ttl: string };
const got = (): Got[] =>
  p.fcm.received
    .filter((r) => r.status === 200)
    .map((r) => {
      const m = r.message as {
        token: string;
        data: Record<string, string>;
        android: { priority: string; ttl: string };
      };
      return {
        token: m.token,
        kind: m.data['kind']!,
        order_id: m.data['order_id']!,
        notification_id: m.data['notification_id']!,
        priority: m.android.priority,
        ttl: m.android.ttl,
      };
    });
const kindsFor = (token: string, order: string) =>
  got()
    .filter((g) => g.token === token && g.order_id === order)
    .map((g) => g.kind);

t.test('an order from payment to delivery: each party hears its part, once per device', async (t) => {
  const rider = w.rider('d1');
  const placed = w.engine.placeOrder({
    customerId: cust('c1'),
    restaurantId: restId,
    drop: { lat: 12.95, lng: 77.62 },
    paid: false,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const o = placed.value;
  w.engine.confirmPayment(o);
  await p.writeBehind.barrier();
  await eventually(() => kindsFor('rest-tab', o).length === 1, 10_000, 'the restaurant push');
  const first = got().find((g) => g.token === 'rest-tab')!;
  t.match(first, { kind: 'new_order', priority: 'high' });
  t.ok(Number(first.ttl.replace('s', '')) > 0, `TTL is the accept deadline (${first.ttl})`);
  w.engine.restaurantAccept(o, { prepMinutes: 0 });
  w.engine.acceptOffer(rider, o);
  w.engine.pickedUp(rider, o);
  w.engine.delivered(rider, o);
  await p.writeBehind.barrier();
  const want = ['confirmed', 'rider_assigned', 'picked_up', 'delivered'];
  await eventually(
    () => kindsFor('cust-tablet', o).length === want.length && kindsFor('cust-phone', o).length === want.length,
    10_000,
    'customer pushes',
  );
  t.same(kindsFor('cust-phone', o), want, "the customer's phone, in order");
  t.same(kindsFor('cust-tablet', o), want, 'and their tablet');
  t.same(kindsFor('rest-tab', o), ['new_order'], 'the restaurant hears the new order only');
  t.same(kindsFor('rider-phone', o), [], 'a connected rider gets its offer on the socket, not by push');
  const ids = got().map((g) => `${g.notification_id}/${g.token}`);
  t.equal(new Set(ids).size, ids.length, 'no push twice');
  const listed = await p.store.noticesOf('customer:c1', 0, 100);
  t.same(
    listed.filter((n) => n.order_id === o).map((n) => n.kind),
    want,
    'the notices are stored for GET /notifications',
  );
  t.ok(
    got().some((g) => g.notification_id === listed[0]!.id),
    'with the id the push carried',
  );
  w.engine.riderOffline(rider);
});

t.test('a rider whose socket dropped while offered gets the offer by push, TTL its expiry', async (t) => {
  const before = p.fcm.received.length;
  const rider = w.rider('d1-offer');
  await p.store.register({
    token: 'rider2-phone',
    userId: 'u-d2',
    party: 'rider:d1-offer',
    platform: 'android',
    appVersion: '1.0',
  });
  const o = w.order(restId, { prepMinutes: 0 });
  const offer = w.engine.getOrder(o);
  t.ok(offer.ok && offer.value.offer?.riderId === rider, 'offered to the rider');
  w.clock.advance(5_000);
  w.engine.riderDisconnected(rider);
  await p.writeBehind.barrier();
  await eventually(() => kindsFor('rider2-phone', o).length === 1, 10_000, 'the offer push');
  const m = p.fcm.received.slice(before).find((r) => r.message.token === 'rider2-phone')!.message as {
    data: Record<string, string>;
    android: { ttl: string; priority: string };
  };
  const expiresAt = offer.ok ? offer.value.offer!.expiresAt : 0;
  t.equal(m.android.ttl, `${(expiresAt - w.clock.now()) / 1000}s`, 'TTL: what is left of the offer');
  t.match(m, { android: { priority: 'high' }, data: { kind: 'offer', expires_at: new Date(expiresAt).toISOString() } });
  t.notOk('drop' in m.data || JSON.stringify(m).includes('12.95'), 'no address in the push');
  w.engine.riderReconnected(rider);
});

t.test("FCM's per-token answers: dead tokens deleted, busy ones retried, every push at most once", async (t) => {
  await p.store.register({ token: 'dead', userId: 'c1', party: 'customer:c1', platform: 'android', appVersion: '5.0' });
  await p.store.register({ token: 'garbage', userId: 'c1', party: 'customer:c1', platform: 'web', appVersion: '5.0' });
  await p.store.register({ token: 'busy', userId: 'c1', party: 'customer:c1', platform: 'android', appVersion: '5.0' });
  p.fcm.fail('dead', { kind: 'unregistered' });
  p.fcm.fail('garbage', { kind: 'invalid' });
  p.fcm.fail('busy', { kind: 'quota', retryAfterS: 1 }, 2);
  const o = w.order(restId, { accept: false });
  w.engine.restaurantAccept(o, { prepMinutes: 20 });
  await p.writeBehind.barrier();
  await eventually(() => kindsFor('busy', o).length === 1, 10_000, 'the busy device, after two 429s');
  const tried = p.fcm.received.filter(
    (r) => r.message.token === 'busy' && (r.message as { data: Record<string, string> }).data['order_id'] === o,
  );
  t.same(
    tried.map((r) => r.status),
    [429, 429, 200],
    'retried with backoff until sent',
  );
  const left = (await p.store.tokensOfUser('c1')).map((x) => x.token).sort();
  t.same(left, ['busy', 'cust-phone', 'cust-tablet'], 'unregistered and invalid tokens deleted');
  p.fcm.clear();
  // The same notices again (a redelivered job, a restart): nothing is sent twice.
  const n = reminderFor({ id: o, restaurantId: restId }, 1, w.clock.now() + 60_000, w.clock.now());
  await p.worker.deliver([n]);
  await p.worker.deliver([n]);
  t.same(
    got()
      .filter((g) => g.notification_id === n.id)
      .map((g) => g.token),
    ['rest-tab'],
    'a notice delivered twice is pushed once',
  );
  t.match(await p.store.sendCounts(), { dropped: 2, sent: Number }, 'per-token states kept');
});

t.test('a token that moves to another user leaves the first', async (t) => {
  await p.store.register({
    token: 'shared-phone',
    userId: 'c1',
    party: 'customer:c1',
    platform: 'android',
    appVersion: '5.0',
  });
  await p.store.register({
    token: 'shared-phone',
    userId: 'c2',
    party: 'customer:c2',
    platform: 'android',
    appVersion: '5.1',
  });
  t.notOk((await p.store.tokensOfUser('c1')).some((x) => x.token === 'shared-phone'));
  t.same(await p.store.tokensOfUser('c2'), [{ token: 'shared-phone', platform: 'android', app_version: '5.1' }]);
  t.equal(await p.store.remove('c1', 'shared-phone'), false, 'the first user cannot remove it any more');
  t.equal(await p.store.remove('c2', 'shared-phone'), true);
});

t.test('a paid order the restaurant has not accepted: reminded each minute, once each, until accepted', async (t) => {
  p.fcm.clear();
  const placed = w.engine.placeOrder({
    customerId: cust('c1'),
    restaurantId: restId,
    drop: { lat: 12.95, lng: 77.62 },
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const o = placed.value;
  await p.writeBehind.barrier();
  await eventually(() => kindsFor('rest-tab', o).length === 1, 10_000, 'the new-order push');
  t.equal(await p.worker.remind(), 0, 'nothing due before a minute has passed');
  w.clock.advance(61_000);
  t.equal(await p.worker.remind(), 1);
  t.equal(await p.worker.remind(), 1, 'a second sweep names the same reminder');
  w.clock.advance(60_000);
  await p.worker.remind();
  t.same(
    kindsFor('rest-tab', o),
    ['new_order', 'new_order_reminder', 'new_order_reminder'],
    'one reminder per minute waited',
  );
  const r = p.fcm.received
    .filter(
      (x) => x.message.token === 'rest-tab' && (x.message as { data: Record<string, string> }).data['order_id'] === o,
    )
    .at(-1)!.message as { android: { priority: string; collapse_key: string } };
  t.match(r, { android: { priority: 'high', collapse_key: `new-${o}` } }, 'reminders replace each other on the device');
  w.engine.restaurantAccept(o, { prepMinutes: 10 });
  await p.writeBehind.barrier();
  await eventually(
    async () => (await p.store.waitingOrders()).every((x) => x.id !== o),
    10_000,
    'the acceptance stored',
  );
  w.clock.advance(60_000);
  await p.worker.remind();
  t.equal(kindsFor('rest-tab', o).length, 3, 'no reminder once accepted');
});

t.test("a notice over FCM's 4096 bytes is never sent, and recorded as failed", async (t) => {
  const n = reminderFor({ id: 'big' as OrderId, restaurantId: restId }, 1, w.clock.now() + 60_000, w.clock.now());
  await p.worker.deliver([{ ...n, id: 'too-big', data: { note: 'x'.repeat(5_000) } }]);
  t.notOk(
    got().some((g) => g.notification_id === 'too-big'),
    'nothing reached FCM',
  );
  const rows = await p.db.query<{ state: string; detail: string }>(
    `SELECT state, detail FROM push_sends WHERE notification_id = 'too-big'`,
  );
  t.same(rows.rows, [{ state: 'failed', detail: 'payload over 4096 bytes' }]);
});

t.test('a job of one event, as queued before the feed batched them, is still delivered', async (t) => {
  // Another engine, so the pipeline's feed never sees this order: only the old-shaped job tells of it.
  const other = world();
  other.restaurant('r1');
  const records: EventRecord[] = [];
  other.engine.subscribeBatches(({ events }) => {
    for (const event of events)
      records.push({ event, state: other.engine.snapshotRow(event.aggregate, event.id) ?? null, idCounter: 0 });
  });
  // Its own id: the other engine's ids repeat this one's (same seed), and a notice goes once per id.
  const placed = other.engine.placeOrder({
    orderId: 'legacy-1' as OrderId,
    customerId: cust('c1'),
    restaurantId: restId,
    drop: { lat: 12.95, lng: 77.62 },
    paid: false,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const o = placed.value;
  other.engine.confirmPayment(o);
  const paid = pushEventsOf(records).find((e) => e.job.event.type === 'order_payment_confirmed');
  if (!paid) throw new Error('no payment confirmation among the notice events');
  await p.pushQueue.enqueue([{ id: `p.${paid.key}`, data: paid.job }]);
  await eventually(() => kindsFor('rest-tab', o).length === 1, 10_000, 'the restaurant push');
  t.same(kindsFor('rest-tab', o), ['new_order']);
});
