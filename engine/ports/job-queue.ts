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
 */
export interface JobQueue<T> {
  enqueue(jobs: readonly { readonly id: string; readonly data: T }[]): Promise<void>;
  consume(handler: BatchHandler<T>, opts?: ConsumeOptions): JobConsumer;
  pending(): Promise<QueuedJob<T>[]>;
  /** Jobs not yet completed, counted without reading them (for metrics); optional. */
  depth?(): Promise<number>;
  close(): Promise<void>;
}
