/**
 * The real server (`startServer`, Postgres behind BullMQ, the Auth emulator)
 * with push: devices register over REST; a restaurant app that only
 * authenticates on the seed's `/ws` hears a new order as soon as it is paid
 * and accepts it over REST; the pushes the persistence worker feeds reach the
 * FCM stand-in (recorded as sent), and the customer lists its notifications
 * with `GET /notifications?since=`, with the ids the pushes carried. A rider
 * whose socket drops while offered is offered by push and accepts on reconnect.
 */
import t from 'tap';
import { signWebhook } from '../../adapters/http/handlers/payment-webhook.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { offsetM } from '../../engine/index.js';
import { Frame, RIDER_PATH, RiderClient, RiderStatusCode } from '../../protocol/index.js';
import { nodeSocket } from '../support/ws-harness.js';
import { eventually } from '../support/push-pipeline.js';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';
import { ofType, openStream } from '../support/stream-client.js';

const SECRET = 'test-webhook-secret-0123456789';
const { url, auth, databaseUrl } = await startTestServer(t, { label: 'push', env: { PAYMENT_WEBHOOK_SECRET: SECRET } });
const db = serverDatabase(databaseUrl!, { max: 1 });
t.teardown(() => db.close());
const cast = await makeCast(auth);
const shop = await openRestaurant(url, cast.restaurant);

t.test('push tokens: register, list, move, remove; bad input gets a clear error', async (t) => {
  const c = cast.customer.token;
  t.match(
    await api(url, 'POST', '/push-tokens', {
      token: c,
      body: { token: 'cust-device-1', platform: 'android', app_version: '5.2.0' },
    }),
    { status: 201, body: { token: 'cust-device-1', platform: 'android', app_version: '5.2.0' } },
  );
  t.match(await api(url, 'POST', '/push-tokens', { token: c, body: { token: 'cust-device-2', platform: 'ios' } }), {
    status: 201,
  });
  t.same(
    (await api(url, 'GET', '/push-tokens', { token: c })).body.tokens.map((x: { token: string }) => x.token),
    ['cust-device-1', 'cust-device-2'],
  );
  t.match(await api(url, 'POST', '/push-tokens', { token: c, body: { token: 'x', platform: 'symbian' } }), {
    status: 400,
    body: { code: 'INVALID_ARGUMENT' },
  });
  t.match(await api(url, 'POST', '/push-tokens', { token: c, body: { token: 'has spaces', platform: 'web' } }), {
    status: 400,
    body: { code: 'INVALID_ARGUMENT' },
  });
  t.match(
    await api(url, 'POST', '/push-tokens', { token: cast.admin.token, body: { token: 'adm', platform: 'web' } }),
    { status: 403, body: { code: 'AUTH_ROLE_FORBIDDEN' } },
  );
  // The second device is handed to another customer: it leaves the first.
  t.match(
    await api(url, 'POST', '/push-tokens', {
      token: cast.customer2.token,
      body: { token: 'cust-device-2', platform: 'ios' },
    }),
    { status: 201 },
  );
  t.same(
    (await api(url, 'GET', '/push-tokens', { token: c })).body.tokens.map((x: { token: string }) => x.token),
    ['cust-device-1'],
  );
  t.match(await api(url, 'DELETE', '/push-tokens/cust-device-2', { token: c }), {
    status: 404,
    body: { code: 'PUSH_TOKEN_NOT_FOUND' },
  });
  t.match(await api(url, 'DELETE', '/push-tokens/cust-device-2', { token: cast.customer2.token }), { status: 200 });

  // The path is decoded once: a token with a colon (as FCM's have) is removed by its encoded form,
  // and malformed percent-encoding names no token (found by npm run fuzz: it was a 500).
  t.match(
    await api(url, 'POST', '/push-tokens', { token: c, body: { token: 'fcm:APA91b-x_1', platform: 'android' } }),
    { status: 201 },
  );
  t.match(await api(url, 'DELETE', `/push-tokens/${encodeURIComponent('fcm:APA91b-x_1')}`, { token: c }), {
    status: 200,
  });
  for (const bad of ['%FF', '%E0%A4%A', '%ED%A0%80', '%25', '%2CyW%25%246W9'])
    t.match(
      await api(url, 'DELETE', `/push-tokens/${bad}`, { token: c }),
      { status: 404, body: { code: 'PUSH_TOKEN_NOT_FOUND' } },
      `DELETE /push-tokens/${bad}`,
    );
});

