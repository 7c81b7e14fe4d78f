/**
 * The seed API's examples, with the seed's bodies, against a real server
 * (Postgres behind BullMQ on Redis, the Firebase Auth emulator): every
 * response carries the seed's fields with the seed's types.
 */
import t from 'tap';
import { api, makeCast, seed, startTestServer } from '../support/rest-server.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const { url, auth } = await startTestServer(t, { label: 'rest_seed' });
const cast = await makeCast(auth);

t.test('GET /health answers the seed shape without a token', async (t) => {
  const r = await api(url, 'GET', '/health');
  t.equal(r.status, 200);
  t.equal(r.body.status, 'healthy');
  t.match(r.body.timestamp, ISO);
  t.equal(r.body.version, '0.1.0');
  t.same(Object.keys(r.body.services).sort(), ['database', 'firebase', 'redis']);
  t.ok(
    Object.values(r.body.services).every((s) => s === 'healthy'),
    JSON.stringify(r.body.services),
  );
  t.ok(r.headers.get('x-request-id'), 'every answer carries a request id');
  t.equal(r.headers.get('x-content-type-options'), 'nosniff');
});

t.test('a request id given by the client is echoed back', async (t) => {
  const r = await api(url, 'GET', '/health', { headers: { 'x-request-id': 'abc-123' } });
  t.equal(r.headers.get('x-request-id'), 'abc-123');
});

let restaurantId = '';
const items: Record<string, string> = {};

t.test('POST /restaurants and PUT /restaurants/{id}/menu with the seed bodies', async (t) => {
  const r = await api(url, 'POST', '/restaurants', { token: cast.restaurant.token, body: seed.restaurant });
  t.equal(r.status, 201, JSON.stringify(r.body));
  t.equal(r.body.id, cast.restaurant.restaurantId, 'the restaurant is the one the account acts for');
  t.equal(r.body.name, 'Delicious Bites');
  t.same(r.body.cuisine_types, ['Indian', 'North Indian']);
  t.equal(r.body.status, 'open');
  restaurantId = r.body.id;

  const m = await api(url, 'PUT', `/restaurants/${restaurantId}/menu`, {
    token: cast.restaurant.token,
    body: seed.menu,
  });
  t.equal(m.status, 200, JSON.stringify(m.body));
  t.equal(m.body.categories[0].name, 'Main Course');
  const bc = m.body.categories[0].items[0];
  t.match(bc, {
    name: 'Butter Chicken',
    description: 'Creamy tomato-based curry',
    price: 280,
    image_url: 'https://example.com/bc.jpg',
    available: true,
    preparation_time: 15,
    dietary_info: ['non-vegetarian'],
  });
  t.match(bc.id, UUID, 'each item gets an id orders refer to');
  for (const c of m.body.categories) for (const i of c.items) items[i.name] = i.id;

  const again = await api(url, 'PUT', `/restaurants/${restaurantId}/menu`, {
    token: cast.restaurant.token,
    body: seed.menu,
  });
  t.same(
    again.body.categories[0].items.map((i: { id: string }) => i.id),
    Object.values(items),
    'putting the same menu again keeps the ids',
  );

  const read = await api(url, 'GET', `/restaurants/${restaurantId}/menu`, { token: cast.customer.token });
  t.equal(read.status, 200);
  t.same(read.body, again.body, 'a customer reads the menu as stored');
});

t.test('GET /restaurants finds restaurants near a point, nearest first', async (t) => {
  const r = await api(url, 'GET', '/restaurants?latitude=19.08&longitude=72.88&radius_km=3', {
    token: cast.customer.token,
  });
  t.equal(r.status, 200, JSON.stringify(r.body));
  t.ok(r.body.restaurants.some((x: { id: string }) => x.id === restaurantId));
  t.type(r.body.restaurants[0].distance_km, 'number');
  const far = await api(url, 'GET', '/restaurants?latitude=28.6&longitude=77.2&radius_km=3', {
    token: cast.customer.token,
  });
  t.same(far.body.restaurants, [], 'none near Delhi');
});

