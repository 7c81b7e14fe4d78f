/**
 * The edges of the REST API's input, one example of each class, over the real
 * server on Postgres: text the database cannot store, ids that cannot exist,
 * numbers beyond a column, a unique index two users can collide on. Each gets
 * a 4xx naming the field, never a 500 (the fuzzers in test/fuzz try the rest).
 */
import t from 'tap';
import { signWebhook } from '../../adapters/http/handlers/payment-webhook.js';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';

const SECRET = 'test-webhook-secret-0123456789';
const { url, auth } = await startTestServer(t, { label: 'edges', env: { PAYMENT_WEBHOOK_SECRET: SECRET } });
const cast = await makeCast(auth);
const shop = await openRestaurant(url, cast.restaurant);
const butter = shop.items['Butter Chicken']!;

t.test("path ids that cannot exist are 404 with the object's code", async (t) => {
  const cases: [string, string][] = [
    ['/orders/a%00b', 'ORDER_NOT_FOUND'],
    ['/orders/%ED%A0%80', 'ORDER_NOT_FOUND'],
    ['/orders/%E0%A4%A', 'ORDER_NOT_FOUND'],
    [`/orders/${'x'.repeat(65)}`, 'ORDER_NOT_FOUND'],
    ['/payments/%0A', 'PAYMENT_NOT_FOUND'],
    ['/restaurants/%C3%A9', 'RESTAURANT_NOT_FOUND'],
    ['/restaurants/a%00/menu', 'RESTAURANT_NOT_FOUND'],
  ];
  for (const [path, code] of cases) {
    const r = await api(url, 'GET', path, { token: cast.customer.token });
    t.equal(r.status, 404, `${path}: ${JSON.stringify(r.body)}`);
    t.equal(r.body.code, code, path);
  }
  const put = await api(url, 'PUT', '/orders/%00/status', { token: cast.restaurant.token, body: { status: 'ready' } });
  t.equal(put.status, 404);
  t.equal(put.body.code, 'ORDER_NOT_FOUND');
});

t.test('text with NUL, lone surrogates or control characters is a 400 naming the field', async (t) => {
  const bad = ['a\u0000b', 'a\ud800b', '\udc00', 'a\u001bb', 'a\u0085b'];
  for (const s of bad) {
    const order = seed.order(shop.id, [{ menu_item_id: butter, quantity: 1, special_instructions: s }]);
    const r = await api(url, 'POST', '/orders', { token: cast.customer.token, body: order });
    t.equal(r.status, 400, JSON.stringify(s));
    t.equal(r.body.code, 'INVALID_ARGUMENT');
    t.equal(r.body.errors?.[0]?.field, 'items/0/special_instructions', JSON.stringify(r.body));
    const p = await api(url, 'PUT', '/users/profile', { token: cast.customer2.token, body: { name: s } });
    t.equal(p.status, 400, `profile name ${JSON.stringify(s)}`);
    t.equal(p.body.errors?.[0]?.field, 'name');
  }
  const key = await api(url, 'PUT', '/users/profile', {
    token: cast.customer2.token,
    raw: '{"name":"x","\\u0000":1}',
    headers: { 'content-type': 'application/json' },
  });
  t.equal(key.status, 400, 'a bad field name too');
  const menu = await api(url, 'PUT', `/restaurants/${shop.id}/menu`, {
    token: cast.restaurant.token,
    body: { categories: [{ name: 'Mains', items: [{ name: 'Dal\u0000', price: 100 }] }] },
  });
  t.equal(menu.status, 400);
  t.equal(menu.body.errors?.[0]?.field, 'categories/0/items/0/name');
  const docs = await api(url, 'POST', '/delivery-persons', {
    token: cast.rider2.token,
    body: { ...seed.deliveryPerson, documents: { driving_license: 'url\ud800' } },
  });
  t.equal(docs.status, 400);
  t.equal(docs.body.errors?.[0]?.field, 'documents/driving_license');
});

