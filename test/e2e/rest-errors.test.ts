/**
 * Bad input over REST gets a clear, coded answer and changes nothing:
 * malformed bodies, unknown fields, wrong types, business refusals, unknown
 * routes; `Idempotency-Key` retries; concurrent status updates on one order;
 * rate limits. Real server, real Postgres, Redis and Firebase Auth emulator.
 */
import t from 'tap';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';

const { url, auth, server } = await startTestServer(t, { label: 'rest_errors', env: { REST_MAX_BODY_BYTES: '4096' } });
const cast = await makeCast(auth);
const shop = await openRestaurant(url, cast.restaurant);
const order = (extra: Record<string, unknown> = {}) => ({
  ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
  ...extra,
});
const ordersOf = () => server.engine.stats().orders;

t.test('malformed bodies: invalid JSON, wrong content type, too large, empty', async (t) => {
  const before = ordersOf();
  const bad = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    raw: '{"restaurant_id": ',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(bad.status, 400);
  t.equal(bad.body.code, 'INVALID_JSON');
  t.equal(bad.headers.get('content-type'), 'application/problem+json');
  t.ok(bad.body.request_id);

  const form = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    raw: 'a=1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  t.equal(form.status, 415);
  t.equal(form.body.code, 'UNSUPPORTED_MEDIA_TYPE');

  const huge = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    raw: JSON.stringify({ pad: 'x'.repeat(10_000) }),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(huge.status, 413);
  t.equal(huge.body.code, 'BODY_TOO_LARGE');

  const empty = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    raw: '',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(empty.status, 400);
  t.equal(empty.body.code, 'INVALID_JSON');
  t.equal(ordersOf(), before, 'no order was placed');
});

t.test('schema errors name each bad field', async (t) => {
  const r = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: {
      ...order(),
      total_amount: 1,
      items: [{ menu_item_id: shop.items['Butter Chicken'], quantity: -2 }],
      delivery_address: { ...order().delivery_address, latitude: 'north' },
    },
  });
  t.equal(r.status, 400);
  t.equal(r.body.code, 'INVALID_ARGUMENT');
  const fields = r.body.errors.map((e: { field: string }) => e.field);
  t.ok(fields.includes('total_amount'), 'unknown field: the client may not set the total');
  t.ok(fields.includes('items/0/quantity'), 'negative quantity');
  t.ok(fields.includes('delivery_address/latitude'), 'wrong type');
  t.match(r.body.errors.find((e: { field: string }) => e.field === 'total_amount').message, /unknown field/);

  const status = await api(url, 'PUT', `/orders/00000000-0000-4000-8000-000000000000/status`, {
    token: cast.restaurant.token,
    body: { status: 'teleported' },
  });
  t.equal(status.status, 400);
  t.match(status.body.errors[0], { field: 'status', message: /must be one of/ });

  const pay = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: order({ payment_method: { type: 'UPI' } }),
  });
  t.equal(pay.status, 400, 'UPI without a VPA');
  const q = await api(url, 'GET', '/orders?limit=0', { token: cast.customer.token });
  t.equal(q.status, 400);
  t.equal(q.body.errors[0].field, 'limit');
});

t.test('business refusals each get their own code', async (t) => {
  const before = ordersOf();
  const unknownItem = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: seed.order(shop.id, [{ menu_item_id: '00000000-0000-4000-8000-000000000001', quantity: 1 }]),
  });
  t.equal(unknownItem.status, 422);
  t.equal(unknownItem.body.code, 'MENU_ITEM_NOT_FOUND');
  t.match(unknownItem.body.detail, /items\/0\/menu_item_id/);

  const unavailable = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: seed.order(shop.id, [{ menu_item_id: shop.items['Seasonal Special']!, quantity: 1 }]),
  });
  t.equal(unavailable.status, 409);
  t.equal(unavailable.body.code, 'MENU_ITEM_UNAVAILABLE');

  const far = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: order({ delivery_address: { ...order().delivery_address, latitude: 18.52, longitude: 73.85 } }),
  });
  t.equal(far.status, 422, "Pune is out of a Mumbai restaurant's area");
  t.equal(far.body.code, 'OUT_OF_SERVICE_AREA');

  const nowhere = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: seed.order('00000000-0000-4000-8000-000000000002', [
      { menu_item_id: shop.items['Butter Chicken']!, quantity: 1 },
    ]),
  });
  t.equal(nowhere.status, 404);
  t.equal(nowhere.body.code, 'RESTAURANT_NOT_FOUND');

  const closed = await api(url, 'PUT', `/restaurants/${shop.id}/status`, {
    token: cast.restaurant.token,
    body: { status: 'closed' },
  });
  t.equal(closed.status, 200, JSON.stringify(closed.body));
  const whileClosed = await api(url, 'POST', '/orders', { token: cast.customer.token, body: order() });
  t.equal(whileClosed.status, 409);
  t.equal(whileClosed.body.code, 'RESTAURANT_CLOSED');
  await api(url, 'PUT', `/restaurants/${shop.id}/status`, { token: cast.restaurant.token, body: { status: 'open' } });
  t.equal(ordersOf(), before, 'nothing was placed');
});