t.test('POST /delivery-persons and PUT /delivery-persons/location with the seed bodies', async (t) => {
  const r = await api(url, 'POST', '/delivery-persons', { token: cast.rider.token, body: seed.deliveryPerson });
  t.equal(r.status, 201, JSON.stringify(r.body));
  t.equal(r.body.id, cast.rider.riderId);
  t.equal(r.body.vehicle_type, 'motorcycle');
  t.equal(r.body.bank_details.account_number, '******7890', 'the account number is never echoed in full');
  t.notOk(JSON.stringify(r.body).includes('1234567890'));

  const on = await api(url, 'PUT', '/delivery-persons/status', { token: cast.rider.token, body: { status: 'online' } });
  t.equal(on.status, 200, JSON.stringify(on.body));
  t.match(on.body.status, /^online/);

  const pause = await api(url, 'PUT', '/delivery-persons/status', {
    token: cast.rider.token,
    body: { status: 'break' },
  });
  t.equal(pause.body.status, 'on_break');
  const back = await api(url, 'PUT', '/delivery-persons/status', {
    token: cast.rider.token,
    body: { status: 'online' },
  });
  t.equal(back.status, 200, `back from a break: ${JSON.stringify(back.body)}`);
  t.equal(back.body.status, 'online.idle');
  const loc = await api(url, 'PUT', '/delivery-persons/location', {
    token: cast.rider.token,
    body: { ...seed.location, speed: 8.5 },
  });
  t.equal(loc.status, 200, JSON.stringify(loc.body));
  t.equal(loc.body.status, 'accepted');
});

let orderId = '';
let total = 0;

t.test('POST /orders with the seed body answers the seed shape; the total comes from the menu', async (t) => {
  const body = seed.order(restaurantId, [
    { menu_item_id: items['Butter Chicken']!, quantity: 2, special_instructions: 'Extra spicy' },
    { menu_item_id: items['Dal Makhani']!, quantity: 1 },
  ]);
  const r = await api(url, 'POST', '/orders', { token: cast.customer.token, body });
  t.equal(r.status, 201, JSON.stringify(r.body));
  t.match(r.body.id, UUID);
  t.equal(r.body.status, 'placed');
  t.equal(r.body.total_amount, 730, '2 × 280 + 170');
  t.match(r.body.estimated_delivery_time, ISO);
  t.match(r.body.tracking_id, /^DEL[0-9A-F]{10}$/);
  t.equal(r.body.payment_status, 'pending');
  orderId = r.body.id;
  total = r.body.total_amount;
});

t.test('GET /orders/{id} answers the seed shape', async (t) => {
  const r = await api(url, 'GET', `/orders/${orderId}`, { token: cast.customer.token });
  t.equal(r.status, 200, JSON.stringify(r.body));
  t.match(r.body, {
    id: orderId,
    customer_id: cast.customer.uid,
    restaurant_id: restaurantId,
    delivery_person_id: null,
    status: 'placed',
    total_amount: 730,
    delivery_address: { street: '123 Main St', city: 'Mumbai', latitude: 19.086 },
    restaurant_address: { street: '1 Food Street' },
  });
  t.match(r.body.created_at, ISO);
  t.match(r.body.estimated_delivery_time, ISO);
  t.equal(r.body.items.length, 2);
  t.match(r.body.items[0], {
    menu_item_id: items['Butter Chicken'],
    name: 'Butter Chicken',
    quantity: 2,
    unit_price: 280,
    total_price: 560,
    special_instructions: 'Extra spicy',
  });
  t.ok('tracking' in r.body, 'tracking is present (null until a rider is on the way)');
});

let paymentId = '';

t.test('POST /payments answers a UPI intent link; GET /payments/{id} its state', async (t) => {
  const r = await api(url, 'POST', '/payments', {
    token: cast.customer.token,
    body: { order_id: orderId, payment_method: { type: 'UPI', vpa: 'user@paytm' }, amount: total },
  });
  t.equal(r.status, 201, JSON.stringify(r.body));
  t.match(r.body.id, UUID);
  t.equal(r.body.status, 'processing');
  t.match(r.body.transaction_id, /^TXN[0-9A-F]+$/);
  t.match(r.body.expires_at, ISO);
  const link = new URL(r.body.payment_url);
  t.equal(link.protocol, 'upi:');
  t.equal(link.searchParams.get('am'), '730.00');
  t.equal(link.searchParams.get('cu'), 'INR');
  t.equal(link.searchParams.get('tr'), r.body.transaction_id);
  t.equal(link.searchParams.get('pa'), 'dispatch.dev@upi');
  paymentId = r.body.id;

  const g = await api(url, 'GET', `/payments/${paymentId}`, { token: cast.customer.token });
  t.equal(g.status, 200);
  t.equal(g.body.id, paymentId);
  t.equal(g.body.status, 'processing');
  t.equal(g.body.payment_url, r.body.payment_url);
});

