import type { EventBatch, EventRecord, EventStore } from '../../engine/ports/event-store.js';
import type { JobConsumer, JobQueue, QueuedJob } from '../../engine/ports/job-queue.js';

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
}

/**
 * The persistence worker: takes jobs from the queue in batches, each job a
 * batch of records (see WriteBehind), and appends their records to the event
 * store, one transaction per `batchSize` records. Idempotent by
 * construction: the store skips events it has and keeps actor states only
 * forward, so a batch delivered twice (a worker killed mid-batch, a stalled
 * job) changes nothing. Runs inside the server or alone (`npm run worker`).
 */
export class EventWriter {
  readonly #queue: JobQueue<EventBatch>;
  readonly #store: EventStore;
  readonly #opts: EventWriterOptions;
  #consumer: JobConsumer | undefined;
  #written = 0;

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
    for (const slice of slices(batch, max)) {
      inserted += (await this.#store.append(slice)).inserted;
      await this.#opts.afterStore?.(slice);
    }
    this.#written += inserted;
    this.#opts.onBatch?.(batch, inserted);
  }

  /** Events this writer inserted (not counting ones already stored). */
  get written(): number {
    return this.#written;
  }

  /** Stops consuming after the batch in hand. */
  async stop(): Promise<void> {
    await this.#consumer?.close();
    this.#consumer = undefined;
  }
}

/** The records of `jobs`, in order, cut into arrays of at most `max`. */
function* slices(jobs: readonly QueuedJob<EventBatch>[], max: number): Generator<EventRecord[]> {
  let slice: EventRecord[] = [];
  for (const job of jobs) {
    for (const record of job.data.records) {
      slice.push(record);
      if (slice.length === max) {
        yield slice;
        slice = [];
      }
    }
  }
  if (slice.length > 0) yield slice;
}