t.test(
  'a restaurant app that only authenticates hears a paid order and accepts it; pushes and notices follow',
  async (t) => {
    await api(url, 'POST', '/push-tokens', {
      token: cast.restaurant.token,
      body: { token: 'rest-tablet', platform: 'android' },
    });
    const r = openStream(`${url.replace('http', 'ws')}/ws`);
    await r.send({ type: 'authenticate', token: cast.restaurant.token });
    await r.next(ofType('authenticated'));
    await r.sync();
    const o = await api(url, 'POST', '/orders', {
      token: cast.customer.token,
      body: seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
    });
    const p = await api(url, 'POST', '/payments', {
      token: cast.customer.token,
      body: { order_id: o.body.id, payment_method: { type: 'UPI', vpa: 'user@paytm' }, amount: 280 },
    });
    const raw = JSON.stringify({
      entity: 'event',
      event: 'payment.captured',
      contains: ['payment'],
      created_at: 1700000000,
      payload: {
        payment: {
          entity: {
            id: 'pay_push_1',
            amount: 28_000,
            currency: 'INR',
            status: 'captured',
            method: 'upi',
            vpa: 'user@paytm',
            notes: { transaction_id: p.body.transaction_id },
          },
        },
      },
    });
    const t0 = performance.now();
    const hook = await api(url, 'POST', '/payments/webhook', {
      raw,
      headers: {
        'content-type': 'application/json',
        'x-razorpay-signature': signWebhook(SECRET, raw),
        'x-razorpay-event-id': 'evt_push_1',
      },
    });
    t.equal(hook.status, 200);
    const heard = await r.next(
      ofType(
        'order_status_update',
        (m) => m.data['order_id'] === o.body.id && m.data['event'] === 'order_payment_confirmed',
      ),
    );
    t.comment(`webhook sent → restaurant socket heard the order: ${(performance.now() - t0).toFixed(0)} ms`);
    t.match(heard, { data: { status: 'placed', accept_by: String } });
    const acc = await api(url, 'PUT', `/orders/${o.body.id}/status`, {
      token: cast.restaurant.token,
      body: { status: 'confirmed', estimated_preparation_time: 20 },
    });
    t.equal(acc.status, 200, JSON.stringify(acc.body));
    await r.next(
      ofType('order_status_update', (m) => m.data['order_id'] === o.body.id && m.data['status'] === 'confirmed'),
    );
    r.ws.close();

    const sent = async (token: string) =>
      (
        await db.query<{ notification_id: string; state: string }>(
          'SELECT notification_id, state FROM push_sends WHERE token = $1',
          [token],
        )
      ).rows;
    const answered = async (token: string) => (await sent(token)).some((r) => r.state !== 'claimed');
    await eventually(
      async () => (await answered('cust-device-1')) && (await answered('rest-tablet')),
      15_000,
      'both pushes answered',
    );
    t.match(await sent('rest-tablet'), [{ state: 'sent' }], "the restaurant's new-order push went out");
    t.match(await sent('cust-device-1'), [{ state: 'sent' }], 'the customer\'s "confirmed" push went out');
    const list = await api(url, 'GET', '/notifications?since=0', { token: cast.customer.token });
    t.equal(list.status, 200);
    const mine = list.body.notifications.filter((n: { order_id: string }) => n.order_id === o.body.id);
    t.match(mine, [{ kind: 'confirmed', title: String }]);
    t.equal(mine[0].id, (await sent('cust-device-1'))[0]!.notification_id, 'the stored notice has the id of the push');
    const after = await api(url, 'GET', `/notifications?since=${list.body.next_since}`, { token: cast.customer.token });
    t.same(after.body.notifications, [], 'nothing after the cursor');
    t.match(await api(url, 'GET', '/notifications?since=-1', { token: cast.customer.token }), {
      status: 400,
      body: { code: 'INVALID_ARGUMENT' },
    });
    const other = await api(url, 'GET', '/notifications', { token: cast.customer2.token });
    t.notOk(
      other.body.notifications.some((n: { order_id: string }) => n.order_id === o.body.id),
      'another customer sees none of it',
    );
  },
);