t.test('a restaurant outside its operating hours is closed', async (t) => {
  // Open one minute a week, at a time that is not now.
  const now = new Date(Date.now() + 5.5 * 3_600_000);
  const day = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'][
    (now.getUTCDay() + 3) % 7
  ]!;
  const r = await api(url, 'POST', '/restaurants', {
    token: cast.restaurant2.token,
    body: { ...seed.restaurant, name: 'Night Owl', operating_hours: { [day]: { open: '03:00', close: '03:01' } } },
  });
  t.equal(r.status, 201, JSON.stringify(r.body));
  t.equal(r.body.is_open, false);
  await api(url, 'PUT', `/restaurants/${r.body.id}/menu`, { token: cast.restaurant2.token, body: seed.menu });
  const menu = await api(url, 'GET', `/restaurants/${r.body.id}/menu`, { token: cast.customer.token });
  const o = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: seed.order(r.body.id, [{ menu_item_id: menu.body.categories[0].items[0].id, quantity: 1 }]),
  });
  t.equal(o.status, 409);
  t.equal(o.body.code, 'RESTAURANT_CLOSED');
  t.match(o.body.detail, /operating hours/);
});

t.test('unknown routes, wrong methods, missing and forged tokens', async (t) => {
  const nf = await api(url, 'GET', '/nope', { token: cast.customer.token });
  t.equal(nf.status, 404);
  t.equal(nf.body.code, 'ROUTE_NOT_FOUND');
  const m = await api(url, 'DELETE', '/orders', { token: cast.customer.token });
  t.equal(m.status, 405);
  t.equal(m.headers.get('allow'), 'POST, GET');
  const none = await api(url, 'GET', '/orders');
  t.equal(none.status, 401);
  t.equal(none.body.code, 'AUTH_TOKEN_MISSING');
  const forged = await api(url, 'GET', '/orders', { token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig' });
  t.equal(forged.status, 401);
  t.equal(forged.body.code, 'AUTH_TOKEN_INVALID');
  const mangled = await api(url, 'GET', '/orders/%E0%A4%A', { token: cast.customer.token });
  t.equal(mangled.status, 404, 'malformed percent-encoding in a path names no order (and crashes nothing)');
  const order404 = await api(url, 'GET', '/orders/00000000-0000-4000-8000-000000000003', {
    token: cast.customer.token,
  });
  t.equal(order404.status, 404);
  t.equal(order404.body.code, 'ORDER_NOT_FOUND');
});

t.test('Idempotency-Key: a retried create returns the first result, never a second order', async (t) => {
  const before = ordersOf();
  const key = `k-${Date.now()}`;
  const first = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: order(),
    headers: { 'idempotency-key': key },
  });
  t.equal(first.status, 201, JSON.stringify(first.body));
  const again = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: order(),
    headers: { 'idempotency-key': key },
  });
  t.equal(again.status, 201);
  t.same(again.body, first.body, 'the same answer');
  t.equal(again.headers.get('idempotent-replayed'), 'true');
  t.equal(ordersOf(), before + 1, 'one order');

  const other = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: order({ items: [{ menu_item_id: shop.items['Dal Makhani'], quantity: 3 }] }),
    headers: { 'idempotency-key': key },
  });
  t.equal(other.status, 422);
  t.equal(other.body.code, 'IDEMPOTENCY_KEY_REUSED');

  const someoneElse = await api(url, 'POST', '/orders', {
    token: cast.customer2.token,
    body: order(),
    headers: { 'idempotency-key': key },
  });
  t.equal(someoneElse.status, 201, 'keys are per caller');
  t.not(someoneElse.body.id, first.body.id);

  const bad = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: order(),
    headers: { 'idempotency-key': 'x'.repeat(300) },
  });
  t.equal(bad.status, 400);
  t.equal(bad.body.code, 'IDEMPOTENCY_KEY_INVALID');

  // Ten at once with one key: one order, every other answer a replay of it or "still in flight".
  const burstKey = `burst-${Date.now()}`;
  const n = ordersOf();
  const all = await Promise.all(
    Array.from({ length: 10 }, () =>
      api(url, 'POST', '/orders', {
        token: cast.customer.token,
        body: order(),
        headers: { 'idempotency-key': burstKey },
      }),
    ),
  );
  t.equal(ordersOf(), n + 1, 'one order for ten concurrent retries');
  const created = all.filter((r) => r.status === 201);
  t.ok(created.length >= 1);
  t.ok(
    created.every((r) => r.body.id === created[0]!.body.id),
    'every 201 names the same order',
  );
  t.ok(
    all.every((r) => r.status === 201 || (r.status === 409 && r.body.code === 'IDEMPOTENCY_IN_FLIGHT')),
    all.map((r) => r.status).join(','),
  );

  const pay = { order_id: first.body.id, payment_method: { type: 'UPI', vpa: 'user@paytm' }, amount: 280 };
  const p1 = await api(url, 'POST', '/payments', {
    token: cast.customer.token,
    body: pay,
    headers: { 'idempotency-key': `${key}-pay` },
  });
  const p2 = await api(url, 'POST', '/payments', {
    token: cast.customer.token,
    body: pay,
    headers: { 'idempotency-key': `${key}-pay` },
  });
  t.equal(p1.status, 201, JSON.stringify(p1.body));
  t.same(p2.body, p1.body, 'a retried payment is the same payment');
  const p3 = await api(url, 'POST', '/payments', { token: cast.customer.token, body: pay });
  t.equal(p3.status, 409, 'a second payment for the order without the key is refused');
  t.equal(p3.body.code, 'PAYMENT_NOT_ALLOWED');
  const wrong = await api(url, 'POST', '/payments', {
    token: cast.customer.token,
    body: { ...pay, order_id: someoneElse.body.id, amount: 1 },
  });
  t.equal(wrong.status, 404, "another customer's order does not exist for this caller");
  const mismatch = await api(url, 'POST', '/payments', {
    token: cast.customer2.token,
    body: { ...pay, order_id: someoneElse.body.id, amount: 1 },
  });
  t.equal(mismatch.status, 422);
  t.equal(mismatch.body.code, 'PAYMENT_AMOUNT_MISMATCH');
});

