import type { BatchHandler, JobQueue, QueuedJob } from '../../engine/ports/job-queue.js';

/**
 * Where a producer hands the jobs it has just enqueued held (`holdMs`) to be handled in its own
 * process (see {@link LocalBatches}): the write-behind's records, the push feed's jobs.
 */
export interface HeldJobs<T> {
  readonly holdMs: number;
  take(jobs: readonly { readonly id: string; readonly data: T }[]): void;
}

export interface LocalBatchesOptions {
  /** Most jobs handled at once. */
  readonly batchSize: number;
  /** How long a partial batch waits for more jobs, ms. */
  readonly lingerMs: number;
  /** Most batches handled at once. */
  readonly inFlight: number;
  /**
   * Called when a batch fails (`err`; once, until one succeeds again) and when a batch succeeds
   * after that (`err` undefined). A failed batch's jobs stay in the queue for its consumers.
   */
  readonly onFailure?: (err: unknown, jobs: number) => void;
}

/**
 * Jobs a process both produces and consumes, handled from memory (docs/durability.md, "The process
 * stores its own jobs"): the producer enqueues them held (`holdMs`) and hands them to `take` once
 * they are in the queue; they are batched as the queue's consumer batches them (`batchSize`,
 * `lingerMs`, `inFlight`), handled by the same handler, and settled once it resolves, so no
 * consumer fetches them. A batch whose handler throws is left in the queue, where a consumer takes
 * it when the hold ends, with the queue's retries. Handlers are idempotent, as the queue's contract
 * asks, so a job handled here and by a consumer (its hold ended first) changes nothing.
 */
export class LocalBatches<T> {
  readonly #queue: JobQueue<T>;
  readonly #handler: BatchHandler<T>;
  readonly #o: LocalBatchesOptions;
  #buffer: QueuedJob<T>[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #running = new Set<Promise<void>>();
  #failing = false;
  #failed = 0;

  constructor(queue: JobQueue<T>, handler: BatchHandler<T>, o: LocalBatchesOptions) {
    if (queue.settle === undefined) throw new TypeError('local batches need a queue that can settle held jobs');
    this.#queue = queue;
    this.#handler = handler;
    this.#o = o;
  }

  /** The jobs just enqueued held, each on its first attempt. */
  take(jobs: readonly { readonly id: string; readonly data: T }[]): void {
    for (const j of jobs) this.#buffer.push({ id: j.id, data: j.data, attempt: 1 });
    this.#pump();
  }

  /** Jobs whose batch failed here and which were left to the queue's consumers. */
  get failed(): number {
    return this.#failed;
  }

  /** Handles what was handed over and waits for every batch. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buffer.length > 0) this.#run(this.#buffer.splice(0));
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  #pump(): void {
    const { batchSize, inFlight } = this.#o;
    while (this.#buffer.length >= batchSize && this.#running.size < inFlight)
      this.#run(this.#buffer.splice(0, batchSize));
    if (this.#buffer.length > 0 && this.#timer === undefined && this.#running.size < inFlight) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#buffer.length > 0) this.#run(this.#buffer.splice(0, batchSize));
      }, this.#o.lingerMs);
    }
  }

  #run(batch: QueuedJob<T>[]): void {
    const done = this.#handler(batch).then(
      () => {
        if (this.#failing) {
          this.#failing = false;
          this.#o.onFailure?.(undefined, batch.length);
        }
        // A failed settle leaves the jobs to a consumer after their hold: handled twice, which changes nothing.
        return this.#queue.settle!(batch.map((j) => j.id)).catch(() => undefined);
      },
      (err: unknown) => {
        this.#failed += batch.length;
        if (!this.#failing) {
          this.#failing = true;
          this.#o.onFailure?.(err, batch.length);
        }
      },
    );
    this.#running.add(done);
    void done.finally(() => {
      this.#running.delete(done);
      this.#pump();
    });
  }
}