t.test('GET and PUT /users/profile with the seed body', async (t) => {
  const before = await api(url, 'GET', '/users/profile', { token: cast.customer2.token });
  t.equal(before.status, 200);
  t.equal(before.body.email, cast.customer2.email);
  const put = await api(url, 'PUT', '/users/profile', { token: cast.customer2.token, body: seed.profile });
  t.equal(put.status, 200, JSON.stringify(put.body));
  t.match(put.body, seed.profile);
  const after = await api(url, 'GET', '/users/profile', { token: cast.customer2.token });
  t.match(after.body, seed.profile, 'stored');
});

t.test('PUT /orders/{id}/status with the seed body moves a cash order on', async (t) => {
  const placed = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: {
      ...seed.order(restaurantId, [{ menu_item_id: items['Dal Makhani']!, quantity: 1 }]),
      payment_method: { type: 'CASH' },
    },
  });
  t.equal(placed.status, 201, JSON.stringify(placed.body));
  t.equal(placed.body.payment_status, 'cash_on_delivery');
  const r = await api(url, 'PUT', `/orders/${placed.body.id}/status`, {
    token: cast.restaurant.token,
    body: { status: 'confirmed', estimated_preparation_time: 20 },
  });
  t.equal(r.status, 200, JSON.stringify(r.body));
  t.equal(r.body.id, placed.body.id);
  t.equal(r.body.status, 'confirmed', 'confirmed: the kitchen is on it, no rider sought yet');
  t.equal(r.body.engine_state, 'preparing');
  const ready = await api(url, 'PUT', `/orders/${placed.body.id}/status`, {
    token: cast.restaurant.token,
    body: { status: 'ready' },
  });
  t.equal(ready.status, 200, JSON.stringify(ready.body));
  t.equal(ready.body.status, 'ready', 'food ready and not picked up, whether or not a rider is coming');
});

t.test("GET /orders lists the caller's orders, newest first, with filters and pagination", async (t) => {
  const all = await api(url, 'GET', '/orders', { token: cast.customer.token });
  t.equal(all.status, 200, JSON.stringify(all.body));
  t.equal(all.body.total, 2);
  t.equal(all.body.orders.length, 2);
  t.ok(all.body.orders[0].created_at >= all.body.orders[1].created_at, 'newest first');
  const page = await api(url, 'GET', '/orders?limit=1&offset=1', { token: cast.customer.token });
  t.equal(page.body.orders.length, 1);
  t.equal(page.body.orders[0].id, all.body.orders[1].id);
  const placed = await api(url, 'GET', '/orders?status=placed', { token: cast.customer.token });
  t.same(
    placed.body.orders.map((o: { id: string }) => o.id),
    [orderId],
  );
  const other = await api(url, 'GET', '/orders', { token: cast.customer2.token });
  t.equal(other.body.total, 0, 'another customer sees none of them');
  const kitchen = await api(url, 'GET', '/orders', { token: cast.restaurant.token });
  t.equal(kitchen.body.total, 2, 'the restaurant sees its orders');
});

t.test('the API is also served under /v1', async (t) => {
  const r = await api(url, 'GET', `/v1/orders/${orderId}`, { token: cast.customer.token });
  t.equal(r.status, 200);
  t.equal(r.body.id, orderId);
});

t.test('/openapi.json documents every route as OpenAPI 3.1', async (t) => {
  const r = await api(url, 'GET', '/openapi.json');
  t.equal(r.status, 200);
  t.equal(r.body.openapi, '3.1.0');
  for (const [path, method] of [
    ['/orders', 'post'],
    ['/orders/{order_id}', 'get'],
    ['/orders/{order_id}/status', 'put'],
    ['/payments', 'post'],
    ['/users/profile', 'put'],
    ['/restaurants/{restaurant_id}/menu', 'put'],
    ['/delivery-persons/location', 'put'],
  ] as const) {
    t.ok(r.body.paths[path]?.[method], `${method} ${path}`);
  }
  const create = r.body.paths['/orders'].post;
  t.equal(create.requestBody.content['application/json'].schema.additionalProperties, false);
  t.ok(create.responses['422'], 'documents its coded errors');
});
