import type { ActorRow, BatchFence, EventBatch, EventRecord } from '../../engine/ports/event-store.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import type { HeldJobs } from '../queue/local-batches.js';
import type { AggregateKind, EngineEvent } from '../../protocol/index.js';

/** The part of the engine write-behind needs. */
export interface EventSource {
  /** Each command's events together, once it has finished. */
  subscribeBatches(listener: (batch: { readonly events: readonly EngineEvent[] }) => void): () => void;
  snapshotRow(aggregate: AggregateKind, id: string): ActorRow | undefined;
  readonly idCounter: number;
}

/** The deterministic job id of an event: `${aggregate}.${id}.${seq}` (no `:`, which BullMQ reserves). */
export const jobIdOf = (e: Pick<EngineEvent, 'aggregate' | 'id' | 'seq'>): string => `${e.aggregate}.${e.id}.${e.seq}`;

/** Records per job at most (a group commit larger than this goes as several jobs in one add). */
export const MAX_RECORDS_PER_JOB = 1_000;

/** A queued write-behind job: a batch of records, with its deterministic id. */
export type BatchJob = { readonly id: string; readonly data: EventBatch };

/**
 * Cuts records into jobs of at most `max` records, each named `b.` + its first event's job id,
 * and each carrying `fence` when given. A fenced job's name has the token too (`b.<token>.`):
 * an owner paused past its lease may emit an event with the same seq as its successor's, and
 * the queue, which skips an id it has, must not take the stale job for the new one.
 */
export function batchJobs(records: readonly EventRecord[], max = MAX_RECORDS_PER_JOB, fence?: BatchFence): BatchJob[] {
  const jobs: BatchJob[] = [];
  for (let i = 0; i < records.length; i += max) {
    const chunk = statesOnce(records.slice(i, i + max));
    const first = jobIdOf(chunk[0]!.event);
    jobs.push(
      fence
        ? { id: `b.${fence.token}.${first}`, data: { records: chunk, fence } }
        : { id: `b.${first}`, data: { records: chunk } },
    );
  }
  return jobs;
}

/**
 * One command's events for one actor share one state object (see `#gather`): in a job, each such
 * state goes once, on the last record that has it, and the records before it go without
 * (`state` absent; `withStates` gives it back). About a fifth less JSON (an order from placing to assignment) to write, send, store in
 * Redis and parse again, for the same records.
 */
function statesOnce(records: EventRecord[]): EventRecord[] {
  const later = new Map<string, EventRecord['state']>();
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (!r.state) continue;
    const key = `${r.event.aggregate}/${r.event.id}`;
    if (later.get(key) === r.state) records[i] = { event: r.event, idCounter: r.idCounter };
    else later.set(key, r.state);
  }
  return records;
}

/** Where a process stores its own records: the in-process {@link EventWriter}'s `take`. */
export type LocalStore = HeldJobs<EventBatch>;

/**
 * Turns every engine event into a record carrying the event and its actor's
 * state. The engine hands over each command's events together once the
 * command has finished, so the captured state is the actor's state after the
 * whole command, never halfway through it. One bulk add is in flight at a
 * time; the records of every command that finishes meanwhile go together in
 * the next one (group commit), as one job per {@link MAX_RECORDS_PER_JOB}
 * records ({@link batchJobs}): BullMQ runs a few Lua scripts per job, so jobs
 * per batch rather than per event is what lets Redis keep up.
 *
 * The edge acknowledges a command only after {@link barrier} resolves: every
 * event emitted so far is then in the queue (in Redis, for BullMQ). A failed
 * add rejects the barrier (`DEPENDENCY_UNAVAILABLE`: the edge answers 503)
 * and its jobs are kept and sent again first, exactly as they were cut, with
 * the next add, so a short Redis outage loses nothing while the process
 * lives. Exactly as cut: the failed add may in fact have reached Redis, and
 * BullMQ skips a job whose id it has, so a retried id must carry the same
 * records, never more.
 *
 * With a {@link LocalStore} (the server's in-process writer), each add's jobs
 * are held from the queue's consumers for `holdMs` and handed to the local
 * store once the add has succeeded, which writes them from memory and settles
 * them: the durable copy is in the queue as before, and a process that dies
 * before storing its own jobs leaves them to any worker when the hold ends.
 */
