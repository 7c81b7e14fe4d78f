/** A job as a consumer sees it. */
export interface QueuedJob<T> {
  /** Deterministic, chosen by the producer; no `:` (BullMQ reserves it). */
  readonly id: string;
  readonly data: T;
  /** 1 on the first delivery, 2 on the first retry... */
  readonly attempt: number;
}

/** Handles one batch; resolving completes every job in it, throwing retries them all later. */
export type BatchHandler<T> = (batch: readonly QueuedJob<T>[]) => Promise<void>;

export interface ConsumeOptions {
  /** Most jobs handed over at once. */
  readonly batchSize?: number;
  /** How long a partial batch waits for more jobs, ms. */
  readonly lingerMs?: number;
  /**
   * Most batches handed over at once (one written while others fill). An
   * implementation may do fewer; handlers must allow overlapping batches.
   */
  readonly inFlight?: number;
}

export interface EnqueueOptions {
  /**
   * Consumers are handed these jobs only after this long, ms: the producer means to handle them
   * itself and `settle` them (the write-behind storing its own records, docs/durability.md).
   */
  readonly holdMs?: number;
}

/** A running consumer. */
export interface JobConsumer {
  /** Stops taking jobs and waits for the batch in hand. */
  close(): Promise<void>;
}

/**
 * The job queue port: at-least-once delivery in batches, with ids chosen by the
 * producer.
 *
 * Contract (test/contracts/job-queue.contract.ts):
 * - `enqueue` resolves only once the jobs are as durable as the
 *   implementation can make them (BullMQ: in Redis); it rejects at once, with
 *   code `DEPENDENCY_UNAVAILABLE`, when that cannot be done. Never hangs.
 * - A job whose id is still pending is not added twice.
 * - Every enqueued job is handed to a consumer until a handler resolves for
 *   it; a handler that throws sees the batch again (attempt + 1). Handlers
 *   must therefore be idempotent.
 * - `pending` lists every job not yet completed, for recovery.
 * - A job enqueued with `holdMs` is pending at once but handed to consumers
 *   only after the hold; `settle` removes a job that is not in a consumer's
 *   hands, so a producer that handled its own jobs in time leaves nothing for
 *   consumers, and one that did not (it crashed, its handler failed) leaves
 *   them to the consumers once the hold ends.
 */
export interface JobQueue<T> {
  enqueue(jobs: readonly { readonly id: string; readonly data: T }[], opts?: EnqueueOptions): Promise<void>;
  consume(handler: BatchHandler<T>, opts?: ConsumeOptions): JobConsumer;
  pending(): Promise<QueuedJob<T>[]>;
  /**
   * Removes jobs their producer handled itself (see `holdMs`). A job a consumer holds is left to it,
   * and an id not pending is skipped. Optional: a queue without it takes no `holdMs` either.
   */
  settle?(ids: readonly string[]): Promise<void>;
  /** Jobs not yet completed, counted without reading them (for metrics); optional. */
  depth?(): Promise<number>;
  close(): Promise<void>;
}
