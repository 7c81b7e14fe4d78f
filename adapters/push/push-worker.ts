/**
 * The push worker: takes push jobs (see push-feed.ts) from the queue in
 * batches, decides who hears what (engine/notify-rules.ts), stores each
 * notice for `GET /notifications`, and sends one push per notice and device
 * token through the {@link PushSender}. Each (notice, token) is claimed in
 * Postgres before it is sent, so a push goes at most once across retries,
 * redeliveries and restarts; per-token results are handled as FCM defines
 * them: unregistered and invalid tokens deleted, quota, unavailable and
 * internal retried with backoff, configuration errors logged.
 */
import { noticesFor, remindersDue, type Notice, type OrderFacts } from '../../engine/index.js';
import type { JobConsumer, JobQueue, QueuedJob } from '../../engine/ports/job-queue.js';
import { FCM_MAX_PAYLOAD, fcmMessage, payloadBytes, type PushMessage, type PushSender } from './fcm-sender.js';
import type { EventPushJob, PushJob } from './push-feed.js';
import { pairKey, type PushStore, type SendState } from './push-store.js';
import { LocalBatches } from '../queue/local-batches.js';

export interface PushWorkerOptions {
  /** Sends of one (notice, token) at most, the first included (default 4). */
  readonly maxAttempts?: number;
  /** First retry delay, doubling per attempt and capped at 60 s, ms (default 1000). */
  readonly retryBaseMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly log?: (o: Record<string, unknown>) => void;
}

export interface PushStats {
  jobs: number;
  notices: number;
  sent: number;
  dropped: number;
  retried: number;
  failed: number;
}

type Pending = { readonly notice: Notice; readonly token: string; readonly message: PushMessage };

const MAX_DELAY_MS = 60_000;

/** How the worker batches jobs, from the queue or from memory. */
const BATCHES = { batchSize: 200, lingerMs: 10, inFlight: 2 } as const;

export class PushWorker {
  readonly #store: PushStore;
  readonly #sender: PushSender;
  readonly #o: PushWorkerOptions;
  #consumer: JobConsumer | undefined;
  #queue: JobQueue<PushJob> | undefined;
  #local: LocalBatches<PushJob> | undefined;
  readonly stats: PushStats = { jobs: 0, notices: 0, sent: 0, dropped: 0, retried: 0, failed: 0 };

  constructor(store: PushStore, sender: PushSender, o: PushWorkerOptions) {
    this.#store = store;
    this.#sender = sender;
    this.#o = o;
  }

  start(queue: JobQueue<PushJob>): this {
    this.#consumer ??= queue.consume((batch) => this.handle(batch), BATCHES);
    this.#queue = queue;
    return this;
  }

