import type { ActorRow, EventRecord } from '../../engine/ports/event-store.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import type { AggregateKind, EngineEvent } from '../../protocol/index.js';

/** The part of the engine write-behind needs. */
export interface EventSource {
  subscribe(listener: (e: EngineEvent) => void): () => void;
  snapshotRow(aggregate: AggregateKind, id: string): ActorRow | undefined;
  readonly idCounter: number;
}

/** The deterministic job id of an event: `${aggregate}.${id}.${seq}` (no `:`, which BullMQ reserves). */
export const jobIdOf = (e: Pick<EngineEvent, 'aggregate' | 'id' | 'seq'>): string => `${e.aggregate}.${e.id}.${e.seq}`;

/**
 * Turns every engine event into a job, keyed by {@link jobIdOf}, carrying
 * the event and its actor's state. Events are gathered synchronously and
 * enqueued in one bulk add per microtask, that is once per command (or
 * deadline): by then the command has finished, so the captured state is the
 * actor's state after the whole command, not halfway through it.
 *
 * The edge acknowledges a command only after {@link barrier} resolves: every
 * event emitted so far is then in the queue (in Redis, for BullMQ). A failed
 * add rejects the barrier (`DEPENDENCY_UNAVAILABLE`: the edge answers 503)
 * and its jobs are kept and tried again with the next add, so a short Redis
 * outage loses nothing while the process lives.
 */
export class WriteBehind {
  readonly #source: EventSource;
  readonly #queue: JobQueue<EventRecord>;
  readonly #unsubscribe: () => void;
  #gathered: EngineEvent[] = [];
  #unsent: { id: string; data: EventRecord }[] = [];
  #scheduled = false;
  #last: Promise<void> = Promise.resolve();
  #enqueued = 0;

  constructor(source: EventSource, queue: JobQueue<EventRecord>) {
    this.#source = source;
    this.#queue = queue;
    this.#unsubscribe = source.subscribe((e) => {
      this.#gathered.push(e);
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  /**
   * Resolves when every event emitted before the call is in the queue; rejects
   * when the add that carries them failed. Ask after a command, not from an
   * event listener in the middle of one: the events gathered so far are sent
   * at once, so the rest of that command would go in a later add (and a crash
   * between the two would keep half of it).
   */
  barrier(): Promise<void> {
    // Jobs left from a failed add are tried again now, even when no new event came.
    if (this.#scheduled || this.#unsent.length > 0) {
      this.#scheduled = true;
      this.#flush();
    }
    return this.#last;
  }

  /** Jobs handed to the queue so far. */
  get enqueued(): number {
    return this.#enqueued;
  }

  /** Stops listening; resolves when what was gathered is enqueued (or rejects if it cannot be). */
  async close(): Promise<void> {
    this.#unsubscribe();
    await this.barrier();
  }

  #flush(): void {
    if (!this.#scheduled) return;
    this.#scheduled = false;
    const events = this.#gathered;
    this.#gathered = [];
    const idCounter = this.#source.idCounter;
    // One state per actor per flush, shared by that actor's events.
    const states = new Map<string, ActorRow | null>();
    const jobs = this.#unsent;
    this.#unsent = [];
    for (const event of events) {
      const key = `${event.aggregate}/${event.id}`;
      let state = states.get(key);
      if (state === undefined) {
        state = this.#source.snapshotRow(event.aggregate, event.id) ?? null;
        states.set(key, state);
      }
      jobs.push({ id: jobIdOf(event), data: { event, state, idCounter } });
    }
    // Adds run one after another so jobs reach the queue in emission order.
    this.#last = this.#last.catch(() => {}).then(async () => {
      try {
        await this.#queue.enqueue(jobs);
        this.#enqueued += jobs.length;
      } catch (err) {
        this.#unsent = [...jobs, ...this.#unsent];
        throw err;
      }
    });
    // An unobserved failure is reported through the next barrier, not as an unhandled rejection.
    this.#last.catch(() => {});
  }
}
