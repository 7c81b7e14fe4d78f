import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { MemoryQueue } from '../../../adapters/embedded/memory-queue.js';
import { pgliteDatabase } from '../../../adapters/embedded/pglite-database.js';
import { EventWriter } from '../../../adapters/persistence/event-writer.js';
import { takeOverQueued } from '../../../adapters/persistence/recovery.js';
import { batchJobs, jobIdOf, MAX_RECORDS_PER_JOB, WriteBehind } from '../../../adapters/persistence/write-behind.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { PgEventStore } from '../../../adapters/postgres/pg-event-store.js';
import { PgFence } from '../../../adapters/postgres/pg-fence.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import { BullmqQueue } from '../../../adapters/queue/bullmq-queue.js';
import type { EngineEvent, EventBatch, EventRecord, EventStore, JobQueue, QueuedJob } from '../../../engine/index.js';
import type { BatchHandler, ConsumeOptions } from '../../../engine/ports/job-queue.js';
import { withStates } from '../../../engine/ports/event-store.js';
import { until } from '../../contracts/job-queue.contract.js';
import { world } from '../../engine/world.js';
import { busyWorld } from '../../support/busy-world.js';
import { throwawayDatabase } from '../../support/pg.js';
import { SHARED_REDIS } from '../../support/redis-server.js';

const key = (e: EngineEvent) => `${e.aggregate}/${e.id}/${String(e.seq).padStart(6, '0')}`;
const sorted = (es: readonly EngineEvent[]) => [...es].sort((a, b) => key(a).localeCompare(key(b)));

async function dump(store: EventStore) {
  const { events } = await store.readSince(0, 1_000_000);
  return { events: sorted(events), state: await store.loadState(0) };
}

async function writesEverythingOnce(t: Test, store: EventStore, queue: JobQueue<EventBatch>) {
  const w = world();
  const wb = new WriteBehind(w.engine, queue);
  const batches: QueuedJob<EventBatch>[][] = [];
  const writer = new EventWriter(queue, store, {
    batchSize: 16,
    jobsPerBatch: 4,
    lingerMs: 2,
    onBatch: (b) => batches.push([...b]),
  }).start();
  t.teardown(() => writer.stop());
  await busyWorld(w, () => wb.barrier());
  t.equal(wb.enqueued, w.events.length, 'every event enqueued');
  t.ok(wb.adds < w.events.length, `in ${wb.adds} adds for ${w.events.length} events`);
  await until(async () => (await queue.pending()).length === 0 && writer.written === w.events.length, 10_000);
  t.ok(batches.length > 1, `written in ${batches.length} batches`);
  const jobs = batches.flat();
  t.same(
    jobs.flatMap((j) => j.data.records.map((r) => jobIdOf(r.event))).sort(),
    w.events.map(jobIdOf).sort(),
    'every event written once',
  );
  t.ok(
    jobs.every((j) => j.id === `b.${jobIdOf(j.data.records[0]!.event)}`),
    'a job is named after its first event',
  );
  const before = await dump(store);
  t.same(before.events, JSON.parse(JSON.stringify(sorted(w.events))), 'the stored log is the engine log');
  t.equal(before.state.orders.length, w.engine.toSnapshot().orders.length, 'every order has a state row');

  // Deliver every batch again, as after a worker killed mid-batch or a stalled job.
  const writtenBefore = writer.written;
  for (const b of batches.slice()) await writer.handle(b);
  t.equal(writer.written, writtenBefore, 'nothing new inserted');
  t.same(await dump(store), before, 'a job run twice changes nothing');
}

t.test('embedded: PGlite behind the in-process queue', async (t) => {
  const db = await pgliteDatabase();
  await migrate(db);
  const store = new PgEventStore(db);
  const queue = new MemoryQueue<EventBatch>({ retryDelayMs: 20 });
  t.teardown(async () => {
    await queue.close();
    await store.close();
  });
  await writesEverythingOnce(t, store, queue);
});

t.test('Postgres behind BullMQ', async (t) => {
  const db = serverDatabase(await throwawayDatabase(t, 'write_behind'), { max: 4 });
  await migrate(db);
  const store = new PgEventStore(db);
  const queue = new BullmqQueue<EventBatch>({
    redis: SHARED_REDIS,
    name: 'events',
    prefix: `t-wb-${process.pid}-${randomBytes(4).toString('hex')}`,
  });
  t.teardown(async () => {
    await queue.bullmq.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await store.close();
  });
  await writesEverythingOnce(t, store, queue);
});

