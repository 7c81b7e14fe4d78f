import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type {
  BatchHandler,
  ConsumeOptions,
  EnqueueOptions,
  JobConsumer,
  JobQueue,
  QueuedJob,
} from '../../engine/ports/job-queue.js';
import { DependencyUnavailableError } from '../dependency-error.js';
import type { RedisEndpoint } from './redis-url.js';

export interface BullmqQueueOptions {
  readonly redis: RedisEndpoint;
  /** Queue name; also what tests make unique. */
  readonly name: string;
  /** Key prefix in Redis (BullMQ's `prefix`). */
  readonly prefix?: string;
  /** `enqueue` gives up after this long even if Redis half-answers, ms. */
  readonly addTimeoutMs?: number;
  /** Deliveries of a job before it is left failed (still listed by `pending`). */
  readonly attempts?: number;
  /** First retry delay, doubling per attempt, ms. */
  readonly backoffMs?: number;
  /** Worker lock settings (tests of stalled jobs shorten them). */
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
}

const STATES = ['wait', 'active', 'delayed', 'prioritized', 'failed', 'waiting-children'] as const;

/**
 * The {@link JobQueue} on BullMQ. The producer connection has
 * `enableOfflineQueue: false`, so `enqueue` rejects at once while Redis is
 * down instead of buffering in memory (a command must not be acknowledged on
 * a promise Redis never saw); a timer bounds it anyway. Workers use
 * `maxRetriesPerRequest: null` as BullMQ requires. Batches: BullMQ hands jobs
 * over one by one, so a worker with concurrency `inFlight` times the batch
 * size gathers them into batches (some written while the next fills); each
 * job completes when its batch's handler resolves.
 */
export class BullmqQueue<T> implements JobQueue<T> {
  readonly #opts: BullmqQueueOptions;
  readonly #queue: Queue;
  readonly #producer: Redis;
  readonly #consumers = new Set<JobConsumer>();
  #settlerConn: Redis | undefined;
  #settlerQueue: Queue | undefined;

