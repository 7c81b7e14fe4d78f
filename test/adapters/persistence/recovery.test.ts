import t, { type Test } from 'tap';
import { MemoryQueue } from '../../../adapters/embedded/memory-queue.js';
import { pgliteDatabase } from '../../../adapters/embedded/pglite-database.js';
import { EventWriter } from '../../../adapters/persistence/event-writer.js';
import { recoverEngine } from '../../../adapters/persistence/recovery.js';
import { WriteBehind } from '../../../adapters/persistence/write-behind.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { PgEventStore } from '../../../adapters/postgres/pg-event-store.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import {
  Engine,
  type EngineEvent,
  type EngineSnapshot,
  type EventBatch,
  type EventStore,
  SimulatedClock,
} from '../../../engine/index.js';
import { until } from '../../contracts/job-queue.contract.js';
import { world } from '../../engine/world.js';
import { busyWorld } from '../../support/busy-world.js';
import { throwawayDatabase } from '../../support/pg.js';

/** The snapshot with actors in id order and without the time it was taken. */
function canonical(s: EngineSnapshot) {
  const byId = <T extends { id: string }>(xs: readonly T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
  return JSON.parse(
    JSON.stringify({
      seed: s.seed,
      idCounter: s.idCounter,
      restaurants: byId(s.restaurants),
      riders: byId(s.riders),
      orders: byId(s.orders),
    }),
  ) as unknown;
}

/** Advances the clock minute by minute and records the events (without `at` noise: same clock times on both sides). */
function future(engine: Engine, clock: SimulatedClock, minutes: number): string[] {
  const out: string[] = [];
  const off = engine.subscribe((e: EngineEvent) => out.push(`${e.at} ${e.aggregate}/${e.id}#${e.seq} ${e.type}`));
  for (let i = 0; i < minutes; i++) clock.advance(60_000);
  off();
  return out;
}

async function rebuildsTheEngine(t: Test, store: EventStore, writeAll: boolean) {
  const w = world();
  const queue = new MemoryQueue<EventBatch>();
  t.teardown(() => queue.close());
  const wb = new WriteBehind(w.engine, queue);
  const writer = new EventWriter(queue, store, { batchSize: 32, lingerMs: 1 }).start();
  await busyWorld(w, () => wb.barrier());
  await until(async () => (await queue.pending()).length === 0, 10_000);
  if (!writeAll) {
    // The worker stops (crashed, or Postgres down); later commands are acknowledged but only queued.
    await writer.stop();
    w.clock.advance(1_000);
    w.engine.setRestaurantStatus('r2' as never, 'busy');
    w.engine.riderOffline('e' as never);
    await wb.barrier();
    t.ok((await queue.pending()).length > 0, 'some events are still queued');
  } else {
    await writer.stop();
  }
  const original = w.engine.toSnapshot();
  w.engine.stop();

  const clock = new SimulatedClock(w.clock.now());
  const { engine, report } = await recoverEngine(store, queue, {
    clock,
    seed: 7,
    retentionMs: w.engine.config.retentionMs,
  });
  t.same(canonical(engine.toSnapshot()), canonical(original), 'the rebuilt engine is the engine that stopped');
  t.equal(report.orders, original.orders.length);
  if (!writeAll) t.ok(report.fromQueue > 0, `${report.fromQueue} actors newer in the queue than in the store`);

  // Deadlines re-armed: the same future unfolds on both.
  const reference = restoreFromMemory(original, w.clock.now());
  const a = future(reference.engine, reference.clock, 40);
  const b = future(engine, clock, 40);
  t.ok(a.length > 5, `${a.length} events in the next 40 minutes (offer expiry, dispatch, grace, SLA...)`);
  t.same(b, a, 'the recovered engine fires the same deadlines with the same results');
  engine.stop();
  reference.engine.stop();
}

/** The reference: the stopped engine restored from its own in-memory snapshot. */
function restoreFromMemory(snap: EngineSnapshot, at: number) {
  const clock = new SimulatedClock(at);
  return { clock, engine: Engine.restore(snap, { clock }) };
}

t.test('from PGlite, everything written', async (t) => {
  const db = await pgliteDatabase();
  await migrate(db);
  const store = new PgEventStore(db);
  t.teardown(() => store.close());
  await rebuildsTheEngine(t, store, true);
});

t.test('from Postgres plus what is still queued', async (t) => {
  const db = serverDatabase(await throwawayDatabase(t, 'recovery'), { max: 2 });
  await migrate(db);
  const store = new PgEventStore(db);
  t.teardown(() => store.close());
  await rebuildsTheEngine(t, store, false);
});

// A worker running apart (`npm run worker`) may write jobs and take them off the queue while recovery
// reads. Reading the store first and the queue second, a job finished in between was in neither read.
t.test('a worker running apart finishes jobs while recovery reads: none is missed', async (t) => {
  const db = await pgliteDatabase();
  await migrate(db);
  const store = new PgEventStore(db);
  t.teardown(() => store.close());
  const w = world();
  const queue = new MemoryQueue<EventBatch>();
  t.teardown(() => queue.close());
  const wb = new WriteBehind(w.engine, queue);
  await busyWorld(w, () => wb.barrier());
  const queued = (await queue.pending()).length;
  t.ok(queued > 0, `${queued} jobs queued, none written yet`);
  const original = w.engine.toSnapshot();
  w.engine.stop();

  // The store's read sees it as it was when the read began; the worker empties the queue meanwhile.
  const racing: EventStore = Object.assign(Object.create(store) as EventStore, {
    loadState: async (endedSince: number) => {
      const before = await store.loadState(endedSince);
      const writer = new EventWriter(queue, store, { batchSize: 1_000, lingerMs: 1 }).start();
      await until(async () => (await queue.pending()).length === 0, 10_000);
      await writer.stop();
      return before;
    },
  });
  const clock = new SimulatedClock(w.clock.now());
  const { engine, report } = await recoverEngine(racing, queue, {
    clock,
    seed: 7,
    retentionMs: w.engine.config.retentionMs,
  });
  t.teardown(() => engine.stop());
  t.ok(report.fromQueue > 0, `${report.fromQueue} actors taken from the queue`);
  t.same(canonical(engine.toSnapshot()), canonical(original), 'the rebuilt engine is the engine that stopped');
});
