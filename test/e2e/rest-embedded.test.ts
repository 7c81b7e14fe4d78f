/**
 * The newcomer's server: no DATABASE_URL, no REDIS_URL. State goes to
 * embedded PGlite in a data folder with an in-process queue; an order placed
 * over REST is there again after a restart on the same folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dispatch-embedded-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));

t.test('embedded storage serves the API and keeps orders across a restart', async (t) => {
  const first = await startTestServer(t, { embedded: true, env: { DATA_DIR: dataDir } });
  t.match(first.server.durability, /embedded PGlite/);
  const cast = await makeCast(first.auth);
  const health = await api(first.url, 'GET', '/health');
  t.equal(health.status, 200);
  t.same(Object.keys(health.body.services).sort(), ['database', 'firebase', 'redis']);
  t.equal(health.body.services.redis, 'not_used', 'the seed key stays; embedded mode has no Redis to check');

  const shop = await openRestaurant(first.url, cast.restaurant);
  const placed = await api(first.url, 'POST', '/orders', {
    token: cast.customer.token,
    body: {
      ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 3 }]),
      payment_method: { type: 'CASH' },
    },
  });
  t.equal(placed.status, 201, JSON.stringify(placed.body));
  t.equal(placed.body.total_amount, 840);
  const confirmed = await api(first.url, 'PUT', `/orders/${placed.body.id}/status`, {
    token: cast.restaurant.token,
    body: { status: 'confirmed', estimated_preparation_time: 25 },
  });
  t.equal(confirmed.status, 200);
  await first.server.close();

  const second = await startTestServer(t, { embedded: true, env: { DATA_DIR: dataDir } });
  t.equal(second.server.recovery.orders, 1, 'the order was recovered');
  t.equal(second.server.recovery.restaurants, 1);
  const read = await api(second.url, 'GET', `/orders/${placed.body.id}`, { token: cast.customer.token });
  t.equal(read.status, 200, JSON.stringify(read.body));
  t.match(read.body, {
    id: placed.body.id,
    status: 'confirmed',
    engine_state: 'preparing',
    total_amount: 840,
    items: [{ name: 'Butter Chicken', quantity: 3 }],
  });
  const menu = await api(second.url, 'GET', `/restaurants/${shop.id}/menu`, { token: cast.customer.token });
  t.equal(menu.body.categories[0].items.length, 3, 'the menu too');
});
