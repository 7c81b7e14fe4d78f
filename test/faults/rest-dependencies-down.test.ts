/**
 * A dependency down answers 503 at once (never a hang), `/health` says which,
 * and the server serves again when it is back. The server runs on a Postgres
 * cluster and a Redis of this test's own, which it stops and kills; the
 * machine's shared ones are never touched.
 */
import t from 'tap';
import { startPostgres } from '../support/pg-server.js';
import { startRedis } from '../support/redis-server.js';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';

const pg = await startPostgres(t);
const redis = await startRedis(t, ['--maxmemory-policy', 'noeviction']);
const { url, auth } = await startTestServer(t, {
  label: 'deps_down',
  env: { DATABASE_URL: pg.url('deps_down'), REDIS_URL: `redis://${redis.host}:${redis.port}` },
});
const cast = await makeCast(auth);
const shop = await openRestaurant(url, cast.restaurant);
const order = () => ({
  ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
  payment_method: { type: 'CASH' },
});

const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const out = await fn();
  return [out, performance.now() - t0];
};

t.test('Redis killed: commands that need the queue get 503 at once; back when it is', async (t) => {
  await redis.kill();
  const [health, hMs] = await timed(() => api(url, 'GET', '/health'));
  t.equal(health.status, 503);
  t.equal(health.body.services.redis, 'unhealthy');
  t.equal(health.body.services.database, 'healthy');
  t.ok(hMs < 2_500, `health answered in ${Math.round(hMs)} ms`);

  const [r, ms] = await timed(() => api(url, 'POST', '/orders', { token: cast.customer.token, body: order() }));
  t.equal(r.status, 503, JSON.stringify(r.body));
  t.equal(r.body.code, 'DEPENDENCY_UNAVAILABLE');
  t.ok(ms < 3_000, `answered in ${Math.round(ms)} ms`);

  await redis.restart();
  let ok = 0;
  for (let i = 0; i < 50 && ok === 0; i++) {
    const again = await api(url, 'POST', '/orders', { token: cast.customer.token, body: order() });
    if (again.status === 201) ok++;
    else await new Promise((res) => setTimeout(res, 200));
  }
  t.equal(ok, 1, 'orders are taken again once Redis is back');
});

t.test('Postgres stopped: calls that need the database get 503 at once; back when it is', async (t) => {
  pg.stop();
  const [r, ms] = await timed(() => api(url, 'POST', '/orders', { token: cast.customer.token, body: order() }));
  t.equal(r.status, 503, JSON.stringify(r.body));
  t.equal(r.body.code, 'DEPENDENCY_UNAVAILABLE');
  t.ok(ms < 3_000, `answered in ${Math.round(ms)} ms`);
  const menu = await api(url, 'GET', `/restaurants/${shop.id}/menu`, { token: cast.customer.token });
  t.equal(menu.status, 503);
  const health = await api(url, 'GET', '/health');
  t.equal(health.body.services.database, 'unhealthy');

  pg.start();
  let status = 0;
  for (let i = 0; i < 50 && status !== 201; i++) {
    status = (await api(url, 'POST', '/orders', { token: cast.customer.token, body: order() })).status;
    if (status !== 201) await new Promise((res) => setTimeout(res, 200));
  }
  t.equal(status, 201, 'orders are taken again once Postgres is back');
});