export class WriteBehind {
  readonly #source: EventSource;
  readonly #queue: JobQueue<EventBatch>;
  readonly #unsubscribe: () => void;
  #scheduled = false;
  /** Records not yet handed to an add, in emission order. */
  #pending: EventRecord[] = [];
  /** The jobs of failed adds, as they were cut; the next add sends them first. */
  #failed: BatchJob[] = [];
  /** The add in flight; at most one, so jobs reach the queue in emission order. */
  #current: Promise<void> | undefined;
  /** The add that will carry `#pending`, promised to barriers before it starts. */
  #next: Deferred | undefined;
  #enqueued = 0;
  #adds = 0;

  readonly #fence: BatchFence | undefined;
  readonly #local: LocalStore | undefined;

  /**
   * `fence`: the partition and lease token of the tenure whose engine `source` is (one
   * WriteBehind per tenure); every job carries it, so the writer stores it only under that fence.
   * `local`: where this process stores its own jobs (the queue must be able to `settle` them).
   */
  constructor(source: EventSource, queue: JobQueue<EventBatch>, fence?: BatchFence, local?: LocalStore) {
    if (local !== undefined && queue.settle === undefined)
      throw new TypeError('a local store needs a queue that can settle held jobs');
    this.#source = source;
    this.#queue = queue;
    this.#fence = fence;
    this.#local = local;
    this.#unsubscribe = source.subscribeBatches((batch) => this.#gather(batch.events));
  }

  /**
   * Resolves when every event this writer has been handed before the call is
   * in the queue; rejects when the add that carries them failed.
   */
  barrier(): Promise<void> {
    if (this.#waiting()) {
      const next = (this.#next ??= deferred());
      if (this.#current === undefined) this.#startAdd();
      return next.promise;
    }
    // Nothing waiting: what was emitted before is in the add in flight, or already in the queue.
    return this.#current ?? Promise.resolve();
  }

  /** Records (events) handed to the queue so far. */
  get enqueued(): number {
    return this.#enqueued;
  }

  /** Whether the last add failed and its jobs wait to be sent again (Redis refused or was down). */
  get refused(): boolean {
    return this.#failed.length > 0;
  }

  /** Adds made so far (each carries every record gathered while the one before it was in flight). */
  get adds(): number {
    return this.#adds;
  }

  /** Stops listening; resolves when what was gathered is enqueued (or rejects if it cannot be). */
  async close(): Promise<void> {
    this.#unsubscribe();
    await this.barrier();
  }

  /** Whether records or failed jobs wait for an add. */
  #waiting(): boolean {
    return this.#pending.length > 0 || this.#failed.length > 0;
  }

  /** Turns one command's events into records; an add starts at the end of the tick unless one is in flight. */
  #gather(events: readonly EngineEvent[]): void {
    const idCounter = this.#source.idCounter;
    // One state per actor per command, shared by that actor's events.
    const states = new Map<string, ActorRow | null>();
    for (const event of events) {
      const key = `${event.aggregate}/${event.id}`;
      let state = states.get(key);
      if (state === undefined) {
        state = this.#source.snapshotRow(event.aggregate, event.id) ?? null;
        states.set(key, state);
      }
      this.#pending.push({ event, state, idCounter });
    }
    // Commands run in one tick (a burst of frames, a deadline sweep) share one add.
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        if (this.#waiting() && this.#current === undefined) this.#startAdd();
      });
    }
  }

  /**
   * Group commit: one add carries every pending record. Commands that finish while
   * it is in flight wait for the next add, which takes all of theirs at once,
   * so under load the number of adds stays near one per Redis round trip
   * rather than one per command.
   */
  #startAdd(): void {
    const jobs = this.#failed.concat(batchJobs(this.#pending, MAX_RECORDS_PER_JOB, this.#fence));
    this.#failed = [];
    this.#pending = [];
    const round = this.#next ?? deferred();
    this.#next = undefined;
    this.#adds++;
    const current = round.promise;
    this.#current = current;
    const local = this.#local;
    this.#queue
      .enqueue(jobs, local ? { holdMs: local.holdMs } : undefined)
      .then(
        () => {
          for (const j of jobs) this.#enqueued += j.data.records.length;
          round.resolve();
          // What `take` does not store stays held in the queue, for a worker once the hold ends.
          local?.take(jobs);
        },
        (err: unknown) => {
          // Only adds made after this one's records can be pending, and none is in flight: these go first.
          this.#failed = jobs;
          round.reject(err);
        },
      )
      .finally(() => {
        if (this.#current === current) this.#current = undefined;
        // What gathered meanwhile goes now, as one add; after a failure only when a barrier waits (no retry storm).
        const carry =
          this.#next !== undefined ? this.#waiting() : this.#pending.length > 0 && this.#failed.length === 0;
        if (carry) this.#startAdd();
      });
  }
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // An add nobody awaited must not surface as an unhandled rejection; barriers see it.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
