import { Engine, type EngineOptions } from '../../engine/engine.js';
import { holdsKitchen, type OrderState } from '../../engine/machines/order-machine.js';
import { stateKey } from '../../engine/machines/step.js';
import type {
  ActorRow,
  BatchFence,
  EventBatch,
  EventRecord,
  EventStore,
  PartitionState,
  StoredState,
} from '../../engine/ports/event-store.js';
import type { JobQueue, QueuedJob } from '../../engine/ports/job-queue.js';
import { ok, type Result } from '../../protocol/index.js';
import {
  type EngineSnapshot,
  type OrderSnapshotRow,
  type RestaurantSnapshotRow,
  type RiderSnapshotRow,
  SNAPSHOT_FORMAT,
} from '../../engine/snapshot.js';

export interface RecoveryOptions extends EngineOptions {
  /** Orders that ended longer ago than this are not loaded (the engine's retention), ms. */
  readonly retentionMs: number;
}

export interface RecoveryReport {
  readonly restaurants: number;
  readonly riders: number;
  readonly orders: number;
  /** Queued records (not yet in the store) whose state was newer than the stored one. */
  readonly fromQueue: number;
  readonly ms: number;
}

/**
 * Rebuilds the engine at start: the latest stored state of every actor
 * (Postgres or PGlite), overlaid with whatever is still queued and newer (a
 * job acknowledged but not yet written behind), then `Engine.restore`, which
 * re-arms every deadline from the absolute times in the actors' state. Only
 * then should the server serve.
 *
 * Rider positions come back as of each rider's latest event: positions are
 * not events (the hot path writes nothing), so a rider is matchable again
 * from its next position fix. A restaurant's open-order count is derived from
 * the loaded orders, because placing an order changes it without a
 * restaurant event.
 */
export async function recoverEngine(
  store: EventStore,
  queue: JobQueue<EventBatch> | undefined,
  opts: RecoveryOptions,
): Promise<{ engine: Engine; report: RecoveryReport }> {
  const t0 = performance.now();
  const now = opts.clock.now();
  // The queue first, then the store: a worker running apart may write a job and take it off the queue
  // meanwhile, and a job gone from the queue was stored before it went. The other order can miss it.
  const queued = queue ? await queue.pending() : [];
  const stored = await store.loadState(now - opts.retentionMs);
  return rebuild(
    stored,
    queued.flatMap((j) => j.data.records),
    opts,
    now,
    t0,
  );
}

/**
 * Where an engine process rebuilding one partition finds its share of the
 * rows no owner has stamped (written by a single-process server): the
 * partition map's answer for a place, and the partition of a rider with no
 * position yet.
 */
export interface PartitionScope {
  readonly partition: string;
  /** The partition of a place (null: in none). */
  readonly partitionOfPoint: (lat: number, lng: number) => string | null;
  /** The partition of a rider that has sent no position. */
  readonly riderFallback: string;
}

/**
 * {@link recoverEngine} for one partition (docs/scale.md, "Rebuilding one
 * partition"): the actors whose latest state its owners wrote, those of the
 * unstamped rows the partition map gives it (a restaurant by its location, an
 * order by its restaurant, a rider by its last position), and of what is still
 * queued, its own tenures' jobs and the unfenced jobs' actors it owns. Call it
 * after `takeOverQueued`: earlier tenures' jobs are then in the store, and
 * overlaying them again changes nothing. The engine's seed comes from the
 * partition's name, so two partitions never generate the same id.
 */
export async function recoverPartition(
  store: EventStore,
  queue: JobQueue<EventBatch> | undefined,
  scope: PartitionScope,
  opts: RecoveryOptions,
): Promise<{ engine: Engine; report: RecoveryReport }> {
  const t0 = performance.now();
  const now = opts.clock.now();
  const queued = queue ? await queue.pending() : [];
  const stored = await store.loadPartition(scope.partition, now - opts.retentionMs);
  const { mine, records } = partitionShare(stored, queued, scope);
  return rebuild(mine, records, { ...opts, seed: opts.seed ?? seedOf(scope.partition) }, now, t0);
}

