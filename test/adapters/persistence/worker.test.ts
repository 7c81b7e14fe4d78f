import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parsePersistenceConfig, PersistenceConfigError } from '../../../adapters/persistence/config.js';
import { WriteBehind } from '../../../adapters/persistence/write-behind.js';
import { PgEventStore } from '../../../adapters/postgres/pg-event-store.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import { BullmqQueue } from '../../../adapters/queue/bullmq-queue.js';
import type { EventBatch } from '../../../engine/index.js';
import { until } from '../../contracts/job-queue.contract.js';
import { world } from '../../engine/world.js';
import { busyWorld } from '../../support/busy-world.js';
import { throwawayDatabase } from '../../support/pg.js';
import { SHARED_REDIS, startRedis } from '../../support/redis-server.js';

t.test('storage config: both URLs, neither, or refused', async (t) => {
  t.same(parsePersistenceConfig({}), { mode: 'embedded', dataDir: './data', batchSize: 1000, test: false });
  const s = parsePersistenceConfig({
    DATABASE_URL: 'postgres://h/db',
    REDIS_URL: 'redis://:pw@r:6380/2',
    NODE_ENV: 'test',
  });
  t.match(s, { mode: 'server', redis: { host: 'r', port: 6380, password: 'pw', db: 2 }, test: true });
  t.match(s, { driver: 'postgres-js' }, 'postgres.js unless DATABASE_DRIVER says otherwise');
  t.ok(Object.isFrozen(s));
  const both = { DATABASE_URL: 'postgres://h/db', REDIS_URL: 'redis://r' };
  t.match(parsePersistenceConfig({ ...both, DATABASE_DRIVER: 'pg' }), { driver: 'pg' });
  t.throws(() => parsePersistenceConfig({ ...both, DATABASE_DRIVER: 'pg-native' }), /DATABASE_DRIVER/);
  t.throws(() => parsePersistenceConfig({ DATABASE_URL: 'postgres://h/db' }), PersistenceConfigError);
  t.throws(() => parsePersistenceConfig({ REDIS_URL: 'redis://h' }), /set both/);
  t.throws(() => parsePersistenceConfig({ WRITE_BEHIND_BATCH: '0' }), /WRITE_BEHIND_BATCH/);
});

/** Runs `npm run worker`'s script as a child process. */
function worker(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/worker.ts'], {
    env: { ...process.env, METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

t.test('the worker on its own writes behind, and stops cleanly on SIGTERM', async (t) => {
  const url = await throwawayDatabase(t, 'worker');
  const prefix = `t-worker-${process.pid}-${randomBytes(4).toString('hex')}`;
  const w1 = worker({ DATABASE_URL: url, REDIS_URL: 'redis://127.0.0.1:6379', QUEUE_PREFIX: prefix, NODE_ENV: 'test' });
  t.teardown(() => {
    w1.child.kill('SIGKILL');
  });
  await until(() => w1.stderr().includes('writing behind'), 20_000);
  const queue = new BullmqQueue<EventBatch>({ redis: SHARED_REDIS, name: 'engine-events', prefix });
  const db = serverDatabase(url, { max: 1 });
  const store = new PgEventStore(db);
  t.teardown(async () => {
    await queue.bullmq.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await store.close();
  });
  const w = world();
  const wb = new WriteBehind(w.engine, queue);
  await busyWorld(w, () => wb.barrier());
  await until(async () => (await store.readSince(0, 100_000)).events.length === w.events.length, 10_000);
  t.pass(`the worker wrote all ${w.events.length} events`);
  // Its operations port: metrics of what it wrote, and ready.
  const port = Number(/"metrics_port":(\d+)/.exec(w1.stderr())?.[1]);
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.match(text, `\ndispatch_write_behind_events_written_total{service="worker"} ${w.events.length}\n`);
  t.match(text, /\ndispatch_write_behind_lag_seconds_count\{service="worker"\} [1-9]/);
  t.match(text, /\ndispatch_pg_pool_max\{service="worker"\} 10\n/);
  await until(async () => (await queue.depth()) === 0, 5_000);
  t.match(
    await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    /\ndispatch_write_behind_queue_depth\{service="worker"\} 0\n/,
  );
  t.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
  w1.child.kill('SIGTERM');
  t.equal(await w1.exited, 0, 'exit 0 on SIGTERM');
  t.match(w1.stderr(), /stopped after writing \d+ events/);
});

t.test('the worker refuses an evicting Redis, saying why', async (t) => {
  const r = await startRedis(t, ['--maxmemory-policy', 'volatile-lru']);
  const w1 = worker({
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused',
    REDIS_URL: `redis://127.0.0.1:${r.port}`,
  });
  t.equal(await w1.exited, 1);
  t.match(w1.stderr(), /maxmemory-policy volatile-lru; the job queue needs noeviction/);
});
