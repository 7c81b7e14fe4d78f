/**
 * /readyz for orchestrators: not ready while the server recovers, not ready
 * while a dependency is down (or write-behind still holds events the queue
 * refused), and ready again on its own once the dependency is back, with no
 * request needed. The server runs on a Postgres cluster and a Redis of this
 * test's own, which it kills and stops; the machine's shared ones are never
 * touched. /livez stays 200 throughout: a dependency outage is no reason to
 * restart the process.
 */
import t from 'tap';
import { startPostgres } from '../support/pg-server.js';
import { freePort, startRedis } from '../support/redis-server.js';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';

const pg = await startPostgres(t);
const redis = await startRedis(t, ['--maxmemory-policy', 'noeviction']);
const metricsPort = await freePort();
const opsUrl = `http://127.0.0.1:${metricsPort}`;

// While the server opens storage and rebuilds its engine, its operations port already answers: not ready.
const seen: { status: number; reasons: string[] }[] = [];
let started = false;
const starting = startTestServer(t, {
  label: 'readiness',
  env: {
    DATABASE_URL: pg.url('readiness'),
    REDIS_URL: `redis://${redis.host}:${redis.port}`,
    METRICS_PORT: String(metricsPort),
    HEALTH_CHECK_INTERVAL: '200ms',
  },
}).finally(() => (started = true));
while (!started) {
  try {
    const res = await fetch(`${opsUrl}/readyz`);
    seen.push({ status: res.status, reasons: ((await res.json()) as { reasons: string[] }).reasons });
  } catch {
    // not listening yet
  }
  await new Promise((r) => setTimeout(r, 5));
}
const { url, auth, server } = await starting;
const cast = await makeCast(auth);
const shop = await openRestaurant(url, cast.restaurant);

const readyz = async () => {
  const r = await api(url, 'GET', '/readyz');
  return { status: r.status, reasons: (r.body as { reasons: string[] }).reasons };
};
const metric = async (line: RegExp) => line.test(await (await fetch(`${opsUrl}/metrics`)).text());
/** Polls until `pred` holds (at most 15 s), returning the last answer. */
async function eventually<T>(read: () => Promise<T>, pred: (v: T) => boolean): Promise<T> {
  let v = await read();
  for (let i = 0; i < 150 && !pred(v); i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

t.test('not ready while recovering, then ready', async (t) => {
  t.ok(seen.length > 0, `the operations port answered ${seen.length} times before the server listened`);
  t.ok(
    seen.every((s) => s.status === 503),
    'never ready before the engine is rebuilt and the port listens',
  );
  t.ok(seen.some((s) => s.reasons.some((r) => r.startsWith('recovering:'))));
  const r = await eventually(readyz, (x) => x.status === 200);
  t.same(r, { status: 200, reasons: [] });
  t.ok(await metric(/\ndispatch_ready\{service="server"\} 1\n/));
});

t.test('Redis killed: not ready, with the reason; ready again on its own once it is back', async (t) => {
  await redis.kill();
  const down = await eventually(readyz, (x) => x.status === 503);
  t.equal(down.status, 503);
  t.ok(down.reasons.includes('redis is down'), down.reasons.join('; '));
  t.ok(await metric(/\ndispatch_dependency_up\{dependency="redis",service="server"\} 0\n/));
  t.equal((await api(url, 'GET', '/livez')).status, 200, 'alive all the same');
  // A command now leaves its events with write-behind, refused by the queue: recovering until they are queued.
  const placed = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: {
      ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
      payment_method: { type: 'CASH' },
    },
  });
  t.equal(placed.status, 503);
  const holding = await readyz();
  t.ok(
    holding.reasons.some((r) => r.startsWith('recovering: write-behind holds events')),
    holding.reasons.join('; '),
  );

  await redis.restart();
  const back = await eventually(readyz, (x) => x.status === 200);
  t.same(back, { status: 200, reasons: [] }, 'ready with no request made: the refused events went again');
  t.ok(await metric(/\ndispatch_dependency_up\{dependency="redis",service="server"\} 1\n/));
  t.ok(await metric(/\ndispatch_recovering\{service="server"\} 0\n/));
});

t.test('Postgres stopped: not ready; ready again once it is back', async (t) => {
  pg.stop();
  const down = await eventually(readyz, (x) => x.status === 503);
  t.ok(down.reasons.includes('database is down'), down.reasons.join('; '));
  const health = await api(url, 'GET', '/health');
  t.equal(health.status, 503);
  t.match(health.body.services, { database: 'unhealthy', redis: 'healthy' });
  pg.start();
  const back = await eventually(readyz, (x) => x.status === 200);
  t.same(back, { status: 200, reasons: [] });
  t.equal(server.health.readiness().ready, true);
});
