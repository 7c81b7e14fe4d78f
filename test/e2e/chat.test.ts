/**
 * Chat per order over real sockets and REST on the real server: a customer
 * and the assigned rider talk over `/ws` and `/v1/stream`, a restaurant with
 * no socket open gets a push, strangers can neither read nor write, bad text
 * gets a clear error, resends are stored once, the rate is limited, and the
 * conversation is still there after the server restarts.
 */
import t from 'tap';
import { parseServerConfig } from '../../adapters/server/server-config.js';
import { startServer } from '../../adapters/server/server.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { offsetM } from '../../engine/index.js';
import { Frame, RIDER_PATH, RiderClient, RiderStatusCode } from '../../protocol/index.js';
import { EMULATOR_HOST, EMULATOR_PROJECT } from '../support/firebase-emulator.js';
import { eventually } from '../support/push-pipeline.js';
import { api, makeCast, openRestaurant, quietLogger, seed, startTestServer } from '../support/rest-server.js';
import { ofType, openStream } from '../support/stream-client.js';
import { nodeSocket } from '../support/ws-harness.js';

const first = await startTestServer(t, { label: 'chat' });
const { url, auth, databaseUrl } = first;
const db = serverDatabase(databaseUrl!, { max: 1 });
t.teardown(() => db.close());
const cast = await makeCast(auth);
const shop = await openRestaurant(url, cast.restaurant);

const reg = await api(url, 'POST', '/delivery-persons', { token: cast.rider.token, body: seed.deliveryPerson });
if (reg.status !== 201) throw new Error(JSON.stringify(reg.body));
const rider = new RiderClient({
  url: `${url.replace('http', 'ws')}${RIDER_PATH}`,
  getToken: () => cast.rider.token,
  socket: nodeSocket,
  random: () => 0.5,
});
rider.start();
t.teardown(() => rider.stop());
await rider.waitFor((f) => f.type === Frame.WELCOME);
rider.sendPosition({
  ...offsetM(seed.restaurant.address.latitude, seed.restaurant.address.longitude, 90, 300),
  accuracy: 5,
  heading: NaN,
  speed: 4,
  at: Date.now(),
});
rider.setStatus(RiderStatusCode.ONLINE);
await rider.waitFor((f) => f.type === Frame.ACK && f.lastSeq >= 2);

const placed = await api(url, 'POST', '/orders', {
  token: cast.customer.token,
  body: {
    ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
    payment_method: { type: 'CASH' },
  },
});
const orderId = placed.body.id as string;
const offer = rider.waitFor((f) => f.type === Frame.OFFER && f.orderId === orderId);
await api(url, 'PUT', `/orders/${orderId}/status`, {
  token: cast.restaurant.token,
  body: { status: 'confirmed', estimated_preparation_time: 0 },
});
await offer;
rider.accept(orderId);
await rider.waitFor((f) => f.type === Frame.ASSIGNED && f.orderId === orderId);
const chatPath = `/orders/${orderId}/chat`;

t.test('customer and rider talk over the streams; each hears the other at once', async (t) => {
  const ws = url.replace('http', 'ws');
  const c = openStream(`${ws}/ws`);
  await c.send({ type: 'authenticate', token: cast.customer.token });
  await c.next(ofType('authenticated'));
  const d = openStream(`${ws}/v1/stream`, { token: cast.rider.token });
  await d.next(ofType('authenticated'));
  await c.send({ type: 'chat', order_id: orderId, channel: 'rider', body: '  Gate 2, please  ', client_msg_id: 'c-1' });
  t.match(await d.next(ofType('chat_message')), {
    data: { order_id: orderId, channel: 'rider', sender_role: 'customer', body: 'Gate 2, please' },
  });
  t.match(
    await c.next(ofType('chat_message')),
    { data: { client_msg_id: 'c-1' } },
    'the sender sees its message stored',
  );
  const reply = await api(url, 'POST', chatPath, {
    token: cast.rider.token,
    body: { channel: 'rider', body: 'On my way 🛵' },
  });
  t.equal(reply.status, 201);
  t.match(await c.next(ofType('chat_message', (m) => m.data['sender_role'] === 'rider')), {
    data: { body: 'On my way 🛵', id: reply.body.id },
  });
  await c.send({ type: 'chat', order_id: orderId, channel: 'rider', body: 'Gate 2, please', client_msg_id: 'c-1' });
  await c.send({ type: 'chat', order_id: orderId, channel: 'rider', body: 42 });
  t.match(await c.next(ofType('error')), { data: { code: 'INVALID_ARGUMENT' } }, 'text only');
  const h = await api(url, 'GET', `${chatPath}?channel=rider`, { token: cast.customer.token });
  t.same(
    h.body.messages.map((m: { body: string }) => m.body),
    ['Gate 2, please', 'On my way 🛵'],
    'a resend with the same client_msg_id is stored once',
  );
  c.ws.close();
  d.ws.close();
});