t.test('a failed add rejects the barrier and its jobs go with the next add', async (t) => {
  const w = world();
  const added: { id: string; events: string[] }[][] = [];
  let down = true;
  const queue: JobQueue<EventBatch> = {
    enqueue: async (jobs) => {
      if (down) throw Object.assign(new Error('redis down'), { code: 'DEPENDENCY_UNAVAILABLE' });
      added.push(jobs.map((j) => ({ id: j.id, events: j.data.records.map((r) => jobIdOf(r.event)) })));
    },
    consume: () => ({ close: async () => {} }),
    pending: async () => [],
    close: async () => {},
  };
  const wb = new WriteBehind(w.engine, queue);
  w.restaurant('r1');
  const failed = w.events.map(jobIdOf);
  await t.rejects(wb.barrier(), { code: 'DEPENDENCY_UNAVAILABLE' }, 'not acknowledged while the queue is down');
  down = false;
  w.rider('a');
  await wb.barrier();
  t.equal(added.length, 1, 'one add');
  t.same(added[0]![0], { id: `b.${failed[0]}`, events: failed }, 'the failed job went first, as it was cut');
  t.same(
    added.flat().flatMap((j) => j.events),
    w.events.map(jobIdOf),
    'then the newer events in their own job, in order, none lost',
  );
});

t.test(
  'a failed add that did reach the queue: the retry resends the same jobs, so id dedupe loses nothing',
  async (t) => {
    const w = world();
    const inner = new MemoryQueue<EventBatch>();
    t.teardown(() => inner.close());
    let lie = true;
    // Redis took the add but the answer was lost (a timeout): the caller sees a failure.
    const queue: JobQueue<EventBatch> = {
      enqueue: async (jobs) => {
        await inner.enqueue(jobs);
        if (lie) {
          lie = false;
          throw Object.assign(new Error('add timed out'), { code: 'DEPENDENCY_UNAVAILABLE' });
        }
      },
      consume: (h, o) => inner.consume(h, o),
      pending: () => inner.pending(),
      close: async () => {},
    };
    const wb = new WriteBehind(w.engine, queue);
    w.restaurant('r1');
    await t.rejects(wb.barrier(), { code: 'DEPENDENCY_UNAVAILABLE' });
    w.rider('a');
    w.rider('b');
    await wb.barrier();
    const queued = (await inner.pending()).flatMap((j) => j.data.records.map((r) => jobIdOf(r.event)));
    t.same(queued.sort(), w.events.map(jobIdOf).sort(), 'every event is queued exactly once');
  },
);

t.test('batchJobs cuts at the limit and names each job after its first event', async (t) => {
  const w = world();
  for (let i = 0; i < 5; i++) w.rider(`c${i}`);
  const records = w.events.map((event) => ({ event, state: null, idCounter: 0 }));
  const jobs = batchJobs(records, 2);
  const sizes = jobs.map((j) => j.data.records.length);
  t.same(
    sizes,
    [...Array<number>(jobs.length - 1).fill(2), records.length - 2 * (jobs.length - 1)],
    'full jobs, then the rest',
  );
  t.ok(
    jobs.every((j) => j.data.records.length <= 2),
    'none over the limit',
  );
  t.same(
    jobs.flatMap((j) => j.data.records),
    records,
    'every record once, in order',
  );
  t.same(
    jobs.map((j) => j.id),
    jobs.map((j) => `b.${jobIdOf(j.data.records[0]!.event)}`),
  );
  t.equal(batchJobs(records).length, Math.ceil(records.length / MAX_RECORDS_PER_JOB), 'default limit');
  t.same(batchJobs([]), [], 'no records, no jobs');
});

