import {
  withStates,
  type BatchFence,
  type EventBatch,
  type EventRecord,
  type EventStore,
} from '../../engine/ports/event-store.js';
import type { JobConsumer, JobQueue, QueuedJob } from '../../engine/ports/job-queue.js';
import { LocalBatches } from '../queue/local-batches.js';
import { holdMsOf, type PersistenceConfig } from './config.js';
import type { LocalStore } from './write-behind.js';

export interface EventWriterOptions {
  /** Most records stored in one transaction (default 1000). */
  readonly batchSize?: number;
  /** Most queued jobs (each a batch of records) taken at once (default 100). */
  readonly jobsPerBatch?: number;
  readonly lingerMs?: number;
  /** Batches written at once (default 4: Postgres overlaps them; the store's lock order keeps them deadlock-free). */
  readonly inFlight?: number;
  /** Called after each batch is stored (metrics, benchmarks). */
  readonly onBatch?: (batch: readonly QueuedJob<EventBatch>[], inserted: number) => void;
  /**
   * Awaited after each batch is stored and before its jobs complete: what follows the durable
   * stream (the push feed) gets every stored record at least once; a throw retries the batch,
   * whose store writes are idempotent.
   */
  readonly afterStore?: (records: readonly EventRecord[]) => Promise<void>;
  /**
   * Called for records refused by their partition's fence (a newer owner claimed it): they are
   * dropped, not retried, because the tenure that emitted them had ended (docs/scale.md).
   */
  readonly onFenced?: (fence: BatchFence, records: number, detail: string) => void;
  /**
   * Called when a batch handed over by {@link EventWriter.take} could not be stored (`err`) and when
   * storing works again after that (`err` undefined): the failed batch's jobs are left in the queue,
   * where a consumer takes them once their hold ends.
   */
  readonly onLocalStore?: (err: unknown, jobs: number) => void;
}

/**
 * The persistence worker: takes jobs from the queue in batches, each job a
 * batch of records (see WriteBehind), and appends their records to the event
 * store, one transaction per `batchSize` records. Idempotent by
 * construction: the store skips events it has and keeps actor states only
 * forward, so a batch delivered twice (a worker killed mid-batch, a stalled
 * job) changes nothing. Runs inside the server or alone (`npm run worker`).
 *
 * A batch written by a partition's owner carries its fence (partition and
 * token) and is appended inside it; records below the partition's stored
 * token are dropped and counted (`fenced`), so an owner paused past its lease
 * writes nothing once a newer owner has claimed the partition.
 */
export class EventWriter {
  readonly #queue: JobQueue<EventBatch>;
  readonly #store: EventStore;
  readonly #opts: EventWriterOptions;
  #consumer: JobConsumer | undefined;
  #written = 0;
  #fenced = 0;
  /** The jobs `take` is handed: this process's own, stored from memory. */
  #local: LocalBatches<EventBatch> | undefined;

  constructor(queue: JobQueue<EventBatch>, store: EventStore, opts: EventWriterOptions = {}) {
    this.#queue = queue;
    this.#store = store;
    this.#opts = opts;
  }

  start(): this {
    this.#consumer ??= this.#queue.consume((batch) => this.handle(batch), {
      batchSize: this.#opts.jobsPerBatch ?? 100,
      lingerMs: this.#opts.lingerMs ?? 5,
      inFlight: this.#opts.inFlight ?? 4,
    });
    return this;
  }

  /** Stores one batch. Public so tests can deliver a batch twice. */
  async handle(batch: readonly QueuedJob<EventBatch>[]): Promise<void> {
    const max = this.#opts.batchSize ?? 1_000;
    let inserted = 0;
    for (const { fence, records } of slices(batch, max)) {
      if (fence === undefined) {
        inserted += (await this.#store.append(records)).inserted;
      } else {
        const r = await this.#store.appendFenced(fence, records);
        if (!r.ok) {
          this.#fenced += records.length;
          this.#opts.onFenced?.(fence, records.length, r.detail);
          continue;
        }
        inserted += r.value.inserted;
      }
      await this.#opts.afterStore?.(records);
    }
    this.#written += inserted;
    this.#opts.onBatch?.(batch, inserted);
  }

  /**
   * Stores jobs this process has just enqueued with a hold (the write-behind's local path,
   * docs/durability.md), from the records in memory: no worker fetching them from the queue, no
   * JSON parsed back. Batched as the queue's consumer batches (`jobsPerBatch`, `lingerMs`,
   * `inFlight`); once a batch is stored its jobs are settled, so no consumer sees them. A batch whose
   * store fails is left in the queue, where a consumer takes it when the hold ends.
   */
  take(jobs: readonly { readonly id: string; readonly data: EventBatch }[]): void {
    this.#local ??= new LocalBatches(this.#queue, (batch) => this.handle(batch), {
      batchSize: this.#opts.jobsPerBatch ?? 100,
      lingerMs: this.#opts.lingerMs ?? 5,
      inFlight: this.#opts.inFlight ?? 4,
      ...(this.#opts.onLocalStore ? { onFailure: this.#opts.onLocalStore } : {}),
    });
    this.#local.take(jobs);
  }

  /** Jobs handed over by `take` whose store failed and which were left to the queue's consumers. */
  get localFailed(): number {
    return this.#local?.failed ?? 0;
  }

  /** Events this writer inserted (not counting ones already stored). */
  get written(): number {
    return this.#written;
  }

  /** Records dropped because their partition's fence refused them. */
  get fenced(): number {
    return this.#fenced;
  }

  /** Stops consuming after the batch in hand, and stores what `take` was handed. */
  async stop(): Promise<void> {
    await this.#local?.stop();
    await this.#consumer?.close();
    this.#consumer = undefined;
  }
}

/**
 * The records of `jobs`, in order, cut into arrays of at most `max`; a slice never mixes
 * fences (jobs of one partition tenure, or unfenced ones, go together).
 */
function* slices(
  jobs: readonly QueuedJob<EventBatch>[],
  max: number,
): Generator<{ fence: BatchFence | undefined; records: EventRecord[] }> {
  let records: EventRecord[] = [];
  let fence: BatchFence | undefined;
  for (const job of jobs) {
    const f = job.data.fence;
    if (records.length > 0 && !sameFence(f, fence)) {
      yield { fence, records };
      records = [];
    }
    fence = f;
    // States a job carries once per command and actor go back on every record first (write-behind.ts).
    for (const record of withStates(job.data.records)) {
      records.push(record);
      if (records.length === max) {
        yield { fence, records };
        records = [];
      }
    }
  }
  if (records.length > 0) yield { fence, records };
}

const sameFence = (a: BatchFence | undefined, b: BatchFence | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.partition === b.partition && a.token === b.token);

/** The write-behind's local path through `writer` (WriteBehind's `local`), held for {@link holdMsOf}. */
export function localStoreOf(writer: EventWriter, config: PersistenceConfig): LocalStore {
  return { holdMs: holdMsOf(config), take: (jobs) => writer.take(jobs) };
}

/** Logs the local path failing (once, until it works again) and recovering. */
export function localStoreLog(log: {
  info(o: Record<string, unknown>): void;
  warn(o: Record<string, unknown>): void;
}): (err: unknown, jobs: number) => void {
  return (err, jobs) =>
    err === undefined
      ? log.info({ msg: 'write-behind: storing from memory again' })
      : log.warn({
          msg: `write-behind: ${jobs} jobs could not be stored from memory; these, and any others that fail until storing works again (said then), are stored by a worker when their hold ends`,
          err: err instanceof Error ? err.message : JSON.stringify(err),
        });
}
