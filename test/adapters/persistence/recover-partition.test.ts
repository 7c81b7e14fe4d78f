import { cellToLatLng } from 'h3-js';
import t from 'tap';
import { MemoryQueue } from '../../../adapters/embedded/memory-queue.js';
import { pgliteDatabase } from '../../../adapters/embedded/pglite-database.js';
import { type PartitionScope, recoverPartition } from '../../../adapters/persistence/recovery.js';
import { batchJobs } from '../../../adapters/persistence/write-behind.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { PgEventStore } from '../../../adapters/postgres/pg-event-store.js';
import {
  type EventBatch,
  type EventRecord,
  type PartitionMap,
  SimulatedClock,
  splitBoundingBox,
} from '../../../engine/index.js';
import { rid, world } from '../../engine/world.js';

/**
 * Rebuilding one partition (docs/scale.md, "Rebuilding one partition"): from
 * the rows its owners stamped, the unstamped rows the map gives it (a
 * restaurant by its place, an order by its restaurant, a rider by its last
 * position, one without by the fallback), and what is still queued: its own
 * tenures' jobs and the unfenced jobs' actors it owns.
 */

const map: PartitionMap = splitBoundingBox({ south: 12.9, west: 77.5, north: 13.0, east: 77.7 }, 7, 2);
const centreOf = (p: string) => {
  const cells = map.cellsOf(p as never);
  const [lat, lng] = cellToLatLng(cells[Math.floor(cells.length / 2)]!);
  return { lat, lng };
};
const scope = (partition: string): PartitionScope => ({
  partition,
  partitionOfPoint: (lat, lng) => map.partitionOfPoint(lat, lng),
  riderFallback: 'p0',
});

t.test('each partition rebuilds its own actors, and only those', async (t) => {
  const db = await pgliteDatabase();
  await migrate(db);
  const store = new PgEventStore(db);
  t.teardown(() => store.close());
  const queue = new MemoryQueue<EventBatch>();

  const w = world();
  const pending: EventRecord['event'][] = [];
  w.engine.subscribe((e) => pending.push(e));
  const take = (): EventRecord[] =>
    pending.splice(0).map((event) => ({
      event,
      state: w.engine.snapshotRow(event.aggregate, event.id) ?? null,
      idCounter: w.engine.idCounter,
    }));
  const west = centreOf('p0');
  const east = centreOf('p1');
  w.restaurant('rw', west);
  w.restaurant('re', east);
  w.rider('a', west);
  w.rider('b', east);
  w.engine.registerRider({ riderId: rid('c') });
  const ow = w.order(w.restaurant('rw2', west), { id: 'ow', accept: false });
  const oe = w.order(w.restaurant('re2', east), { id: 'oe', accept: false });
  // All written by a single-process server: nothing stamped.
  await store.append(take());
  // p0's owner writes rider b (say it rode there once handover exists): stamped p0 from now on.
  w.engine.riderBreak(rid('b'));
  t.ok((await store.appendFenced({ partition: 'p0', token: 5 }, take())).ok);
  // Still queued: an unfenced restaurant in the east, and p0's tenure's rider d.
  w.restaurant('rx', east);
  await queue.enqueue(batchJobs(take()));
  w.rider('d', east);
  await queue.enqueue(batchJobs(take(), 1000, { partition: 'p0', token: 5 }));

  const opts = { clock: new SimulatedClock(), retentionMs: 86_400_000 };
  const p0 = await recoverPartition(store, queue, scope('p0'), opts);
  const p1 = await recoverPartition(store, queue, scope('p1'), opts);
  const ids = (e: typeof p0.engine) => {
    const s = e.toSnapshot();
    return {
      restaurants: s.restaurants.map((r) => r.id).sort(),
      riders: s.riders.map((r) => r.id).sort(),
      orders: s.orders.map((o) => o.id).sort(),
    };
  };
  t.same(
    ids(p0.engine),
    { restaurants: ['rw', 'rw2'], riders: ['a', 'b', 'c', 'd'], orders: [ow] },
    'p0: its places, the rider it stamped and the one it queued, the rider with no position (fallback)',
  );
  t.same(
    ids(p1.engine),
    { restaurants: ['re', 're2', 'rx'], riders: [], orders: [oe] },
    "p1: its places, the queued unfenced restaurant; not b, whose latest state p0's owner wrote",
  );
  const b = p0.engine.getRider(rid('b'));
  t.equal(b.ok ? b.value.state : b.code, 'on_break', "b as p0's owner last wrote it");
  t.not(p0.engine.seed, p1.engine.seed, 'each partition generates ids from a seed of its own');
  t.equal(p0.report.fromQueue, 1, "p0 took d's state from the queue");
  t.equal(p1.report.fromQueue, 1, "p1 took rx's state from the queue");
  p0.engine.stop();
  p1.engine.stop();
});