t.test('concurrent status updates on one order: exactly one wins, the rest 409', async (t) => {
  const placed = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: order({ payment_method: { type: 'CASH' } }),
  });
  t.equal(placed.status, 201);
  const all = await Promise.all(
    Array.from({ length: 8 }, () =>
      api(url, 'PUT', `/orders/${placed.body.id}/status`, {
        token: cast.restaurant.token,
        body: { status: 'confirmed', estimated_preparation_time: 30 },
      }),
    ),
  );
  const wins = all.filter((r) => r.status === 200);
  t.equal(wins.length, 1, all.map((r) => r.status).join(','));
  t.ok(
    all.filter((r) => r.status !== 200).every((r) => r.status === 409 && r.body.code === 'ORDER_INVALID_TRANSITION'),
  );

  const cancels = await Promise.all([
    api(url, 'PUT', `/orders/${placed.body.id}/status`, {
      token: cast.restaurant.token,
      body: { status: 'cancelled', reason: 'out of stock' },
    }),
    api(url, 'PUT', `/orders/${placed.body.id}/status`, {
      token: cast.restaurant.token,
      body: { status: 'cancelled' },
    }),
  ]);
  t.same(cancels.map((r) => r.status).sort(), [200, 409]);
  const late = await api(url, 'PUT', `/orders/${placed.body.id}/status`, {
    token: cast.customer.token,
    body: { status: 'cancelled' },
  });
  t.equal(late.status, 409);
});

t.test('status changes the role may not make: 403; on objects the caller cannot see: 404', async (t) => {
  const placed = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: order({ payment_method: { type: 'CASH' } }),
  });
  const id = placed.body.id;
  const byCustomer = await api(url, 'PUT', `/orders/${id}/status`, {
    token: cast.customer.token,
    body: { status: 'confirmed' },
  });
  t.equal(byCustomer.status, 403);
  t.equal(byCustomer.body.code, 'AUTH_ROLE_FORBIDDEN');
  const byOtherRestaurant = await api(url, 'PUT', `/orders/${id}/status`, {
    token: cast.restaurant2.token,
    body: { status: 'confirmed' },
  });
  t.equal(byOtherRestaurant.status, 404);
  const read = await api(url, 'GET', `/orders/${id}`, { token: cast.customer2.token });
  t.equal(read.status, 404, "another customer's order is not found");
  const riderDelivers = await api(url, 'PUT', `/orders/${id}/status`, {
    token: cast.rider.token,
    body: { status: 'delivered' },
  });
  t.equal(riderDelivers.status, 404, 'a rider who does not carry it cannot see it');
  const menu = await api(url, 'PUT', `/restaurants/${shop.id}/menu`, {
    token: cast.restaurant2.token,
    body: seed.menu,
  });
  t.equal(menu.status, 404, "another restaurant's menu cannot be written");
  const asCustomer = await api(url, 'POST', '/restaurants', { token: cast.customer.token, body: seed.restaurant });
  t.equal(asCustomer.status, 403);
});

t.test("rate limit: 429 beyond the caller's budget", async (t) => {
  const limited = await startTestServer(t, { label: 'rest_rate', env: { REST_RATE_PER_S: '1', REST_RATE_BURST: '5' } });
  const user = cast.customer2;
  const codes = [];
  for (let i = 0; i < 8; i++)
    codes.push((await api(limited.url, 'GET', '/users/profile', { token: user.token })).status);
  t.same(codes.slice(0, 5), [200, 200, 200, 200, 200]);
  t.ok(codes.slice(5).includes(429), codes.join(','));
  const r = await api(limited.url, 'GET', '/users/profile', { token: user.token });
  t.equal(r.body.code, 'RATE_LIMITED');
});