t.test("a job carries the state one command's events share once; the writer gives it back to each", async (t) => {
  const w = world();
  const r = w.restaurant('r1');
  w.rider('d1');
  const inner = new MemoryQueue<EventBatch>();
  const jobs: { id: string; data: EventBatch }[] = [];
  const wb = new WriteBehind(w.engine, {
    enqueue: async (js) => void jobs.push(...js),
    consume: (h, o) => inner.consume(h, o),
    pending: () => inner.pending(),
    close: () => inner.close(),
  });
  // What each command emitted, with the state write-behind captured for its actor (as #gather does).
  const full: EventRecord[] = [];
  w.engine.subscribeBatches(({ events }) => {
    const states = new Map<string, EventRecord['state']>();
    for (const event of events) {
      const k = `${event.aggregate}/${event.id}`;
      if (!states.has(k)) states.set(k, w.engine.snapshotRow(event.aggregate, event.id) ?? null);
      full.push({ event, state: states.get(k)!, idCounter: w.engine.idCounter });
    }
  });
  w.order(r, { id: 'o1' });
  await wb.barrier();
  const queued = jobs.flatMap((j) => j.data.records);
  t.same(
    queued.map((x) => x.event),
    full.map((x) => x.event),
    'every event, in order',
  );
  const without = queued.filter((x) => x.state === undefined);
  t.ok(without.length > 0, `records whose state a later one carries go without (${without.length})`);
  const json = (rs: readonly EventRecord[]) => JSON.stringify(rs).length;
  t.ok(json(queued) < json(full), `less JSON: ${json(queued)} bytes for ${json(full)}`);
  t.same(withStates(JSON.parse(JSON.stringify(queued)) as EventRecord[]), full, 'given back, the records as captured');

  const handed: EventRecord[] = [];
  const appended: EventRecord[] = [];
  const store = {
    append: async (rs: readonly EventRecord[]) => (appended.push(...rs), { inserted: rs.length }),
  } as unknown as EventStore;
  const writer = new EventWriter(inner, store, { afterStore: async (rs) => void handed.push(...rs) });
  await writer.handle(
    jobs.map((j) => ({ id: j.id, data: JSON.parse(JSON.stringify(j.data)) as EventBatch, attempt: 1 })),
  );
  t.same(handed, full, 'what follows the store (the push feed) sees every state');
  t.same(appended, full, 'and so does the store');
  await wb.close();
});

t.test(
  'group commit: commands that finish while an add is in flight go together in the next add, in order',
  async (t) => {
    const inner = new MemoryQueue<EventBatch>();
    const adds: string[][] = [];
    let release: (() => void) | undefined;
    // The first add waits until the test lets it go: a slow Redis round trip.
    const slow: JobQueue<EventBatch> = {
      enqueue: async (jobs) => {
        adds.push(jobs.flatMap((j) => j.data.records.map((r) => jobIdOf(r.event))));
        if (adds.length === 1) await new Promise<void>((r) => (release = r));
        await inner.enqueue(jobs);
      },
      consume: (h, o) => inner.consume(h, o),
      pending: () => inner.pending(),
      close: () => inner.close(),
    };
    const w = world();
    const wb = new WriteBehind(w.engine, slow);
    w.engine.registerRider({ riderId: 'gc-0' as never });
    const first = wb.barrier();
    const later: Promise<void>[] = [];
    for (let i = 1; i <= 10; i++) {
      w.engine.registerRider({ riderId: `gc-${i}` as never });
      later.push(wb.barrier());
    }
    await new Promise((r) => setImmediate(r));
    t.equal(adds.length, 1, 'one add in flight; the ten commands behind it wait');
    release!();
    await Promise.all([first, ...later]);
    t.equal(adds.length, 2, 'all ten went in one more add');
    t.same(
      adds.flat(),
      Array.from({ length: 11 }, (_, i) => `rider.gc-${i}.1`),
      'in emission order',
    );
    t.equal(wb.adds, 2);
    t.equal(wb.enqueued, 11);
  },
);

