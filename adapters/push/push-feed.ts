/**
 * Feeds the push queue from the durable event stream: once the persistence
 * worker has stored a batch of engine events, the ones that can lead to a
 * notice go to the push queue together, as one job per {@link MAX_EVENTS_PER_PUSH_JOB}
 * (deterministic ids, so a batch stored twice queues nothing new while its jobs
 * wait). One job per batch rather than per event: each BullMQ job costs a few
 * Lua calls on Redis and a socket write on each side, and at 300 orders/s the
 * per-event jobs were most of the server's Redis traffic. Never called from a
 * request.
 */
import { NOTICE_EVENTS, type Notice, type OrderFacts, type RiderFacts } from '../../engine/index.js';
import type { EventRecord, OrderSnapshotRow, RiderSnapshotRow } from '../../engine/index.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import type { HeldJobs } from '../queue/local-batches.js';
import type { EngineEvent } from '../../protocol/index.js';
import { orderFactsOf } from './push-store.js';

/**
 * One push job: the engine events of a stored batch to decide on, or a notice already decided (a
 * chat message). A lone event is what versions before the batched feed queued; the worker still
 * takes it, so jobs left in Redis by an upgrade are not lost.
 */
export type PushJob = { readonly events: readonly EventPushJob[] } | EventPushJob | { readonly notice: Notice };

/** Events per push job at most (a stored batch with more goes as several jobs in one add). */
export const MAX_EVENTS_PER_PUSH_JOB = 200;

/** An engine event and what its stored state says about the order and the rider. */
export interface EventPushJob {
  readonly event: EngineEvent;
  /** From the order's own record; null for rider events (the worker reads the order's stored state). */
  readonly order: OrderFacts | null;
  readonly rider: RiderFacts | null;
  /** The order the event is about. */
  readonly orderId: string;
}

/** `online.offered` from XState's `{ online: 'offered' }`. */
export const stateName = (value: unknown): string =>
  typeof value === 'string'
    ? value
    : value !== null && typeof value === 'object'
      ? Object.entries(value)
          .map(([k, v]) => `${k}.${stateName(v)}`)
          .join(',')
      : String(value);

/** The events of stored records that may lead to a notice, in order, each with its key (`aggregate.id.seq`). */
export function pushEventsOf(records: readonly EventRecord[]): { key: string; job: EventPushJob }[] {
  const out: { key: string; job: EventPushJob }[] = [];
  for (const { event: e, state } of records) {
    if (!NOTICE_EVENTS.has(e.type)) continue;
    let job: EventPushJob | undefined;
    if (e.aggregate === 'order') {
      job = { event: e, order: state ? orderFactsOf(state as OrderSnapshotRow) : null, rider: null, orderId: e.id };
    } else if (e.aggregate === 'rider' && state) {
      const r = state as RiderSnapshotRow;
      const orderId = 'orderId' in e ? e.orderId : r.context.orderId;
      const rider: RiderFacts = {
        connected: r.context.graceUntil === 0,
        state: stateName(r.value),
        offerId: r.context.offerId,
      };
      // A rider event matters only for an offer to a rider whose socket is down, or arrival at the drop.
      const relevant = e.type === 'rider_arrived_drop' || (!rider.connected && rider.state === 'online.offered');
      if (orderId && relevant) job = { event: e, order: null, rider, orderId };
    }
    if (job) out.push({ key: `${e.aggregate}.${e.id}.${e.seq}`, job });
  }
  return out;
}

/**
 * The push jobs of stored records: their events, in order, cut into jobs of at most `max`, each
 * named by its first and last event (`pb.<first>.<last>`), so the same records stored twice make
 * the same ids. A redelivered write-behind job may be stored with other neighbours and cut
 * otherwise; its events then come again under another id, which the push worker allows (a notice
 * is stored by its id, and each device claimed once before a send).
 */
export function pushJobsOf(
  records: readonly EventRecord[],
  max = MAX_EVENTS_PER_PUSH_JOB,
): { id: string; data: PushJob }[] {
  const all = pushEventsOf(records);
  const out: { id: string; data: PushJob }[] = [];
  for (let i = 0; i < all.length; i += max) {
    const chunk = all.slice(i, i + max);
    out.push({ id: `pb.${chunk[0]!.key}.${chunk.at(-1)!.key}`, data: { events: chunk.map((c) => c.job) } });
  }
  return out;
}

/**
 * What the persistence worker calls after storing a batch: queues its push jobs. With `local` (the
 * push worker runs in this process), they are queued held and handed to it from memory, as the
 * write-behind hands its own jobs to the process's writer (docs/durability.md, "The process stores
 * its own jobs"); the held jobs stay the durable copy.
 */
export const pushFeed =
  (queue: JobQueue<PushJob>, local?: HeldJobs<PushJob>) =>
  async (records: readonly EventRecord[]): Promise<void> => {
    const jobs = pushJobsOf(records);
    if (jobs.length === 0) return;
    await queue.enqueue(jobs, local ? { holdMs: local.holdMs } : undefined);
    local?.take(jobs);
  };
