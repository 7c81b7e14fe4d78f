/**
 * `GET /orders?status=` on the stored seed status (sql/0005_order_status.sql), through the server
 * `npm start` runs on Postgres: every word an answer shows is found by the filter while the order
 * is in that stage; paging with a filter; unknown words; the column after a restart, including a
 * row a crash left ahead of or behind the recovered engine.
 */
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { offsetM } from '../../engine/index.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { Frame, RIDER_PATH, RiderClient, RiderStatusCode } from '../../protocol/index.js';
import { SEED_STATUSES } from '../../protocol/rest/order-status.js';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';
import { nodeSocket } from '../support/ws-harness.js';

const prefix = `t${process.pid}${randomBytes(3).toString('hex')}`;
const first = await startTestServer(t, { label: 'order_status', env: { QUEUE_PREFIX: prefix } });
const cast = await makeCast(first.auth);
const shop = await openRestaurant(first.url, cast.restaurant);
const db = serverDatabase(first.databaseUrl!, { max: 1 });
t.teardown(() => db.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cash = (token: string) =>
  api(first.url, 'POST', '/orders', {
    token,
    body: {
      ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
      payment_method: { type: 'CASH' },
    },
  });
const upi = (token: string) =>
  api(first.url, 'POST', '/orders', {
    token,
    body: seed.order(shop.id, [{ menu_item_id: shop.items['Dal Makhani']!, quantity: 1 }]),
  });
const setStatus = async (id: string, token: string, body: Record<string, unknown>) => {
  const r = await api(first.url, 'PUT', `/orders/${id}/status`, { token, body });
  if (r.status !== 200) throw new Error(`PUT status ${JSON.stringify(body)}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { status: string; engine_state: string };
};
const ids = (body: { orders: { id: string }[] }) => body.orders.map((o) => o.id);

/**
 * Reads the order's word, then waits (bounded: the write-behind writes a few ms after the answer)
 * until the filter on that word lists it; then no other word's filter does.
 */
async function findable(t: Test, base: string, token: string, id: string, expected: string): Promise<void> {
  const shown = await api(base, 'GET', `/orders/${id}`, { token });
  t.equal(shown.body.status, expected, `${id.slice(0, 8)} shows ${expected} (engine state ${shown.body.engine_state})`);
  let found: string[] = [];
  for (let i = 0; i < 100 && !found.includes(id); i++) {
    if (i > 0) await sleep(50);
    found = ids((await api(base, 'GET', `/orders?status=${expected}&limit=100`, { token })).body);
  }
  t.ok(found.includes(id), `GET /orders?status=${expected} lists it`);
  for (const other of SEED_STATUSES.filter((w) => w !== expected)) {
    const r = await api(base, 'GET', `/orders?status=${other}&limit=100`, { token });
    t.notOk(ids(r.body).includes(id), `status=${other} does not`);
  }
}

t.test("every word an answer shows is found by the filter, through an order's life", async (t) => {
  const rider = new RiderClient({
    url: `${first.url.replace('http', 'ws')}${RIDER_PATH}`,
    getToken: () => cast.rider.token,
    socket: nodeSocket,
    random: () => 0.5,
  });
  t.teardown(() => rider.stop());
  const reg = await api(first.url, 'POST', '/delivery-persons', { token: cast.rider.token, body: seed.deliveryPerson });
  t.equal(reg.status, 201);
  rider.start();
  await rider.waitFor((f) => f.type === Frame.WELCOME);
  rider.sendPosition({
    ...offsetM(seed.restaurant.address.latitude, seed.restaurant.address.longitude, 90, 400),
    accuracy: 5,
    heading: NaN,
    speed: 4,
    at: Date.now(),
  });
  rider.setStatus(RiderStatusCode.ONLINE);
  await rider.waitFor((f) => f.type === Frame.ACK && f.lastSeq >= 2);
  const token = cast.admin.token;

  const unpaid = (await upi(cast.customer.token)).body.id as string;
  await findable(t, first.url, token, unpaid, 'placed');

  const slow = (await cash(cast.customer.token)).body.id as string;
  await findable(t, first.url, token, slow, 'placed');
  t.equal(
    (await setStatus(slow, cast.restaurant.token, { status: 'confirmed', estimated_preparation_time: 60 }))
      .engine_state,
    'preparing',
  );
  await findable(t, first.url, token, slow, 'confirmed');

  const id = (await cash(cast.customer.token)).body.id as string;
  const offer = rider.waitFor((f) => f.type === Frame.OFFER && f.orderId === id);
  await setStatus(id, cast.restaurant.token, { status: 'confirmed', estimated_preparation_time: 0 });
  await offer;
  rider.accept(id);
  await rider.waitFor((f) => f.type === Frame.ASSIGNED && f.orderId === id);
  await findable(t, first.url, token, id, 'preparing');
  await setStatus(id, cast.restaurant.token, { status: 'ready' });
  await findable(t, first.url, token, id, 'ready');
  t.equal((await setStatus(id, cast.rider.token, { status: 'picked_up' })).status, 'in_transit');
  await findable(t, first.url, token, id, 'in_transit');
  const synonym = await api(first.url, 'GET', '/orders?status=picked_up', { token });
  t.ok(ids(synonym.body).includes(id), 'picked_up is a filter word for in_transit');
  await setStatus(id, cast.rider.token, { status: 'delivered' });
  await findable(t, first.url, token, id, 'delivered');
  const mine = await api(first.url, 'GET', '/orders?status=delivered', { token: cast.rider.token });
  t.same(ids(mine.body), [id], "a rider's history filters on the order row's rider");

  await setStatus(unpaid, cast.customer.token, { status: 'cancelled', reason: 'changed my mind' });
  await findable(t, first.url, token, unpaid, 'cancelled');
});

t.test('a status filter pages in SQL: limit, offset and total across pages', async (t) => {
  const token = cast.customer2.token;
  const placed: string[] = [];
  for (let i = 0; i < 5; i++) placed.push((await upi(token)).body.id as string);
  const other = (await cash(token)).body.id as string;
  await setStatus(other, cast.restaurant.token, { status: 'confirmed', estimated_preparation_time: 60 });
  const seen: string[] = [];
  for (const offset of [0, 2, 4]) {
    const r = await api(first.url, 'GET', `/orders?status=placed&limit=2&offset=${offset}`, { token });
    t.equal(r.status, 200);
    t.match(r.body, { total: 5, limit: 2, offset });
    t.equal(r.body.orders.length, offset === 4 ? 1 : 2);
    seen.push(...ids(r.body));
  }
  t.same(seen, [...placed].reverse(), 'every placed order once, newest first');
  const past = await api(first.url, 'GET', '/orders?status=placed&limit=2&offset=6', { token });
  t.match(past.body, { total: 5, orders: [] });
  let both = await api(first.url, 'GET', '/orders?status=placed,confirmed&limit=3', { token });
  for (let i = 0; i < 100 && both.body.total !== 6; i++) {
    await sleep(50);
    both = await api(first.url, 'GET', '/orders?status=placed,confirmed&limit=3', { token });
  }
  t.match(both.body, { total: 6, limit: 3 });
  t.equal(both.body.orders.length, 3);
});

t.test("the filter's query runs on the (who, status, newest) indexes", async (t) => {
  // A customer with 20,000 orders in seven statuses, so the planner's choice means something.
  await db.query(`INSERT INTO orders (id, customer_id, restaurant_id, status, drop_lat, drop_lng, placed_at, seed_status)
    SELECT 'bulk-' || g, 'bulk-customer', 'bulk-restaurant', 'placed', 0, 0, now() - g * interval '1 minute',
           (ARRAY['placed', 'confirmed', 'preparing', 'ready', 'in_transit', 'delivered', 'cancelled'])[1 + g % 7]
    FROM generate_series(1, 20000) g`);
  t.teardown(() => db.query(`DELETE FROM orders WHERE customer_id = 'bulk-customer'`));
  await db.query('ANALYZE orders');
  const plan = async (who: string, value: string) =>
    (
      await db.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT o.id FROM orders o WHERE ${who} = $1 AND o.seed_status = $2 ORDER BY o.placed_at DESC, o.id LIMIT 20 OFFSET 40`,
        [value, 'ready'],
      )
    ).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
  t.match(await plan('o.customer_id', 'bulk-customer'), /orders_customer_status_idx/);
  t.match(await plan('o.restaurant_id', 'bulk-restaurant'), /orders_restaurant_status_idx/);
  const r = await api(first.url, 'GET', '/orders?status=ready&limit=20&offset=40&restaurant_id=bulk-restaurant', {
    token: cast.admin.token,
  });
  t.match(r.body, { total: (20000 / 7) | 0, limit: 20, offset: 40 }, 'the API pages the same rows');
  t.equal(r.body.orders.length, 20);
});