t.test('prose keeps its line breaks; one-line fields refuse them; emoji are text', async (t) => {
  const order = seed.order(shop.id, [
    { menu_item_id: butter, quantity: 1, special_instructions: 'Ring twice\nNo onions\t🌶️' },
  ]);
  const r = await api(url, 'POST', '/orders', { token: cast.customer.token, body: order });
  t.equal(r.status, 201, JSON.stringify(r.body));
  const line = await api(url, 'PUT', '/users/profile', { token: cast.customer2.token, body: { name: 'Two\nlines' } });
  t.equal(line.status, 400);
  t.match(line.body.errors?.[0]?.message, /single line/);
  const emoji = await api(url, 'PUT', '/users/profile', { token: cast.customer2.token, body: { name: 'Zoë 😀 ज़' } });
  t.equal(emoji.status, 200, JSON.stringify(emoji.body));
});

t.test('two users with the same phone: the second hears 409 VALUE_TAKEN', async (t) => {
  const a = await api(url, 'PUT', '/users/profile', {
    token: cast.customer.token,
    body: { phone: seed.profile.phone },
  });
  t.equal(a.status, 200, JSON.stringify(a.body));
  const b = await api(url, 'PUT', '/users/profile', { token: cast.admin.token, body: { phone: seed.profile.phone } });
  t.equal(b.status, 409, JSON.stringify(b.body));
  t.equal(b.body.code, 'VALUE_TAKEN');
  t.match(b.body.detail, /phone/);
  const again = await api(url, 'PUT', '/users/profile', {
    token: cast.customer.token,
    body: { phone: seed.profile.phone },
  });
  t.equal(again.status, 200, 'the owner may set it again');
});

t.test('signed webhooks: amounts beyond a column and bad text are 400, not a 5xx the gateway retries', async (t) => {
  const deliver = (raw: string, eventId: string) =>
    api(url, 'POST', '/payments/webhook', {
      raw,
      headers: {
        'content-type': 'application/json',
        'x-razorpay-signature': signWebhook(SECRET, raw),
        'x-razorpay-event-id': eventId,
      },
    });
  const ev = (amount: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      event: 'payment.captured',
      payload: {
        payment: {
          entity: {
            id: 'pay_x',
            amount,
            currency: 'INR',
            status: 'captured',
            notes: { transaction_id: 'TXN1' },
            ...extra,
          },
        },
      },
    });
  const big = await deliver(ev(2 ** 31), 'evt_big');
  t.equal(big.status, 400, JSON.stringify(big.body));
  t.equal(big.body.errors?.[0]?.field, 'payload/payment/entity/amount');
  const nul = await deliver(ev(100, { vpa: 'a\u0000b' }), 'evt_nul');
  t.equal(nul.status, 400, 'NUL in a field the schema leaves open');
  t.equal(nul.body.errors?.[0]?.field, 'payload/payment/entity/vpa');
  const sur = await deliver(ev(100, { method: '\ud800' }), 'evt_sur');
  t.equal(sur.status, 400);
  const ok = await deliver(ev(2 ** 31 - 1), 'evt_max');
  t.equal(ok.status, 200, `the largest amount a column holds is taken: ${JSON.stringify(ok.body)}`);
});

t.test('query strings follow the same policy', async (t) => {
  const r = await api(url, 'GET', '/orders?restaurant_id=a%00b', { token: cast.admin.token });
  t.equal(r.status, 400);
  t.equal(r.body.errors?.[0]?.field, 'restaurant_id');
});

t.test('a rider may register a capacity of 1 to 8 orders; anything else is a 400 naming it', async (t) => {
  for (const capacity of [0, 9, 1.5, '2']) {
    const r = await api(url, 'POST', '/delivery-persons', {
      token: cast.rider.token,
      body: { ...seed.deliveryPerson, capacity },
    });
    t.equal(r.status, 400, `capacity ${JSON.stringify(capacity)}`);
    t.equal(r.body.errors?.[0]?.field, 'capacity');
  }
  const r = await api(url, 'POST', '/delivery-persons', {
    token: cast.rider.token,
    body: { ...seed.deliveryPerson, capacity: 2 },
  });
  t.equal(r.status, 201, JSON.stringify(r.body));
  t.equal(r.body.capacity, 2, 'the answer says what dispatch will use');
});
