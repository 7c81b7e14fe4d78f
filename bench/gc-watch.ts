import { PerformanceObserver, performance, type PerformanceEntry } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { Sample } from './stats.js';

/**
 * Splits timed spans (matches) into those a garbage collection pause fell inside and those it did
 * not, so a latency tail can be told apart from the collector's: the pauses come from every
 * allocation in the process, the engine's and the load's, while a span with no pause inside is the
 * code's own time (cache misses and all). Spans are on `performance.now()`'s timeline, as the
 * benchmarks' `hrStopwatch` is.
 */
export class GcWatch {
  /** Pauses as [start, end] pairs, ms. */
  readonly #pauses: number[] = [];
  /** Spans as [start, end] pairs, ms, and each span's figure. */
  readonly #spans: number[] = [];
  readonly #values: number[] = [];
  readonly #observer = new PerformanceObserver((list) => this.#keep(list.getEntries()));

  constructor() {
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  #keep(entries: readonly PerformanceEntry[]): void {
    for (const e of entries) this.#pauses.push(e.startTime, e.startTime + e.duration);
  }

  /** A span that ended just now and lasted `micros`, with the figure it is counted by (its latency). */
  endedNow(micros: number, value = micros): void {
    const end = performance.now();
    this.#spans.push(end - micros / 1000, end);
    this.#values.push(value);
  }

  /**
   * Stops watching and splits the spans. The collector's entries reach the observer only once the
   * event loop turns, so this waits for one turn first.
   */
  async split(): Promise<{ clean: Sample; paused: Sample; pauses: number; pauseMs: number; met: boolean[] }> {
    await new Promise((resolve) => setTimeout(resolve, 20));
    this.#keep(this.#observer.takeRecords());
    this.#observer.disconnect();
    // Pauses merged into disjoint intervals in time order, so a binary search finds the one a span may meet.
    const p = this.#pauses;
    const order = Array.from({ length: p.length / 2 }, (_, i) => i).sort((a, b) => p[2 * a]! - p[2 * b]!);
    const starts: number[] = [];
    const ends: number[] = [];
    let pauseMs = 0;
    for (const i of order) {
      const from = p[2 * i]!;
      const to = p[2 * i + 1]!;
      pauseMs += to - from;
      if (ends.length > 0 && from <= ends[ends.length - 1]!)
        ends[ends.length - 1] = Math.max(ends[ends.length - 1]!, to);
      else {
        starts.push(from);
        ends.push(to);
      }
    }
    const clean = new Sample();
    const paused = new Sample();
    // Per span, in the order they were recorded: whether a pause fell inside it.
    const met: boolean[] = [];
    for (let s = 0; s < this.#values.length; s++) {
      const from = this.#spans[2 * s]!;
      const to = this.#spans[2 * s + 1]!;
      // The first interval that ends after the span starts: the span met a pause if it starts before the span ends.
      let lo = 0;
      let hi = ends.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ends[mid]! <= from) lo = mid + 1;
        else hi = mid;
      }
      met.push(lo < starts.length && starts[lo]! < to);
      (met[s] ? paused : clean).add(this.#values[s]!);
    }
    return { clean, paused, pauses: order.length, pauseMs, met };
  }
}

/**
 * Bytes allocated on the V8 heap between {@link start} and {@link stop}: what is in use at the
 * end less what was at the start, plus what every collection in between freed (from
 * `v8.GCProfiler`, which reports the heap's size before and after each). Objects that live on
 * count as allocated too; the figure is the garbage the collector must deal with, and more. It is
 * a measure for loops that allocate megabytes, not exact to the byte: a collection's before and
 * after sizes do not account for every page in flight (a loop that allocates nothing can read a few
 * MB when a collection the earlier work made due lands in it), and twice the same work does not
 * always read exactly twice the bytes.
 */
export class AllocationMeter {
  readonly #profiler = new GCProfiler();
  #used0 = 0;

  start(): void {
    this.#used0 = getHeapStatistics().used_heap_size;
    this.#profiler.start();
  }

  stop(): number {
    const data = this.#profiler.stop() as GcProfile | undefined;
    const used1 = getHeapStatistics().used_heap_size;
    let freed = 0;
    for (const s of data?.statistics ?? [])
      freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    return used1 - this.#used0 + freed;
  }
}

interface GcProfile {
  statistics: {
    beforeGC: { heapStatistics: { usedHeapSize: number } };
    afterGC: { heapStatistics: { usedHeapSize: number } };
  }[];
}