t.test('unknown status words are a 400', async (t) => {
  for (const q of ['rider_assigned', 'placed,bogus', 'awaiting_payment']) {
    const r = await api(first.url, 'GET', `/orders?status=${q}`, { token: cast.admin.token });
    t.equal(r.status, 400, q);
    t.equal(r.body.code, 'INVALID_ARGUMENT');
  }
});

t.test('after a restart the column agrees with the recovered engine', async (t) => {
  const token = cast.admin.token;
  const ahead = (await cash(cast.customer.token)).body.id as string;
  const behind = (await cash(cast.customer.token)).body.id as string;
  for (const id of [ahead, behind])
    await setStatus(id, cast.restaurant.token, { status: 'confirmed', estimated_preparation_time: 60 });
  await findable(t, first.url, token, behind, 'confirmed');
  await first.server.close();
  // What a crash can leave: a row ahead of the events that became durable, and one behind them.
  await db.query(`UPDATE orders SET seed_status = 'delivered', status_seq = status_seq + 50 WHERE id = $1`, [ahead]);
  await db.query(`UPDATE orders SET seed_status = 'placed', status_seq = 0 WHERE id = $1`, [behind]);

  const second = await startTestServer(t, {
    label: 'order_status',
    env: { DATABASE_URL: first.databaseUrl!, QUEUE_PREFIX: prefix },
  });
  t.ok(second.server.recovery.orders >= 2, 'orders recovered');
  for (const id of [ahead, behind]) await findable(t, second.url, token, id, 'confirmed');
  const rows = await db.query<{ id: string; seed_status: string }>(
    'SELECT id, seed_status FROM orders WHERE id = ANY($1)',
    [[ahead, behind]],
  );
  t.same(
    rows.rows.map((r) => r.seed_status),
    ['confirmed', 'confirmed'],
  );
  const all = await api(second.url, 'GET', '/orders?limit=100', { token });
  for (const o of all.body.orders as { id: string; status: string }[]) {
    const r = await api(second.url, 'GET', `/orders?status=${o.status}&limit=100`, { token });
    t.ok(ids(r.body).includes(o.id), `after the restart ${o.id.slice(0, 8)} is found as ${o.status}`);
  }
});