  /**
   * Handles push jobs this process has just queued held (`pushFeed`'s `local`), from memory, and
   * settles them; a batch that fails is left to the queue's consumers when the hold ends. Only once
   * `start`ed.
   */
  take(jobs: readonly { readonly id: string; readonly data: PushJob }[]): void {
    if (this.#queue === undefined) throw new Error('the push worker takes jobs only once started');
    this.#local ??= new LocalBatches(this.#queue, (batch) => this.handle(batch), {
      ...BATCHES,
      onFailure: (err, jobs) =>
        this.#o.log?.(
          err === undefined
            ? { msg: 'push: handling its own jobs from memory again' }
            : {
                msg: `push: ${jobs} jobs could not be handled from memory; these, and any others that fail until it works again, go to a worker when their hold ends`,
                err: err instanceof Error ? err.message : JSON.stringify(err),
              },
        ),
    });
    this.#local.take(jobs);
  }

  async stop(): Promise<void> {
    await this.#local?.stop();
    await this.#consumer?.close();
    this.#consumer = undefined;
  }

  /** Handles one batch of jobs. Public so tests can deliver a batch twice. */
  async handle(batch: readonly QueuedJob<PushJob>[]): Promise<void> {
    this.stats.jobs += batch.length;
    const notices: Notice[] = [];
    const events: EventPushJob[] = [];
    for (const { data } of batch) {
      if ('notice' in data) notices.push(data.notice);
      else if ('events' in data) events.push(...data.events);
      else events.push(data);
    }
    const missing = [...new Set(events.filter((j) => j.order === null).map((j) => j.orderId))];
    const facts = await this.#store.orderFacts(missing);
    for (const data of events) {
      const order: OrderFacts | null = data.order ?? facts.get(data.orderId) ?? null;
      notices.push(...noticesFor(data.event, order, data.rider));
    }
    await this.deliver(notices);
  }

  /** Reminds restaurants of paid orders they have not accepted (see remindersDue); run every few seconds. */
  async remind(): Promise<number> {
    const due = remindersDue(await this.#store.waitingOrders(), this.#o.now());
    await this.deliver(due);
    return due.length;
  }

  /** Stores `notices` and pushes each to every device of its party, at most once per device. */
  async deliver(all: readonly Notice[]): Promise<void> {
    // Two events of one batch can make one notice (an offer found by both rider_offered and rider_disconnected).
    const notices = [...new Map(all.map((n) => [n.id, n] as const)).values()];
    if (notices.length === 0) return;
    this.stats.notices += notices.length;
    await this.#store.storeNotices(notices);
    const tokens = await this.#store.tokensOf([...new Set(notices.map((n) => n.party))]);
    const byParty = new Map<string, string[]>();
    for (const t of tokens) byParty.set(t.party, [...(byParty.get(t.party) ?? []), t.token]);
    let pending: Pending[] = [];
    for (const notice of notices) {
      for (const token of byParty.get(notice.party) ?? []) {
        pending.push({ notice, token, message: messageOf(notice, token) });
      }
    }
    for (let attempt = 1; pending.length > 0; attempt++) {
      const claimed = await this.#store.claim(pending.map((p) => ({ id: p.notice.id, token: p.token })));
      pending = pending.filter((p) => claimed.has(pairKey(p.notice.id, p.token)));
      pending = await this.#sendOnce(pending, attempt);
      if (pending.length === 0) break;
      const delay = Math.min(MAX_DELAY_MS, (this.#o.retryBaseMs ?? 1_000) * 2 ** (attempt - 1));
      this.stats.retried += pending.length;
      await (this.#o.sleep ?? defaultSleep)(delay);
    }
  }

  /** Sends claimed pushes once; settles each; returns those FCM asked to retry (if attempts are left). */
  async #sendOnce(claimed: readonly Pending[], attempt: number): Promise<Pending[]> {
    const settled: { id: string; token: string; state: SendState; detail: string | null }[] = [];
    const sendable: Pending[] = [];
    for (const p of claimed) {
      // A notice too large for FCM is a bug in our texts, not the device's: never sent, never retried.
      if (payloadBytes(fcmMessage(p.message, this.#o.now())) > FCM_MAX_PAYLOAD) {
        settled.push({ id: p.notice.id, token: p.token, state: 'failed', detail: 'payload over 4096 bytes' });
      } else sendable.push(p);
    }
    const outcomes = sendable.length > 0 ? await this.#sender.send(sendable.map((p) => p.message)) : [];
    const retry: Pending[] = [];
    const drop: string[] = [];
    const last = attempt >= (this.#o.maxAttempts ?? 4);
    outcomes.forEach((o, i) => {
      const p = sendable[i]!;
      const row = (state: SendState, detail: string | null) => {
        settled.push({ id: p.notice.id, token: p.token, state, detail });
      };
      if (o.kind === 'sent') {
        this.stats.sent++;
        row('sent', o.messageId);
      } else if (o.kind === 'drop') {
        this.stats.dropped++;
        drop.push(p.token);
        row('dropped', o.code);
      } else if (o.kind === 'retry' && !last) {
        retry.push(p);
        row('retry', o.code);
      } else {
        this.stats.failed++;
        row('failed', o.code);
        if (o.kind === 'fail') {
          this.#o.log?.({ msg: 'push refused by FCM (configuration?)', code: o.code, notice: p.notice.id });
        }
      }
    });
    await this.#store.settle(settled);
    await this.#store.deleteTokens(drop);
    return retry;
  }
}

/** The push of one notice to one device. `notification_id` is the id the stream and the REST list carry. */
export function messageOf(n: Notice, token: string): PushMessage {
  return {
    token,
    title: n.title,
    body: n.body,
    priority: n.priority,
    ttlMs: n.ttlMs,
    collapseKey: n.collapseKey,
    data: { ...n.data, notification_id: n.id, kind: n.kind, order_id: n.orderId },
  };
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
