import type {
  BatchHandler,
  ConsumeOptions,
  EnqueueOptions,
  JobConsumer,
  JobQueue,
  QueuedJob,
} from '../../engine/ports/job-queue.js';

interface Entry<T> {
  readonly id: string;
  readonly data: T;
  attempt: number;
  active: boolean;
  notBefore: number;
}

export interface MemoryQueueOptions {
  /** Wait before a failed batch is handed over again, ms (doubling per attempt, capped at 30 s). */
  readonly retryDelayMs?: number;
}

/**
 * The in-process {@link JobQueue} of the embedded mode. Its durability is the
 * process's: `enqueue` resolves at once, and a crash loses what the consumer
 * has not written yet (the promise BullMQ gives with AOF off). Jobs are
 * handed over in FIFO order; a failed batch goes back to the front.
 */
export class MemoryQueue<T> implements JobQueue<T> {
  readonly #jobs = new Map<string, Entry<T>>();
  readonly #waiting: Entry<T>[] = [];
  readonly #wakers = new Set<() => void>();
  readonly #consumers = new Set<JobConsumer>();
  readonly #retryDelayMs: number;
  #closed = false;

  constructor(opts: MemoryQueueOptions = {}) {
    this.#retryDelayMs = opts.retryDelayMs ?? 200;
  }

  async enqueue(jobs: readonly { readonly id: string; readonly data: T }[], opts: EnqueueOptions = {}): Promise<void> {
    if (this.#closed) throw new Error('queue is closed');
    const notBefore = opts.holdMs ? Date.now() + opts.holdMs : 0;
    for (const j of jobs) {
      if (this.#jobs.has(j.id)) continue;
      const e: Entry<T> = { id: j.id, data: j.data, attempt: 0, active: false, notBefore };
      this.#jobs.set(j.id, e);
      this.#waiting.push(e);
    }
    this.#wake();
  }

  async settle(ids: readonly string[]): Promise<void> {
    const gone = new Set<Entry<T>>();
    for (const id of ids) {
      const e = this.#jobs.get(id);
      if (e === undefined || e.active) continue;
      this.#jobs.delete(id);
      gone.add(e);
    }
    if (gone.size === 0) return;
    let kept = 0;
    for (const e of this.#waiting) if (!gone.has(e)) this.#waiting[kept++] = e;
    this.#waiting.length = kept;
  }

  async depth(): Promise<number> {
    return this.#jobs.size;
  }

  async pending(): Promise<QueuedJob<T>[]> {
    return [...this.#jobs.values()].map((e) => ({ id: e.id, data: e.data, attempt: e.attempt }));
  }

  consume(handler: BatchHandler<T>, opts: ConsumeOptions = {}): JobConsumer {
    const batchSize = opts.batchSize ?? 500;
    const lingerMs = opts.lingerMs ?? 5;
    let stopped = false;
    let wake: (() => void) | undefined;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = ms === Infinity ? undefined : setTimeout(done, ms);
        function done() {
          if (timer) clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    const waker = () => wake?.();
    this.#wakers.add(waker);
    const loop = (async () => {
      while (!stopped) {
        const now = Date.now();
        const due = this.#waiting.filter((e) => e.notBefore <= now);
        if (due.length === 0) {
          const next = Math.min(...this.#waiting.map((e) => e.notBefore));
          await sleep(this.#waiting.length ? Math.max(1, next - now) : Infinity);
          continue;
        }
        if (due.length < batchSize && lingerMs > 0) await sleep(lingerMs);
        if (stopped) break;
        const batch: Entry<T>[] = [];
        for (let i = 0; i < this.#waiting.length && batch.length < batchSize;) {
          const e = this.#waiting[i]!;
          if (e.notBefore <= Date.now()) {
            this.#waiting.splice(i, 1);
            batch.push(e);
          } else i++;
        }
        if (batch.length === 0) continue;
        for (const e of batch) {
          e.active = true;
          e.attempt++;
        }
        try {
          await handler(batch.map((e) => ({ id: e.id, data: e.data, attempt: e.attempt })));
          for (const e of batch) this.#jobs.delete(e.id);
        } catch {
          const delay = Math.min(30_000, this.#retryDelayMs * 2 ** (batch[0]!.attempt - 1));
          for (const e of batch) {
            e.active = false;
            e.notBefore = Date.now() + delay;
          }
          this.#waiting.unshift(...batch);
        }
      }
    })();
    const consumer: JobConsumer = {
      close: async () => {
        stopped = true;
        wake?.();
        await loop;
        this.#wakers.delete(waker);
        this.#consumers.delete(consumer);
      },
    };
    this.#consumers.add(consumer);
    return consumer;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#consumers].map((c) => c.close()));
  }

  #wake(): void {
    for (const w of this.#wakers) w();
  }
}
