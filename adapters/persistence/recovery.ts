import { Engine, type EngineOptions } from '../../engine/engine.js';
import { holdsKitchen, type OrderState } from '../../engine/machines/order-machine.js';
import { stateKey } from '../../engine/machines/step.js';
import type { ActorRow, BatchFence, EventBatch, EventRecord, EventStore } from '../../engine/ports/event-store.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
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
  for (const job of queued) {
    for (const { event, state, idCounter: counter } of job.data.records) {
      if (counter > idCounter) idCounter = counter;
      if (state && put(event.aggregate, state)) fromQueue++;
    }
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
