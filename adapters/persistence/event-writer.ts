import type { EventRecord, EventStore } from '../../engine/ports/event-store.js';
import type { JobConsumer, JobQueue, QueuedJob } from '../../engine/ports/job-queue.js';

export interface EventWriterOptions {
  readonly batchSize?: number;
  readonly lingerMs?: number;
  /** Batches written at once (default 4: Postgres overlaps them; the store's lock order keeps them deadlock-free). */
  readonly inFlight?: number;
  /** Called after each batch is stored (metrics, benchmarks). */
  readonly onBatch?: (batch: readonly QueuedJob<EventRecord>[], inserted: number) => void;
}

/**
 * The persistence worker: takes event jobs from the queue in batches and
 * appends them to the event store, one transaction per batch. Idempotent by
 * construction: the store skips events it has and keeps actor states only
 * forward, so a batch delivered twice (a worker killed mid-batch, a stalled
 * job) changes nothing. Runs inside the server or alone (`npm run worker`).
 */
export class EventWriter {
  readonly #queue: JobQueue<EventRecord>;
  readonly #store: EventStore;
  readonly #opts: EventWriterOptions;
  #consumer: JobConsumer | undefined;
  #written = 0;

  constructor(queue: JobQueue<EventRecord>, store: EventStore, opts: EventWriterOptions = {}) {
    this.#queue = queue;
    this.#store = store;
    this.#opts = opts;
  }

  start(): this {
    this.#consumer ??= this.#queue.consume((batch) => this.handle(batch), {
      batchSize: this.#opts.batchSize ?? 1_000,
      lingerMs: this.#opts.lingerMs ?? 5,
      inFlight: this.#opts.inFlight ?? 4,
    });
    return this;
  }

  /** Stores one batch. Public so tests can deliver a batch twice. */
  async handle(batch: readonly QueuedJob<EventRecord>[]): Promise<void> {
    const { inserted } = await this.#store.append(batch.map((j) => j.data));
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
