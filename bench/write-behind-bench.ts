/**
 * `npm run bench -- write-behind`: durable state on the real services.
 * - rows/s written behind: events from whole order lifecycles on a real
 *   engine, as write-behind makes them (each with its actor's state), appended
 *   to Postgres in batches, four in flight as in the worker; then the worst case (every event a different
 *   actor, so one state upsert per event); against single-row appends (one
 *   event per transaction, what a naive writer does) in the same run;
 * - queue lag p50/p99: engine events enqueued on BullMQ at a steady rate
 *   (one order_placed event per order; one add and one job per 10 ms tick, as
 *   WriteBehind's group commit makes), from the add to the commit in Postgres;
 * - start to serving: migrate (already current) + load + Engine.restore with
 *   every order written in the first part still live in Postgres.
 * Uses a throwaway database and a unique queue prefix, removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { EventWriter } from '../adapters/persistence/event-writer.js';
import { recoverEngine } from '../adapters/persistence/recovery.js';
import { batchJobs, WriteBehind } from '../adapters/persistence/write-behind.js';
import { dropDatabase, ensureDatabase } from '../adapters/postgres/ensure-database.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { PgEventStore } from '../adapters/postgres/pg-event-store.js';
import { serverDatabase } from '../adapters/postgres/server-database.js';
import { BullmqQueue } from '../adapters/queue/bullmq-queue.js';
import { parseRedisUrl } from '../adapters/queue/redis-url.js';
import {
  Engine,
  SimulatedClock,
  offsetM,
  type CustomerId,
  type EngineEvent,
  type EventBatch,
  type EventRecord,
  type JobQueue,
  type OrderSnapshotRow,
  type RestaurantId,
  type RiderId,
} from '../engine/index.js';
import { Sample } from './stats.js';

export interface WriteBehindBenchOptions {
  /** Events (and live orders) written in the throughput part. */
  events: number;
  batch: number;
  /** Orders per second in the lag part, and for how long. */
  rate: number;
  seconds: number;
  baselineEvents: number;
  pgServer: string;
  redisUrl: string;
}

export const defaultWriteBehindBench: WriteBehindBenchOptions = {
  events: 100_000,
  batch: 1_000,
  rate: 2_000,
  seconds: 10,
  baselineEvents: 3_000,
  pgServer: 'postgres://postgres@127.0.0.1:5432',
  redisUrl: 'redis://127.0.0.1:6379',
};

/**
 * Records as write-behind makes them, from whole order lifecycles on a real
 * engine (placed, accepted, offered, assigned, picked up, delivered, with the
 * rider's events): about 16 events per order over 3 actors.
 */
async function lifecycleRecords(count: number): Promise<EventRecord[]> {
  const clock = new SimulatedClock();
  const e = new Engine({ clock, seed: 3 });
  const out: EventRecord[] = [];
  const collect: JobQueue<EventBatch> = {
    enqueue: async (jobs) => {
      for (const j of jobs) out.push(...j.data.records);
    },
    consume: () => ({ close: async () => {} }),
    pending: async () => [],
    close: async () => {},
  };
  const wb = new WriteBehind(e, collect);
  const centre = { lat: 12.97, lng: 77.59 };
  for (let r = 0; r < 50; r++) {
    e.registerRestaurant({
      restaurantId: `lr${r}` as RestaurantId,
      location: offsetM(centre.lat, centre.lng, r * 7, 300 + r * 40),
      prepMinutes: 10,
      capacity: 1_000,
    });
  }
  for (let i = 0; out.length < count; i++) {
    const riderId = `lrider${i}` as RiderId;
    const rest = e.getRestaurant(`lr${i % 50}` as RestaurantId);
    if (!rest.ok) throw new Error(rest.detail);
    e.registerRider({ riderId });
    e.riderOnline(riderId);
    const at = offsetM(rest.value.location.lat, rest.value.location.lng, 90, 100);
    e.updateRiderPosition(riderId, at.lat, at.lng, 5, NaN, 0, clock.now());
    const placed = e.placeOrder({
      customerId: `lc${i}` as CustomerId,
      restaurantId: rest.value.id,
      drop: offsetM(at.lat, at.lng, 0, 1500),
      paid: true,
    });
    if (!placed.ok) throw new Error(placed.detail);
    e.restaurantAccept(placed.value, { prepMinutes: 0 });
    const view = e.getOrder(placed.value);
    const holder = view.ok ? view.value.offer?.riderId : undefined;
    if (holder) {
      e.acceptOffer(holder, placed.value);
      e.pickedUp(holder, placed.value);
      e.delivered(holder, placed.value);
      e.riderOffline(holder);
    }
    clock.advance(100);
    await wb.barrier();
  }
  e.stop();
  return out.slice(0, count);
}