/** The rows and queued records of one partition, as {@link recoverPartition} takes them. */
function partitionShare(
  stored: PartitionState,
  queued: readonly QueuedJob<EventBatch>[],
  scope: PartitionScope,
): { mine: StoredState; records: EventRecord[] } {
  const { unassigned } = stored;
  const restaurants = new Set(stored.restaurants.map((r) => r.id as string));
  const mineAt = (l: { lat: number; lng: number }) => scope.partitionOfPoint(l.lat, l.lng) === scope.partition;
  for (const r of unassigned.restaurants) if (mineAt(r.location)) restaurants.add(r.id);
  for (const j of queued)
    if (j.data.fence === undefined)
      for (const { event, state } of j.data.records)
        if (event.aggregate === 'restaurant' && state && mineAt((state as RestaurantSnapshotRow).location))
          restaurants.add(event.id);
  const owns = (aggregate: string, row: ActorRow): boolean => {
    if (aggregate === 'restaurant') return restaurants.has(row.id);
    if (aggregate === 'order') return restaurants.has((row as OrderSnapshotRow).restaurantId);
    const at = (row as RiderSnapshotRow).position;
    return (at ? scope.partitionOfPoint(at[0], at[1]) : scope.riderFallback) === scope.partition;
  };
  const mine: StoredState = {
    restaurants: stored.restaurants.concat(unassigned.restaurants.filter((r) => owns('restaurant', r))),
    riders: stored.riders.concat(unassigned.riders.filter((r) => owns('rider', r))),
    orders: stored.orders.concat(unassigned.orders.filter((r) => owns('order', r))),
    idCounter: stored.idCounter,
  };
  const records: EventRecord[] = [];
  for (const j of queued) {
    if (j.data.fence !== undefined) {
      if (j.data.fence.partition === scope.partition) records.push(...j.data.records);
    } else {
      for (const r of j.data.records) if (r.state && owns(r.event.aggregate, r.state)) records.push(r);
    }
  }
  return { mine, records };
}

/** What a gateway's mirror starts from: every partition, and the partition each rider is in. */
export interface MirrorLoad {
  readonly engine: Engine;
  readonly report: RecoveryReport;
  /** Each rider's partition (the one whose owners wrote it last, else the map's rule), and its row's seq. */
  readonly riders: Map<string, { partition: string; seq: number }>;
}

/**
 * A cluster gateway's read mirror of every partition (docs/scale.md, "Gateways"): each
 * partition's rows as its next owner would rebuild them ({@link recoverPartition}), all in one
 * engine built with `mirror: true`, which answers reads and runs nothing.
 */
export async function loadMirror(
  store: EventStore,
  queue: JobQueue<EventBatch> | undefined,
  scope: MirrorScope,
  opts: RecoveryOptions,
): Promise<MirrorLoad> {
  const t0 = performance.now();
  const { stored, records, riders } = await mirrorRows(store, queue, scope, opts);
  const { engine, report } = rebuild(stored, records, { ...opts, mirror: true }, opts.clock.now(), t0);
  return { engine, report, riders };
}

/** Where a mirror's partitions are, and how the unstamped rows among them are assigned. */
export type MirrorScope = Omit<PartitionScope, 'partition'> & { readonly partitions: readonly string[] };

/**
 * The rows {@link loadMirror} starts from, each partition's as its next owner would rebuild it,
 * and the partition of each rider: what a gateway also reads again to repair its mirror.
 */
export async function mirrorRows(
  store: EventStore,
  queue: JobQueue<EventBatch> | undefined,
  scope: MirrorScope,
  opts: Pick<RecoveryOptions, 'clock' | 'retentionMs'>,
): Promise<{ stored: StoredState; records: EventRecord[]; riders: Map<string, { partition: string; seq: number }> }> {
  const now = opts.clock.now();
  const queued = queue ? await queue.pending() : [];
  const all = {
    restaurants: [] as RestaurantSnapshotRow[],
    riders: [] as RiderSnapshotRow[],
    orders: [] as OrderSnapshotRow[],
  };
  const records: EventRecord[] = [];
  const riders = new Map<string, { partition: string; seq: number }>();
  const place = (id: string, partition: string, seq: number) => {
    const held = riders.get(id);
    if (held === undefined || seq >= held.seq) riders.set(id, { partition, seq });
  };
  let idCounter = 0;
  for (const partition of scope.partitions) {
    const stored = await store.loadPartition(partition, now - opts.retentionMs);
    const share = partitionShare(stored, queued, { ...scope, partition });
    all.restaurants.push(...share.mine.restaurants);
    all.riders.push(...share.mine.riders);
    all.orders.push(...share.mine.orders);
    records.push(...share.records);
    for (const r of share.mine.riders) place(r.id, partition, r.seq);
    for (const r of share.records)
      if (r.event.aggregate === 'rider' && r.state) place(r.event.id, partition, r.state.seq);
    idCounter = Math.max(idCounter, stored.idCounter);
  }
  return { stored: { ...all, idCounter }, records, riders };
}

