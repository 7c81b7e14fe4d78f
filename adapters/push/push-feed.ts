/**
 * Feeds the push queue from the durable event stream: once the persistence
 * worker has stored a batch of engine events, the ones that can lead to a
 * notice become push jobs (deterministic ids, so a batch stored twice queues
 * nothing new while its jobs wait). Never called from a request.
 */
import { NOTICE_EVENTS, type Notice, type OrderFacts, type RiderFacts } from '../../engine/index.js';
import type { EventRecord, OrderSnapshotRow, RiderSnapshotRow } from '../../engine/index.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import type { EngineEvent } from '../../protocol/index.js';
import { orderFactsOf } from './push-store.js';

/** One push job: an engine event to decide on, or a notice already decided (a chat message). */
export type PushJob = EventPushJob | { readonly notice: Notice };

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

/** The push jobs of stored records, in order. */
export function pushJobsOf(records: readonly EventRecord[]): { id: string; data: PushJob }[] {
  const out: { id: string; data: PushJob }[] = [];
  for (const { event: e, state } of records) {
    if (!NOTICE_EVENTS.has(e.type)) continue;
    let job: PushJob | undefined;
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
    if (job) out.push({ id: `p.${e.aggregate}.${e.id}.${e.seq}`, data: job });
  }
  return out;
}

/** What the persistence worker calls after storing a batch: queues its push jobs. */
export const pushFeed =
  (queue: JobQueue<PushJob>) =>
  async (records: readonly EventRecord[]): Promise<void> => {
    const jobs = pushJobsOf(records);
    if (jobs.length > 0) await queue.enqueue(jobs);
  };