/** An engine-made order_placed event, its order's state row and its restaurant's, to clone. */
function templates() {
  const clock = new SimulatedClock();
  const e = new Engine({ clock });
  const events: EngineEvent[] = [];
  e.subscribe((ev) => events.push(ev));
  const restaurantId = 'bench-r' as RestaurantId;
  e.registerRestaurant({ restaurantId, location: { lat: 12.97, lng: 77.59 }, prepMinutes: 15, capacity: 1_000_000 });
  const placed = e.placeOrder({
    customerId: 'bench-c' as CustomerId,
    restaurantId,
    drop: { lat: 12.98, lng: 77.6 },
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const restaurant: EventRecord = {
    event: events[0]!,
    state: e.snapshotRow('restaurant', restaurantId) ?? null,
    idCounter: 1,
  };
  return {
    restaurant,
    event: events[1]!,
    row: e.snapshotRow('order', placed.value) as OrderSnapshotRow,
    at: clock.now(),
  };
}

export async function runWriteBehindBench(o: WriteBehindBenchOptions, progress: (s: string) => void) {
  const tpl = templates();
  const record = (i: number, prefix: string): EventRecord => {
    const id = `${prefix}${i}`;
    return {
      event: { ...tpl.event, id } as EngineEvent,
      state: { ...tpl.row, id: id as OrderSnapshotRow['id'] },
      idCounter: 1,
    };
  };
  const dbUrl = `${o.pgServer}/bench_wb_${process.pid}_${randomBytes(3).toString('hex')}`;
  await ensureDatabase(dbUrl);
  const db = serverDatabase(dbUrl, { max: 6 });
  const prefix = `bench-wb-${process.pid}-${randomBytes(3).toString('hex')}`;
  const queue = new BullmqQueue<EventBatch>({ redis: parseRedisUrl(o.redisUrl), name: 'engine-events', prefix });
  try {
    await migrate(db);
    const store = new PgEventStore(db);
    await store.append([tpl.restaurant]);

    // 1. Batched appends (real lifecycles, then the worst case of one event per actor) vs single-row appends.
    progress(`making ${o.events} events from order lifecycles`);
    const lifecycle = await lifecycleRecords(o.events);
    progress(`appending them in batches of ${o.batch}`);
    // Four batches in flight, as the worker has by default (EventWriter inFlight).
    const inFours = async (batches: EventRecord[][]) => {
      for (let i = 0; i < batches.length; i += 4)
        await Promise.all(batches.slice(i, i + 4).map((b) => store.append(b)));
    };
    const chunk = (xs: EventRecord[]) =>
      Array.from({ length: Math.ceil(xs.length / o.batch) }, (_, i) => xs.slice(i * o.batch, (i + 1) * o.batch));
    let t0 = performance.now();
    await inFours(chunk(lifecycle));
    const lifecycleRowsPerS = lifecycle.length / ((performance.now() - t0) / 1000);
    progress(`appending ${o.events} events of distinct orders in batches of ${o.batch}`);
    const distinct = Array.from({ length: o.events }, (_, i) => record(i, 'o'));
    t0 = performance.now();
    await inFours(chunk(distinct));
    const batchedRowsPerS = o.events / ((performance.now() - t0) / 1000);
    progress(`baseline: ${o.baselineEvents} single-row appends`);
    t0 = performance.now();
    for (let i = 0; i < o.baselineEvents; i++) await store.append([record(i, 's')]);
    const singleRowsPerS = o.baselineEvents / ((performance.now() - t0) / 1000);

    // 2. Queue lag at a steady rate through BullMQ and the worker.
    progress(`queue lag: ${o.rate} orders/s for ${o.seconds} s through BullMQ`);
    const enqueuedAt = new Map<string, number>();
    const lag = new Sample();
    const writer = new EventWriter(queue, store, {
      batchSize: o.batch,
      lingerMs: 5,
      onBatch: (b) => {
        const now = performance.now();
        for (const j of b) {
          const at = enqueuedAt.get(j.id);
          if (at !== undefined) for (let r = 0; r < j.data.records.length; r++) lag.add(now - at);
        }
      },
    }).start();
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((o.rate * tickMs) / 1000));
    const ticks = Math.round((o.seconds * 1000) / tickMs);
    const start = performance.now();
    let n = 0;
    for (let k = 0; k < ticks; k++) {
      // One add per tick, as WriteBehind's group commit makes under load: one job per tick's records.
      const records = [];
      for (let j = 0; j < perTick; j++) records.push(record(n++, 'q'));
      const jobs = batchJobs(records);
      const at = performance.now();
      for (const j of jobs) enqueuedAt.set(j.id, at);
      await queue.enqueue(jobs);
      const next = start + (k + 1) * tickMs;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const offered = n / ((performance.now() - start) / 1000);
    const end = Date.now() + 30_000;
    while (lag.count < n && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await writer.stop();

    // 3. Start to serving with every order of part 1 live in Postgres.
    progress(`recovery with ${o.events + o.baselineEvents + n} orders in Postgres`);
    t0 = performance.now();
    const db2 = serverDatabase(dbUrl, { max: 2 });
    await migrate(db2);
    const store2 = new PgEventStore(db2);
    // A simulated clock at the orders' time: deadlines are armed as on a real start, none fires during the measure.
    const { engine, report } = await recoverEngine(store2, queue, {
      clock: new SimulatedClock(tpl.at),
      retentionMs: 30 * 60_000,
    });
    const startMs = performance.now() - t0;
    engine.stop();
    await store2.close();

    return {
      rows_per_s_batched: Math.round(lifecycleRowsPerS),
      rows_per_s_batched_one_event_per_actor: Math.round(batchedRowsPerS),
      baseline_rows_per_s_single_row: Math.round(singleRowsPerS),
      batch: o.batch,
      queue_lag_ms: lag.summary(1),
      queue_rate_offered_per_s: Math.round(offered),
      queue_jobs: n,
      queue_jobs_written: lag.count,
      start_to_serving_ms: Math.round(startMs),
      recovered_orders: report.orders,
      met: {
        rows_per_s_ge_50k: lifecycleRowsPerS >= 50_000,
        start_le_5s: startMs <= 5_000,
      },
    };
  } finally {
    await queue.bullmq.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await db.close();
    await dropDatabase(dbUrl);
  }
}