t.test('fenced write-behind: a tenure ended by a newer claim writes nothing more', async (t) => {
  const db = await pgliteDatabase();
  await migrate(db);
  const store = new PgEventStore(db);
  const queue = new MemoryQueue<EventBatch>({ retryDelayMs: 20 });
  t.teardown(async () => {
    await queue.close();
    await store.close();
  });
  const refused: string[] = [];
  const writer = new EventWriter(queue, store, {
    lingerMs: 1,
    onFenced: (f, n, detail) => refused.push(`${f.partition}/${f.token}: ${n} (${detail})`),
  }).start();
  t.teardown(() => writer.stop());
  const settled = async (n: number) => until(async () => writer.written + writer.fenced === n, 10_000);

  // The old owner (token 3) writes while it holds the partition.
  const old = world();
  const wbOld = new WriteBehind(old.engine, queue, { partition: 'p1', token: 3 });
  old.restaurant('r1');
  old.rider('a');
  await wbOld.barrier();
  const landed = old.events.length;
  await settled(landed);
  t.equal(writer.written, landed, 'its events land under its token');

  // A newer owner claims the partition (token 4); the old one, paused past its lease, wakes and goes on.
  t.match(await new PgFence(db).claim('p1', 4), { ok: true });
  old.rider('b');
  await wbOld.barrier();
  const late = old.events.length - landed;
  await settled(old.events.length);
  t.equal(writer.fenced, late, 'everything it emitted after the claim is refused');
  t.match(refused, [/^p1\/3: \d+ \(partition p1: token 3 is below 4\)$/]);
  t.equal((await store.readSince(0, 10_000)).events.length, landed, 'and nothing of it is stored');

  // The new owner's events land, even those whose ids the old tenure also used.
  const next = world();
  const wbNew = new WriteBehind(next.engine, queue, { partition: 'p1', token: 4 });
  next.restaurant('r1');
  next.rider('a');
  next.rider('b');
  await wbNew.barrier();
  await until(async () => (await store.readSince(0, 10_000)).events.length === next.events.length, 10_000);
  const stored = (await store.readSince(0, 10_000)).events;
  t.equal(writer.written, next.events.length, 'its first events were stored already (same ids), the rest now');
  t.same(stored.map(jobIdOf).sort(), next.events.map(jobIdOf).sort(), 'the stored log is the new owner’s');
});

t.test('fenced jobs are named with their token; a writer never mixes fences in one append', async (t) => {
  const w = world();
  w.restaurant('r1');
  for (const r of ['a', 'b', 'c']) w.rider(r);
  const records = w.events.map((event) => ({ event, state: null, idCounter: 0 }));
  const [job] = batchJobs(records, MAX_RECORDS_PER_JOB, { partition: 'p1', token: 9 });
  t.equal(job!.id, `b.9.${jobIdOf(records[0]!.event)}`);
  t.same(job!.data.fence, { partition: 'p1', token: 9 });

  const calls: string[] = [];
  const store = {
    append: async (rs: readonly unknown[]) => (calls.push(`append ${rs.length}`), { inserted: rs.length }),
    appendFenced: async (f: { partition: string; token: number }, rs: readonly unknown[]) => (
      calls.push(`fenced ${f.partition}/${f.token} ${rs.length}`),
      f.token < 5 ? { ok: false, code: 'FENCED', detail: 'below 5' } : { ok: true, value: { inserted: rs.length } }
    ),
  } as unknown as EventStore;
  const after: number[] = [];
  const writer = new EventWriter(new MemoryQueue<EventBatch>(), store, {
    afterStore: async (rs) => void after.push(rs.length),
  });
  const q = (data: EventBatch, id: string): QueuedJob<EventBatch> => ({ id, data, attempt: 1 });
  await writer.handle([
    q({ records: records.slice(0, 1) }, 'a'),
    q({ records: records.slice(1, 2) }, 'b'),
    q({ records: records.slice(2, 3), fence: { partition: 'p1', token: 3 } }, 'c'),
    q({ records: records.slice(3, 4), fence: { partition: 'p1', token: 5 } }, 'd'),
    q({ records: records.slice(4, 5), fence: { partition: 'p1', token: 5 } }, 'e'),
  ]);
  t.same(calls, ['append 2', 'fenced p1/3 1', 'fenced p1/5 2']);
  t.same(after, [2, 2], 'only stored records go on to what follows the durable stream');
  t.equal(writer.fenced, 1);
});

/**
 * The old owner's acknowledged events are queued, not yet stored (the writer is behind); a new owner
 * takes the partition over: takeOverQueued stores them under its token before anything else, and
 * the writer then drops the old jobs (fenced) without losing what they carried. Another partition's
 * jobs are left to the writer.
 */
