import t from 'tap';
import { EventWriter } from '../../adapters/persistence/event-writer.js';
import { WriteBehind } from '../../adapters/persistence/write-behind.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { PgEventStore } from '../../adapters/postgres/pg-event-store.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { BullmqQueue } from '../../adapters/queue/bullmq-queue.js';
import { checkRedis } from '../../adapters/queue/redis-checks.js';
import type { EngineEvent, EventBatch } from '../../engine/index.js';
import { until } from '../contracts/job-queue.contract.js';
import { world } from '../engine/world.js';
import { busyWorld } from '../support/busy-world.js';
import { throwawayDatabase } from '../support/pg.js';
import { startRedis } from '../support/redis-server.js';

const key = (e: EngineEvent) => `${e.aggregate}/${e.id}/${e.seq}`;

// A Redis of the test's own with AOF and appendfsync always: what was acknowledged survives kill -9.
t.test('Redis killed and restarted: every acknowledged event is still written behind', async (t) => {
  const redis = await startRedis(t, [
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--maxmemory-policy',
    'noeviction',
  ]);
  t.equal((await checkRedis(redis)).aof, 'always');
  const db = serverDatabase(await throwawayDatabase(t, 'fault_redis'), { max: 2 });
  await migrate(db);
  const store = new PgEventStore(db);
  const queue = new BullmqQueue<EventBatch>({ redis, name: 'events', prefix: 'fault' });
  t.teardown(async () => {
    await queue.close().catch(() => {});
    await store.close();
  });

  // Acknowledged (barrier resolved) while no worker runs: the events exist only in Redis.
  const w = world();
  const wb = new WriteBehind(w.engine, queue);
  await busyWorld(w, () => wb.barrier());
  const acknowledged = w.events.length;
  t.equal(
    (await queue.pending()).reduce((n, j) => n + j.data.records.length, 0),
    acknowledged,
    'all queued',
  );

  await redis.kill();
  w.clock.advance(1_000);
  w.engine.setRestaurantStatus('r1' as never, 'busy');
  await t.rejects(
    wb.barrier(),
    { code: 'DEPENDENCY_UNAVAILABLE' },
    'a command while Redis is down is not acknowledged',
  );

  await redis.restart();
  await until(async () => {
    try {
      await wb.barrier();
      return true;
    } catch {
      return false;
    }
  }, 10_000);
  t.pass('the unacknowledged event went through once Redis was back');

  const writer = new EventWriter(queue, store, { batchSize: 20 }).start();
  t.teardown(() => writer.stop());
  await until(async () => (await store.readSince(0, 100_000)).events.length === w.events.length, 15_000);
  const stored = (await store.readSince(0, 100_000)).events.map(key).sort();
  t.same(
    stored,
    w.events.map(key).sort(),
    `all ${acknowledged} acknowledged events and the later one are in Postgres, once each`,
  );
});
