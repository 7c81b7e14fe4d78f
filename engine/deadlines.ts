import type { DeadlineKind } from '../protocol/index.js';
import type { Clock, TimerHandle } from './clock.js';
import { MinHeap } from './heap.js';

export type { DeadlineKind };

/** The timers of the engine, each an absolute deadline held in an actor's state; the rank orders ties. */
export const DEADLINE_RANK = {
  payment: 0,
  restaurant: 1,
  dispatch: 2,
  offer: 3,
  retry: 4,
  grace: 5,
  sla: 6,
  expire: 7,
  evict: 8,
} as const satisfies Record<DeadlineKind, number>;

interface Entry {
  readonly at: number;
  readonly rank: number;
  readonly kind: DeadlineKind;
  readonly id: string;
  live: boolean;
}

// Deadlines due at the same instant fire by (kind, id), never by the order they
// were armed in: a restored engine arms them in another order and must still
// produce the same log.
const earlier = (a: Entry, b: Entry) =>
  a.at < b.at || (a.at === b.at && (a.rank < b.rank || (a.rank === b.rank && a.id < b.id)));

/**
 * Every pending deadline, behind one clock timer for the earliest. Setting a
 * deadline again replaces it; the replaced entry is dropped lazily and the heap
 * is compacted when dead entries outnumber live ones.
 */
export class Deadlines {
  readonly #clock: Clock;
  readonly #onFire: (kind: DeadlineKind, id: string) => void;
  /** Per actor id, its live entry of each kind (indexed by rank). */
  readonly #byId = new Map<string, (Entry | undefined)[]>();
  #live = 0;
  #heap = new MinHeap<Entry>(earlier);
  #timer: TimerHandle | null = null;
  #timerAt = Infinity;
  #firing = false;
  /** Made once: the timer is re-armed on most commands, and a fresh closure each time is garbage. */
  readonly #onTimer = (): void => this.#fire();

  constructor(clock: Clock, onFire: (kind: DeadlineKind, id: string) => void) {
    this.#clock = clock;
    this.#onFire = onFire;
  }

  get size(): number {
    return this.#live;
  }

  /** Arms `kind` for `id` at epoch ms `at`; 0 disarms it. */
  set(kind: DeadlineKind, id: string, at: number): void {
    const rank = DEADLINE_RANK[kind];
    let slots = this.#byId.get(id);
    const old = slots?.[rank];
    if ((old?.at ?? 0) === at) return;
    if (old) {
      this.#drop(old);
      // Dropping the last entry of an id forgets its slots: look them up again.
      slots = this.#byId.get(id);
    }
    if (at > 0) {
      const e: Entry = { at, rank, kind, id, live: true };
      if (slots === undefined) {
        slots = [];
        this.#byId.set(id, slots);
      }
      slots[rank] = e;
      this.#live++;
      this.#heap.push(e);
    }
    if (this.#heap.size > 64 && this.#heap.size > 2 * this.#live) this.#compact();
    this.#schedule();
  }

  get(kind: DeadlineKind, id: string): number {
    return this.#byId.get(id)?.[DEADLINE_RANK[kind]]?.at ?? 0;
  }

  #drop(e: Entry): void {
    e.live = false;
    this.#live--;
    const slots = this.#byId.get(e.id)!;
    slots[e.rank] = undefined;
    for (let i = 0; i < slots.length; i++) if (slots[i] !== undefined) return;
    this.#byId.delete(e.id);
  }

  /** Stops the clock timer; deadlines stay recorded. */
  stop(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }

  #compact(): void {
    const heap = new MinHeap<Entry>(earlier);
    for (const slots of this.#byId.values()) for (const e of slots) if (e) heap.push(e);
    this.#heap = heap;
  }

  #head(): Entry | undefined {
    while (this.#heap.peek()?.live === false) this.#heap.pop();
    return this.#heap.peek();
  }

  #schedule(): void {
    if (this.#firing) return;
    const head = this.#head();
    const at = head?.at ?? Infinity;
    if (at === this.#timerAt) return;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = at;
    if (head) this.#timer = this.#clock.setTimeout(this.#onTimer, Math.max(0, at - this.#clock.now()));
  }

  #fire(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    this.#firing = true;
    try {
      for (;;) {
        const head = this.#head();
        if (!head || head.at > this.#clock.now()) break;
        this.#heap.pop();
        this.#drop(head);
        this.#onFire(head.kind, head.id);
      }
    } finally {
      this.#firing = false;
      this.#schedule();
    }
  }
}