async function takesOverWhatIsQueued(t: Test, store: EventStore, queue: JobQueue<EventBatch>) {
  const old = world();
  const wbOld = new WriteBehind(old.engine, queue, { partition: 'p1', token: 3 });
  old.restaurant('r1');
  old.rider('a');
  old.rider('b');
  await wbOld.barrier();
  const other = world();
  const wbOther = new WriteBehind(other.engine, queue, { partition: 'p2', token: 1 });
  other.restaurant('r2');
  await wbOther.barrier();
  t.equal((await store.readSince(0, 10_000)).events.length, 0, 'acknowledged, queued, nothing stored yet');

  const took = await takeOverQueued(queue, store, { partition: 'p1', token: 4 });
  t.ok(took.ok, 'the take-over is the claim');
  if (!took.ok) return;
  t.equal(took.value.records.length, old.events.length, 'it takes every queued record of the partition');
  t.equal(took.value.inserted, old.events.length);
  t.same(
    sorted((await store.readSince(0, 10_000)).events),
    JSON.parse(JSON.stringify(sorted(old.events))),
    'the old tenure’s events are stored, and only they',
  );
  t.match(
    await takeOverQueued(queue, store, { partition: 'p1', token: 3 }),
    { ok: false, code: 'FENCED' },
    'the old token is refused after it',
  );

  const fenced: string[] = [];
  const writer = new EventWriter(queue, store, {
    lingerMs: 1,
    onFenced: (f, n) => fenced.push(`${f.partition}/${f.token}: ${n}`),
  }).start();
  t.teardown(() => writer.stop());
  await until(async () => (await queue.pending()).length === 0, 10_000);
  t.equal(writer.fenced, old.events.length, 'the writer drops the old jobs');
  t.ok(
    fenced.every((f) => f.startsWith('p1/3:')),
    'only the old tenure’s',
  );
  const { events } = await store.readSince(0, 10_000);
  t.same(
    sorted(events),
    JSON.parse(JSON.stringify(sorted([...old.events, ...other.events]))),
    'nothing acknowledged is lost: the old tenure’s events and the other partition’s, each once',
  );
  const state = await store.loadState(0);
  t.same(state.riders.map((r) => r.id).sort(), ['a', 'b'], 'the riders’ state rows are there to rebuild from');
}

t.test('take-over: PGlite behind the in-process queue', async (t) => {
  const db = await pgliteDatabase();
  await migrate(db);
  const store = new PgEventStore(db);
  const queue = new MemoryQueue<EventBatch>({ retryDelayMs: 20 });
  t.teardown(async () => {
    await queue.close();
    await store.close();
  });
  await takesOverWhatIsQueued(t, store, queue);
});

t.test('take-over: Postgres behind BullMQ', async (t) => {
  const db = serverDatabase(await throwawayDatabase(t, 'take_over'), { max: 4 });
  await migrate(db);
  const store = new PgEventStore(db);
  const queue = new BullmqQueue<EventBatch>({
    redis: SHARED_REDIS,
    name: 'events',
    prefix: `t-to-${process.pid}-${randomBytes(4).toString('hex')}`,
  });
  t.teardown(async () => {
    await queue.bullmq.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await store.close();
  });
  await takesOverWhatIsQueued(t, store, queue);
});