/** A 31-bit seed from a partition's name (FNV-1a): distinct partitions, distinct generated ids. */
function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 1 || 1;
}

/** The latest state of each actor, from the store and from queued records newer than it, restored. */
function rebuild(
  stored: StoredState,
  queued: readonly EventRecord[],
  opts: RecoveryOptions,
  now: number,
  t0: number,
): { engine: Engine; report: RecoveryReport } {
  const rows = new Map<string, { aggregate: string; row: ActorRow }>();
  const put = (aggregate: string, row: ActorRow) => {
    const key = `${aggregate}/${row.id}`;
    const had = rows.get(key);
    if (!had || had.row.seq < row.seq) {
      rows.set(key, { aggregate, row });
      return true;
    }
    return false;
  };
  for (const r of stored.restaurants) put('restaurant', r);
  for (const r of stored.riders) put('rider', r);
  for (const r of stored.orders) put('order', r);
  let idCounter = stored.idCounter;
  let fromQueue = 0;
  for (const { event, state, idCounter: counter } of queued) {
    if (counter > idCounter) idCounter = counter;
    if (state && put(event.aggregate, state)) fromQueue++;
  }
  const restaurants: RestaurantSnapshotRow[] = [];
  const riders: RiderSnapshotRow[] = [];
  const orders: OrderSnapshotRow[] = [];
  for (const { aggregate, row } of rows.values()) {
    if (aggregate === 'restaurant') restaurants.push(row as RestaurantSnapshotRow);
    else if (aggregate === 'rider') riders.push(row as RiderSnapshotRow);
    else orders.push(row as OrderSnapshotRow);
  }
  const open = new Map<string, number>();
  for (const o of orders) {
    const s = stateKey(o.value as never) as OrderState;
    if (holdsKitchen(s)) open.set(o.restaurantId, (open.get(o.restaurantId) ?? 0) + 1);
  }
  const snapshot: EngineSnapshot = {
    format: SNAPSHOT_FORMAT,
    at: now,
    seed: opts.seed ?? 1,
    idCounter,
    restaurants: restaurants.map((r) => ({ ...r, openOrders: open.get(r.id) ?? 0 })),
    riders,
    orders,
  };
  const engine = Engine.restore(snapshot, opts);
  return {
    engine,
    report: {
      restaurants: restaurants.length,
      riders: riders.length,
      orders: orders.length,
      fromQueue,
      ms: Math.round(performance.now() - t0),
    },
  };
}

export interface TakeOver {
  /** Earlier tenures' queued jobs of the partition. */
  readonly jobs: number;
  /** Their records, appended under the new token (what was stored already is skipped by the store). */
  readonly records: readonly EventRecord[];
  readonly inserted: number;
}

/**
 * A new owner's first write to a partition (docs/scale.md, "Taking a partition over"): the records
 * that earlier tenures queued for it and the writer has not stored yet, appended under the new
 * owner's fence, the fence raise and the batch in one transaction. After it the store refuses
 * every earlier token, so the old jobs are dropped when the writer reaches them, but what they
 * carried is stored already: an event the old owner acknowledged is not lost to the fence.
 *
 * Call it once the lease is held and before the partition is rebuilt and served. The queue is read
 * before the claim: a job the writer stores and completes meanwhile lands under the old token,
 * which is still allowed then; read after it, such a job would be dropped unseen. The old owner
 * enqueued what it acknowledged while it held the lease, so all of that is in the queue when the
 * lease is taken. What a paused owner enqueues after losing it is not, and is refused (FENCED).
 */
export async function takeOverQueued(
  queue: JobQueue<EventBatch>,
  store: EventStore,
  claim: BatchFence,
): Promise<Result<TakeOver>> {
  const earlier = (await queue.pending()).filter(
    (j) => j.data.fence?.partition === claim.partition && j.data.fence.token < claim.token,
  );
  // Tenures in token order; the store keeps each actor's newest state by seq whatever the order.
  earlier.sort((a, b) => a.data.fence!.token - b.data.fence!.token);
  const records = earlier.flatMap((j) => j.data.records);
  const appended = await store.appendFenced(claim, records);
  if (!appended.ok) return appended;
  return ok({ jobs: earlier.length, records, inserted: appended.value.inserted });
}
