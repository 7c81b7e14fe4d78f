import t from 'tap';
import { randomBytes } from 'node:crypto';
import { EventWriter } from '../../adapters/persistence/event-writer.js';
import { WriteBehind } from '../../adapters/persistence/write-behind.js';
import { ensureDatabase } from '../../adapters/postgres/ensure-database.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { PgEventStore } from '../../adapters/postgres/pg-event-store.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { BullmqQueue } from '../../adapters/queue/bullmq-queue.js';
import type { EngineEvent, EventBatch, RiderId } from '../../engine/index.js';
import { until } from '../contracts/job-queue.contract.js';
import { world } from '../engine/world.js';
import { busyWorld } from '../support/busy-world.js';
import { startPostgres } from '../support/pg-server.js';
import { SHARED_REDIS } from '../support/redis-server.js';

const key = (e: EngineEvent) => `${e.aggregate}/${e.id}/${e.seq}`;

// The minute. Retries back off exponentially from 1 s here (attempts at 0, 1, 3, 7, 15, 31
// and 63 s), so the backlog drains within seconds of Postgres coming back; the default schedule
// (from 500 ms, 10 attempts) covers about 8 minutes.
const OUTAGE_MS = 60_000;
// The minute of outage takes this file past the suite's 120 s default on a loaded machine.
t.setTimeout(240_000);

t.test(
  'Postgres stopped for a minute: commands are still acknowledged, and everything lands once it is back',
  { timeout: 180_000 },
  async (t) => {
    const pg = await startPostgres(t);
    const url = pg.url('fault_pg');
    await ensureDatabase(url);
    const db = serverDatabase(url, { max: 2 });
    await migrate(db);
    const store = new PgEventStore(db);
    const queue = new BullmqQueue<EventBatch>({
      redis: SHARED_REDIS,
      name: 'events',
      prefix: `t-pgdown-${process.pid}-${randomBytes(4).toString('hex')}`,
      backoffMs: 1_000,
    });
    t.teardown(async () => {
      await queue.bullmq.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await store.close();
    });
    const writer = new EventWriter(queue, store, { batchSize: 10 }).start();
    t.teardown(() => writer.stop());

    const w = world();
    const wb = new WriteBehind(w.engine, queue);
    await busyWorld(w, () => wb.barrier());
    await until(async () => writer.written === w.events.length, 10_000);
    const before = w.events.length;

    pg.stop();
    await t.rejects(
      store.readSince(0, 1),
      { code: 'DEPENDENCY_UNAVAILABLE' },
      'the store reports the outage with the error table code',
    );
    // Commands keep being acknowledged through the outage, spread over the minute.
    const stopAt = Date.now() + OUTAGE_MS;
    for (const id of ['a', 'b', 'c']) {
      w.clock.advance(2_000);
      w.engine.riderOffline(id as RiderId);
      await wb.barrier();
      await new Promise((r) => setTimeout(r, OUTAGE_MS / 4));
    }
    t.ok(w.events.length > before, `${w.events.length - before} events acknowledged while Postgres was down`);
    await new Promise((r) => setTimeout(r, Math.max(0, stopAt - Date.now())));
    pg.start();
    await until(async () => {
      try {
        return (await store.readSince(0, 100_000)).events.length === w.events.length;
      } catch {
        return false;
      }
    }, 40_000);
    const stored = (await store.readSince(0, 100_000)).events.map(key).sort();
    t.same(stored, w.events.map(key).sort(), 'every event written once after the outage');
  },
);