/** `queue` with every consumer's batches counted: what the local path stores must never reach them. */
function countingConsumers(queue: JobQueue<EventBatch>): { q: JobQueue<EventBatch>; consumed: string[] } {
  const consumed: string[] = [];
  const q = new Proxy(queue, {
    get(target, prop) {
      if (prop === 'consume')
        return (handler: BatchHandler<EventBatch>, opts?: ConsumeOptions) =>
          target.consume(async (batch) => {
            consumed.push(...batch.map((j) => j.id));
            await handler(batch);
          }, opts);
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { q, consumed };
}

/** `store` whose appends throw while `down()` says so (Postgres refusing). */
function flakyStore(store: EventStore, down: () => boolean): EventStore {
  return new Proxy(store, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const f = (v as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'append' && prop !== 'appendFenced') return f;
      return async (...a: unknown[]) => {
        if (down()) throw new Error('postgres down');
        return f(...a);
      };
    },
  });
}

async function storesItsOwn(t: Test, store: EventStore, queue: JobQueue<EventBatch>) {
  const w = world();
  const { q, consumed } = countingConsumers(queue);
  const writer = new EventWriter(q, store, { batchSize: 16, jobsPerBatch: 4, lingerMs: 2 }).start();
  t.teardown(() => writer.stop());
  // A minute's hold: anything the local path failed to store would not be written within the test.
  const wb = new WriteBehind(w.engine, q, undefined, { holdMs: 60_000, take: (jobs) => writer.take(jobs) });
  await busyWorld(w, () => wb.barrier());
  await until(async () => writer.written === w.events.length && (await q.pending()).length === 0, 10_000);
  t.same(consumed, [], 'no job reached a worker: each was stored from memory and settled');
  t.equal(writer.localFailed, 0, 'no local store failed');
  t.same((await dump(store)).events, JSON.parse(JSON.stringify(sorted(w.events))), 'the stored log is the engine log');
}

async function leftToWorkers(t: Test, store: EventStore, queue: JobQueue<EventBatch>) {
  // A process that enqueued its jobs held and died before storing them.
  const w = world();
  const dead = new WriteBehind(w.engine, queue, undefined, { holdMs: 500, take: () => {} });
  await busyWorld(w, () => dead.barrier());
  t.ok((await queue.pending()).length > 0, 'its jobs are in the queue');
  // Another process's worker.
  const { q, consumed } = countingConsumers(queue);
  const writer = new EventWriter(q, store, { batchSize: 16, jobsPerBatch: 50, lingerMs: 2 }).start();
  t.teardown(() => writer.stop());
  await until(async () => writer.written === w.events.length && (await q.pending()).length === 0, 15_000);
  t.ok(consumed.length > 0, `a worker stored them when the hold ended (${consumed.length} jobs)`);
  t.same((await dump(store)).events, JSON.parse(JSON.stringify(sorted(w.events))), 'nothing lost');
}

async function failsOverToWorkers(t: Test, store: EventStore, queue: JobQueue<EventBatch>) {
  let down = true;
  const w = world();
  const { q, consumed } = countingConsumers(queue);
  const said: string[] = [];
  const writer = new EventWriter(
    q,
    flakyStore(store, () => down),
    {
      jobsPerBatch: 4,
      lingerMs: 2,
      onLocalStore: (err) => said.push(err === undefined ? 'storing again' : `failed: ${(err as Error).message}`),
    },
  ).start();
  t.teardown(() => writer.stop());
  const wb = new WriteBehind(w.engine, q, undefined, { holdMs: 400, take: (jobs) => writer.take(jobs) });
  w.restaurant('r0');
  await wb.barrier();
  await until(() => writer.localFailed > 0, 5_000);
  down = false;
  await busyWorld(w, () => wb.barrier());
  await until(async () => writer.written === w.events.length && (await q.pending()).length === 0, 15_000);
  t.ok(consumed.length >= 1, `what the local path could not store went to a worker (${consumed.length} jobs)`);
  t.same(said, ['failed: postgres down', 'storing again'], 'said once when it failed, once when it worked again');
  t.same((await dump(store)).events, JSON.parse(JSON.stringify(sorted(w.events))), 'nothing lost');
}

t.test('the local path: stored from memory, settled, never fetched by a worker', async (t) => {
  const kinds: [string, () => Promise<{ store: EventStore; queue: JobQueue<EventBatch> }>][] = [
    [
      'embedded',
      async () => {
        const db = await pgliteDatabase();
        await migrate(db);
        return { store: new PgEventStore(db), queue: new MemoryQueue<EventBatch>({ retryDelayMs: 20 }) };
      },
    ],
    [
      'Postgres behind BullMQ',
      async () => {
        const db = serverDatabase(await throwawayDatabase(t, 'write_behind_local'), { max: 6 });
        await migrate(db);
        const queue = new BullmqQueue<EventBatch>({
          redis: SHARED_REDIS,
          name: 'events',
          prefix: `t-wbl-${process.pid}-${randomBytes(4).toString('hex')}`,
          backoffMs: 100,
        });
        return { store: new PgEventStore(db), queue };
      },
    ],
  ];
  for (const [kind, open] of kinds) {
    for (const [what, run] of [
      ['stores its own jobs', storesItsOwn],
      ['a process that died before storing leaves its jobs to workers after the hold', leftToWorkers],
      ['a local store that fails leaves its jobs to workers after the hold', failsOverToWorkers],
    ] as const) {
      await t.test(`${kind}: ${what}`, async (t) => {
        const { store, queue } = await open();
        t.teardown(async () => {
          if (queue instanceof BullmqQueue) await queue.bullmq.obliterate({ force: true }).catch(() => {});
          await queue.close();
          await store.close();
        });
        await run(t, store, queue);
      });
    }
  }
});

t.test('a local store needs a queue that can settle', async (t) => {
  const queue: JobQueue<EventBatch> = {
    enqueue: async () => {},
    consume: () => ({ close: async () => {} }),
    pending: async () => [],
    close: async () => {},
  };
  t.throws(() => new WriteBehind(world().engine, queue, undefined, { holdMs: 1_000, take: () => {} }), TypeError);
});
