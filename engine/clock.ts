import { MinHeap } from './heap.js';

/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: never } | number | object;

/**
 * Time as a port. The engine never reads the wall clock: production passes a
 * real clock from adapters/, tests and the simulator pass {@link SimulatedClock}.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * A high-resolution CPU stopwatch in microseconds, used only to measure the
 * engine's own latency (match time). Defaults to one that reads zero, so the
 * engine stays deterministic unless a caller asks for measurements.
 */
export interface Stopwatch {
  nowMicros(): number;
}

export const nullStopwatch: Stopwatch = { nowMicros: () => 0 };

interface SimTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** 2026-01-01T12:00:00Z, the default start of simulated time. */
const SIM_EPOCH = 1767268800000;

/**
 * A clock that moves only when told. Timers due at the same instant fire in
 * the order they were set, so a run is a pure function of its inputs.
 */
export class SimulatedClock implements Clock {
  #now: number;
  #seq = 0;
  #live = 0;
  readonly #heap = new MinHeap<SimTimer>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));

  constructor(startMs = SIM_EPOCH) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: SimTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#heap.push(t);
    this.#live++;
    return t;
  }

  clearTimeout(handle: TimerHandle): void {
    const t = handle as SimTimer;
    if (!t.cancelled) {
      t.cancelled = true;
      this.#live--;
    }
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#live;
  }

  /** The time of the next live timer, or undefined when none is set. */
  nextAt(): number | undefined {
    while (this.#heap.peek()?.cancelled) this.#heap.pop();
    return this.#heap.peek()?.at;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in order. */
  advance(ms: number): void {
    this.runUntil(this.#now + ms);
  }

  /** Moves time to `t`, firing every timer due at or before it, in order. */
  runUntil(t: number): void {
    for (;;) {
      const next = this.nextAt();
      if (next === undefined || next > t) break;
      const timer = this.#heap.pop()!;
      timer.cancelled = true;
      this.#live--;
      this.#now = timer.at;
      timer.fn();
    }
    if (t > this.#now) this.#now = t;
  }
}