t.test(
  'a rider whose socket dropped is offered by push, hears the offer again on reconnect, and accepts',
  async (t) => {
    const riderUrl = `${url.replace('http', 'ws')}${RIDER_PATH}`;
    const reg = await api(url, 'POST', '/delivery-persons', { token: cast.rider.token, body: seed.deliveryPerson });
    t.equal(reg.status, 201);
    await api(url, 'POST', '/push-tokens', {
      token: cast.rider.token,
      body: { token: 'rider-phone', platform: 'android' },
    });
    const first = new RiderClient({
      url: riderUrl,
      getToken: () => cast.rider.token,
      socket: nodeSocket,
      random: () => 0.5,
    });
    first.start();
    await first.waitFor((f) => f.type === Frame.WELCOME);
    first.sendPosition({
      ...offsetM(seed.restaurant.address.latitude, seed.restaurant.address.longitude, 90, 300),
      accuracy: 5,
      heading: NaN,
      speed: 4,
      at: Date.now(),
    });
    first.setStatus(RiderStatusCode.ONLINE);
    await first.waitFor((f) => f.type === Frame.ACK && f.lastSeq >= 2);
    const placed = await api(url, 'POST', '/orders', {
      token: cast.customer.token,
      body: {
        ...seed.order(shop.id, [{ menu_item_id: shop.items['Dal Makhani']!, quantity: 1 }]),
        payment_method: { type: 'CASH' },
      },
    });
    const orderId = placed.body.id as string;
    const offer = first.waitFor((f) => f.type === Frame.OFFER && f.orderId === orderId);
    await api(url, 'PUT', `/orders/${orderId}/status`, {
      token: cast.restaurant.token,
      body: { status: 'confirmed', estimated_preparation_time: 0 },
    });
    await offer;
    first.stop();
    const rows = async () =>
      (
        await db.query<{ notification_id: string; state: string }>(
          `SELECT notification_id, state FROM push_sends WHERE token = 'rider-phone'`,
        )
      ).rows;
    await eventually(
      async () => (await rows()).some((r) => r.notification_id.startsWith('offer.') && r.state !== 'claimed'),
      15_000,
      'the offer push',
    );
    t.match(
      await rows(),
      [{ notification_id: /^offer\..+\.rider$/, state: 'sent' }],
      'the offer went by push while the socket was down',
    );
    // The app opens from the push: its stream feed names the live offer, and it accepts on its rider socket.
    const feed = openStream(`${url.replace('http', 'ws')}/v1/stream`, { token: cast.rider.token });
    t.match(await feed.next(ofType('offer')), { data: { order_id: orderId, expires_at: String } });
    feed.ws.close();
    const again = new RiderClient({
      url: riderUrl,
      getToken: () => cast.rider.token,
      socket: nodeSocket,
      random: () => 0.5,
    });
    again.start();
    t.teardown(() => again.stop());
    await again.waitFor((f) => f.type === Frame.WELCOME);
    again.accept(orderId);
    await again.waitFor((f) => f.type === Frame.ASSIGNED && f.orderId === orderId);
    t.pass('assigned after reconnecting');
  },
);
