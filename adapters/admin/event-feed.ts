import type { AggregateKind, EngineEvent } from '../../protocol/index.js';

/** What a watcher wants to see. Empty fields match everything. */
export interface EventFilter {
  readonly aggregate: string;
  readonly ids: ReadonlySet<string>;
  readonly types: ReadonlySet<string>;
  readonly shard: string;
}

/** What a watcher does when its buffer is full: skip ahead (drop the oldest) or be cut off. */
export type SlowPolicy = 'skip' | 'cut_off';

/** The part of the engine a feed needs. */
export interface FeedSource {
  subscribeBatches(listener: (batch: { readonly events: readonly EngineEvent[] }) => void): () => void;
  shardOf(aggregate: AggregateKind, id: string): string | null;
}

/**
 * One watcher's bounded queue. The engine's listener only appends (O(1), no
 * I/O, no serialisation); the writer drains it at the pace its client reads.
 * Full, it drops its oldest event and counts it (`skip`), or marks itself
 * overflowed so its writer cuts the call off (`cut_off`).
 */
export class Watcher {
  readonly filter: EventFilter;
  readonly policy: SlowPolicy;
  readonly capacity: number;
  readonly #ring: (EngineEvent | undefined)[];
  #head = 0;
  #size = 0;
  /** Events dropped since the writer last took one. */
  skipped = 0;
  /** Events dropped over the watcher's life. */
  skippedTotal = 0;
  overflowed = false;
  /** Removed from its feed (stream cancelled, or the server stopping). */
  closed = false;
  #wake: (() => void) | undefined;

  constructor(filter: EventFilter, policy: SlowPolicy, capacity: number) {
    this.filter = filter;
    this.policy = policy;
    this.capacity = capacity;
    this.#ring = new Array<EngineEvent | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(e: EngineEvent): void {
    if (this.overflowed) return;
    if (this.#size === this.capacity) {
      if (this.policy === 'cut_off') {
        this.overflowed = true;
        this.#signal();
        return;
      }
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
      this.#size--;
      this.skipped++;
      this.skippedTotal++;
    }
    this.#ring[(this.#head + this.#size) % this.capacity] = e;
    this.#size++;
    this.#signal();
  }

  /** The oldest queued event, or undefined when none is queued. */
  take(): EngineEvent | undefined {
    if (this.#size === 0) return undefined;
    const e = this.#ring[this.#head];
    this.#ring[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    return e;
  }

  /** Resolves when something is queued (or the watcher overflowed). */
  waitForMore(): Promise<void> {
    if (this.#size > 0 || this.overflowed || this.closed) return Promise.resolve();
    return new Promise((resolve) => (this.#wake = resolve));
  }

  /** Wakes a writer waiting for more, so it can see that it must stop. */
  interrupt(): void {
    this.#signal();
  }

  #signal(): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = undefined;
      wake();
    }
  }
}

/**
 * The engine's events fanned out to admin watchers: one engine listener for
 * all of them, each watcher with its own filter and bounded queue, so a slow
 * watcher costs the engine one comparison and one array write per event.
 */
export class EventFeed {
  readonly #source: FeedSource;
  readonly #watchers = new Set<Watcher>();
  #unsubscribe: (() => void) | undefined;

  constructor(source: FeedSource) {
    this.#source = source;
  }

  /** Live watchers (a cancelled stream removes its own). */
  get watchers(): number {
    return this.#watchers.size;
  }

  add(filter: EventFilter, policy: SlowPolicy, capacity: number): Watcher {
    const w = new Watcher(filter, policy, capacity);
    this.#watchers.add(w);
    this.#unsubscribe ??= this.#source.subscribeBatches((b) => this.#deliver(b.events));
    return w;
  }

  remove(w: Watcher): void {
    this.#watchers.delete(w);
    w.closed = true;
    w.interrupt();
    if (this.#watchers.size === 0 && this.#unsubscribe) {
      this.#unsubscribe();
      this.#unsubscribe = undefined;
    }
  }

  close(): void {
    for (const w of [...this.#watchers]) this.remove(w);
  }

  #deliver(events: readonly EngineEvent[]): void {
    for (const w of this.#watchers) {
      const f = w.filter;
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        if (f.aggregate !== '' && e.aggregate !== f.aggregate) continue;
        if (f.ids.size > 0 && !f.ids.has(e.id)) continue;
        if (f.types.size > 0 && !f.types.has(e.type)) continue;
        if (f.shard !== '' && this.#source.shardOf(e.aggregate, e.id) !== f.shard) continue;
        w.push(e);
      }
    }
  }
}