t.test("only the order's parties read or write; admins read for a dispute", async (t) => {
  for (const [who, token] of [
    ['another customer', cast.customer2.token],
    ['another rider', cast.rider2.token],
    ['another restaurant', cast.restaurant2.token],
  ] as const) {
    t.match(
      await api(url, 'GET', `${chatPath}?channel=rider`, { token }),
      { status: 404, body: { code: 'ORDER_NOT_FOUND' } },
      `${who} cannot read`,
    );
    t.match(
      await api(url, 'POST', chatPath, { token, body: { channel: 'rider', body: 'hi' } }),
      { status: 404 },
      `${who} cannot write`,
    );
  }
  t.match(
    await api(url, 'GET', `${chatPath}?channel=rider`, { token: cast.restaurant.token }),
    { status: 404 },
    'the restaurant cannot read the rider conversation',
  );
  t.match(
    await api(url, 'GET', '/orders/no-such-order/chat?channel=rider', { token: cast.customer.token }),
    { status: 404, body: { code: 'ORDER_NOT_FOUND' } },
    'a missing order looks the same',
  );
  t.match(await api(url, 'GET', `${chatPath}?channel=rider`, { token: cast.admin.token }), {
    status: 200,
    body: { messages: [{}, {}] },
  });
  t.match(
    await api(url, 'POST', chatPath, { token: cast.admin.token, body: { channel: 'rider', body: 'hi' } }),
    { status: 404 },
    'admins do not write',
  );
  const stranger = openStream(`${url.replace('http', 'ws')}/v1/stream`, { token: cast.customer2.token });
  await stranger.send({ type: 'chat', order_id: orderId, channel: 'rider', body: 'let me in' });
  t.match(await stranger.next(ofType('error')), { data: { code: 'AUTH_OBJECT_FORBIDDEN' } });
  stranger.ws.close();
});

t.test("a restaurant with no socket open is pushed the customer's message", async (t) => {
  await api(url, 'POST', '/push-tokens', {
    token: cast.restaurant.token,
    body: { token: 'rest-chat-tablet', platform: 'android' },
  });
  const m = await api(url, 'POST', chatPath, {
    token: cast.customer.token,
    body: { channel: 'restaurant', body: 'No onions, please' },
  });
  t.equal(m.status, 201);
  const rows = async () =>
    (
      await db.query<{ notification_id: string; state: string }>(
        `SELECT notification_id, state FROM push_sends WHERE token = 'rest-chat-tablet' AND notification_id LIKE 'chat.%'`,
      )
    ).rows;
  await eventually(async () => (await rows()).some((r) => r.state !== 'claimed'), 10_000, 'the chat push answered');
  t.match(await rows(), [{ notification_id: `chat.${m.body.id}.restaurant`, state: 'sent' }]);
  t.match(await api(url, 'GET', `${chatPath}?channel=restaurant`, { token: cast.restaurant.token }), {
    body: { messages: [{ body: 'No onions, please' }] },
  });
});

t.test('bad text gets a clear error; the rate is limited', async (t) => {
  const post = (body: unknown) => api(url, 'POST', chatPath, { token: cast.customer.token, body });
  t.match(await post({ channel: 'rider', body: 'x'.repeat(1001) }), {
    status: 400,
    body: { code: 'INVALID_ARGUMENT' },
  });
  t.match(await post({ channel: 'rider', body: 'bell\u0007' }), {
    status: 400,
    // The edge's text policy refuses it first, naming the field.
    body: { code: 'INVALID_ARGUMENT', detail: /body: must not contain control characters/ },
  });
  t.match(await post({ channel: 'kitchen', body: 'hi' }), { status: 400, body: { code: 'INVALID_ARGUMENT' } });
  t.match(await post({ channel: 'rider', body: '   ' }), { status: 400 });
  let last = 0;
  for (let i = 0; i < 20 && last !== 429; i++) last = (await post({ channel: 'rider', body: `msg ${i}` })).status;
  t.equal(last, 429, 'the 21st message in a minute is refused');
});

t.test('the conversation survives a server restart', async (t) => {
  rider.stop();
  await first.server.close();
  const again = await startServer(
    parseServerConfig({
      NODE_ENV: 'test',
      SERVER_PORT: '0',
      METRICS_PORT: '0',
      DATABASE_URL: databaseUrl,
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: `tchat${process.pid}`,
      FIREBASE_AUTH_EMULATOR_HOST: EMULATOR_HOST,
      FIREBASE_PROJECT_ID: EMULATOR_PROJECT,
    }),
    quietLogger,
  );
  t.teardown(() => again.close());
  const h = await api(`http://127.0.0.1:${again.port}`, 'GET', `${chatPath}?channel=rider`, {
    token: cast.rider.token,
  });
  t.equal(h.status, 200);
  t.same(
    h.body.messages.slice(0, 2).map((m: { body: string }) => m.body),
    ['Gate 2, please', 'On my way 🛵'],
  );
});