  constructor(opts: BullmqQueueOptions) {
    this.#opts = opts;
    // BullMQ 6 takes ioredis as an optional peer and, under ESM, wants client instances.
    this.#producer = new Redis({
      ...opts.redis,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
    });
    this.#producer.on('error', () => {});
    this.#queue = new Queue(opts.name, {
      connection: this.#producer,
      ...(opts.prefix ? { prefix: opts.prefix } : {}),
      defaultJobOptions: {
        attempts: opts.attempts ?? 10,
        backoff: { type: 'exponential', delay: opts.backoffMs ?? 500 },
        // Completed jobs go at once: Postgres is the record, and the write is idempotent if an id comes back.
        removeOnComplete: true,
        removeOnFail: false,
      },
    });
    // Connection errors surface as rejected calls; without a listener they would crash the process.
    this.#queue.on('error', () => {});
  }

  async enqueue(jobs: readonly { readonly id: string; readonly data: T }[], opts: EnqueueOptions = {}): Promise<void> {
    if (jobs.length === 0) return;
    for (const j of jobs)
      if (j.id.includes(':')) throw new TypeError(`job id ${j.id} contains ':', which BullMQ reserves`);
    const limit = this.#opts.addTimeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new DependencyUnavailableError(`job queue: Redis did not take ${jobs.length} jobs within ${limit} ms`),
          ),
        limit,
      );
    });
    try {
      // One job (most group commits) goes by `add`: one script call. `addBulk` sends a MULTI through an
      // ioredis pipeline, whose constructor copies every script BullMQ defines (about 6% of the bench
      // server's main thread at 300 orders/s went there); the job and its id are the same either way.
      // A held job is a delayed one: in Redis at once, promoted to a worker when the hold ends.
      const delay = opts.holdMs ? { delay: opts.holdMs } : {};
      const added =
        jobs.length === 1
          ? this.#queue.add('e', jobs[0]!.data, { jobId: jobs[0]!.id, ...delay })
          : this.#queue.addBulk(jobs.map((j) => ({ name: 'e', data: j.data, opts: { jobId: j.id, ...delay } })));
      await Promise.race([added, timeout]);
    } catch (err) {
      if (err instanceof DependencyUnavailableError) throw err;
      throw new DependencyUnavailableError(`job queue: Redis refused ${jobs.length} jobs: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  consume(handler: BatchHandler<T>, opts: ConsumeOptions = {}): JobConsumer {
    const batchSize = opts.batchSize ?? 500;
    const lingerMs = opts.lingerMs ?? 5;
    const inFlight = Math.max(1, opts.inFlight ?? 2);
    let buffer: { job: Job; resolve: () => void; reject: (e: unknown) => void }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      clearTimeout(timer);
      timer = undefined;
      const batch = buffer;
      buffer = [];
      if (batch.length === 0) return;
      handler(batch.map(({ job }) => ({ id: job.id!, data: job.data as T, attempt: job.attemptsMade + 1 }))).then(
        () => {
          for (const b of batch) b.resolve();
        },
        (err: unknown) => {
          for (const b of batch) b.reject(err);
        },
      );
    };
    const conn = new Redis({ ...this.#opts.redis, maxRetriesPerRequest: null });
    conn.on('error', () => {});
    const worker = new Worker(
      this.#opts.name,
      (job) =>
        new Promise<void>((resolve, reject) => {
          buffer.push({ job, resolve, reject });
          if (buffer.length >= batchSize) flush();
          else timer ??= setTimeout(flush, lingerMs);
        }),
      {
        connection: conn,
        ...(this.#opts.prefix ? { prefix: this.#opts.prefix } : {}),
        // Room for `inFlight` batches: while some are written, the next fills.
        concurrency: batchSize * inFlight,
        // A job whose worker died or stalled (lock not renewed under load) goes back to wait; BullMQ's default
        // fails it for good on the second stall, and a failed job is never written. Handlers are idempotent,
        // so a stalled job may come back as often as it may be retried.
        maxStalledCount: this.#opts.attempts ?? 10,
        ...(this.#opts.lockDurationMs ? { lockDuration: this.#opts.lockDurationMs } : {}),
        ...(this.#opts.stalledIntervalMs ? { stalledInterval: this.#opts.stalledIntervalMs } : {}),
      },
    );
    worker.on('error', () => {});
    const consumer: JobConsumer = {
      close: async () => {
        await worker.close();
        conn.disconnect();
        this.#consumers.delete(consumer);
      },
    };
    this.#consumers.add(consumer);
    return consumer;
  }

  /**
   * Removes held jobs their producer stored itself, each by BullMQ's own removal script (a job a
   * worker has locked stays with it). They go on a connection of their own with ioredis's automatic
   * pipelining, so the removals of one batch share their socket writes; the producer's connection keeps
   * one command per write, since an automatic pipeline is built per tick at a cost (see `enqueue`).
   */
  async settle(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const settler = this.#settler();
    await Promise.all(ids.map((id) => settler.remove(id, { removeChildren: false })));
  }

  #settler(): Queue {
    if (this.#settlerQueue === undefined) {
      this.#settlerConn = new Redis({
        ...this.#opts.redis,
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        maxRetriesPerRequest: 1,
        connectTimeout: 2_000,
      });
      this.#settlerConn.on('error', () => {});
      this.#settlerQueue = new Queue(this.#opts.name, {
        connection: this.#settlerConn,
        ...(this.#opts.prefix ? { prefix: this.#opts.prefix } : {}),
      });
      this.#settlerQueue.on('error', () => {});
    }
    return this.#settlerQueue;
  }

  async depth(): Promise<number> {
    return this.#queue.getJobCountByTypes(...STATES);
  }

  async pending(): Promise<QueuedJob<T>[]> {
    const jobs = await this.#queue.getJobs([...STATES], 0, -1);
    return jobs.filter((j): j is Job => !!j).map((j) => ({ id: j.id!, data: j.data as T, attempt: j.attemptsMade }));
  }

  /** The underlying BullMQ queue, for boot checks and metrics. */
  get bullmq(): Queue {
    return this.#queue;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#consumers].map((c) => c.close()));
    await this.#queue.close();
    await this.#settlerQueue?.close();
    this.#producer.disconnect();
    this.#settlerConn?.disconnect();
  }
}
