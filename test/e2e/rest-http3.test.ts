/**
 * The HTTP/3 check: the real server behind Caddy (edge/Caddyfile),
 * an order created over HTTP/3 (QUIC) with a real client and read back over
 * HTTP/3. Chromium carries the requests, since they need an Authorization
 * header (gtlsclient 0.12 sends none); it reports the protocol of each
 * response, and the test requires h3. The health check goes through
 * gtlsclient (ngtcp2) too, a second, independent HTTP/3 stack.
 */
import t from 'tap';
import { startCaddy } from '../support/caddy.js';
import { startH3Browser } from '../support/h3-browser.js';
import { h3Request } from '../support/h3-client.js';
import { makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';

const { url, auth, server } = await startTestServer(t, { label: 'rest_h3' });
const cast = await makeCast(auth);
const shop = await openRestaurant(url, cast.restaurant);
const caddy = await startCaddy({ upstream: url, t });
const browser = await startH3Browser({ caCertPaths: [caddy.caCertPath], t });

t.test('GET /health over HTTP/3 with gtlsclient', async (t) => {
  const r = await h3Request({ url: `${caddy.url}/health`, caCertPath: caddy.caCertPath });
  t.equal(r.httpVersion, '3');
  t.equal(r.alpn, 'h3');
  t.equal(r.status, 200);
  t.equal(JSON.parse(r.body).status, 'healthy');
});

t.test('an order created over HTTP/3 and read back over HTTP/3', async (t) => {
  const before = server.engine.stats().orders;
  const body = JSON.stringify({
    ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 2 }]),
    payment_method: { type: 'CASH' },
  });
  const created = await browser.request({
    method: 'POST',
    url: `${caddy.url}/orders`,
    body,
    headers: {
      authorization: `Bearer ${cast.customer.token}`,
      'content-type': 'application/json',
      'idempotency-key': `h3-${Date.now()}`,
    },
  });
  t.equal(created.httpVersion, '3', 'the create went over HTTP/3');
  t.equal(created.status, 201, created.body);
  const order = JSON.parse(created.body);
  t.equal(order.total_amount, 560);
  t.equal(server.engine.stats().orders, before + 1);
  t.ok(created.headers['x-request-id'], 'request id through the edge');

  const read = await browser.request({
    method: 'GET',
    url: `${caddy.url}/orders/${order.id}`,
    headers: { authorization: `Bearer ${cast.customer.token}` },
  });
  t.equal(read.httpVersion, '3', 'the read went over HTTP/3');
  t.equal(read.status, 200, read.body);
  t.match(JSON.parse(read.body), {
    id: order.id,
    status: 'placed',
    total_amount: 560,
    items: [{ name: 'Butter Chicken', quantity: 2 }],
  });

  const denied = await browser.request({
    method: 'GET',
    url: `${caddy.url}/orders/${order.id}`,
    headers: { authorization: `Bearer ${cast.customer2.token}` },
  });
  t.equal(denied.status, 404, 'problem answers pass through the edge unchanged');
  t.equal(JSON.parse(denied.body).code, 'ORDER_NOT_FOUND');
});
