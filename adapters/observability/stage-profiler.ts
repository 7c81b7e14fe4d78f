/**
 * Where a server's CPU goes, stage by stage (issue 19's budget). Adapters
 * that are handed a {@link StageTimer} run their work through it; a server
 * that is handed none wraps nothing, so it costs nothing when off. One
 * profiler per server, injected at the composition root (ServerHooks.stages).
 *
 * Synchronous segments are timed with `process.cpuUsage()` (the process's
 * CPU, about 1 µs a read here) and counted exclusively: a stage run inside
 * another is taken out of the outer one, so stages never overlap and their
 * sum never exceeds the main thread's CPU. Around an await on-thread CPU
 * cannot be told apart from the work that interleaves, so a round trip to
 * Postgres or Redis counts the CPU of its synchronous start under the stage
 * and its whole duration as wall time under `<stage>_wait`, kept out of the
 * sum. The client-side CPU of the reply (driver parsing, continuations)
 * lands in `other`.
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

/** How a stage was measured: on-thread CPU (adds up to the total) or wall time (does not). */
export type StageBasis = 'cpu' | 'wall';

/** What an adapter needs to time its stages. */
export interface StageTimer {
  /** Runs `fn` and counts its CPU under `stage`, less any stage run inside it. */
  sync<T>(stage: string, fn: () => T): T;
  /**
   * A round trip: the CPU of `fn`'s synchronous start under `stage`, and the
   * wall time until its promise settles under `<stage>_wait`.
   */
  io<T>(stage: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Work that continues in microtasks without waiting on I/O (a token
   * verification with its keys cached): its start, and the CPU between its
   * start's end and its settling less any other stage's CPU meanwhile.
   * Wall time goes under `<stage>_wait`, so a chain that did wait shows it.
   */
  chain<T>(stage: string, fn: () => Promise<T>): Promise<T>;
}

/** One stage's raw figures over a window. */
export interface StageCount {
  readonly basis: StageBasis;
  /** Microseconds: CPU for `cpu`, wall for `wall`. */
  readonly us: number;
  readonly calls: number;
}

/** Microseconds of process CPU since an arbitrary origin. */
export type CpuClock = () => number;
const processCpu: CpuClock = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

interface Frame {
  readonly start: number;
  /** CPU of the stages nested in this one. */
  inner: number;
}

/** The profiler itself; adapters see it as a {@link StageTimer}. */
export class StageProfiler implements StageTimer {
  readonly #cpu: CpuClock;
  readonly #counts = new Map<string, { basis: StageBasis; us: number; calls: number }>();
  readonly #stack: Frame[] = [];
  /** CPU counted by outermost stages so far: what a chain subtracts for the work that interleaved with it. */
  #counted = 0;

  constructor(cpu: CpuClock = processCpu) {
    this.#cpu = cpu;
  }

  sync<T>(stage: string, fn: () => T): T {
    const frame: Frame = { start: this.#cpu(), inner: 0 };
    this.#stack.push(frame);
    try {
      return fn();
    } finally {
      this.#stack.pop();
      const spent = this.#cpu() - frame.start;
      this.#add(stage, 'cpu', spent - frame.inner);
      this.#closed(spent);
    }
  }

  io<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const p = this.sync(stage, fn);
    const done = () => this.#add(`${stage}_wait`, 'wall', (performance.now() - t0) * 1000);
    p.then(done, done);
    return p;
  }

  chain<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const p = this.sync(stage, fn);
    // The rest runs in later microtasks, outside any frame: count it at the top level.
    const c0 = this.#cpu();
    const counted0 = this.#counted;
    const done = () => {
      const rest = Math.max(0, this.#cpu() - c0 - (this.#counted - counted0));
      this.#add(stage, 'cpu', rest, 0);
      this.#counted += rest;
      this.#add(`${stage}_wait`, 'wall', (performance.now() - t0) * 1000);
    };
    p.then(done, done);
    return p;
  }

  /**
   * Counts garbage-collection pauses of the main thread as wall time under `gc_pause`: they
   * happen inside the other lines, so they explain them rather than add to them. Answers the stop.
   */
  watchGc(): () => void {
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.#add('gc_pause', 'wall', e.duration * 1000);
    });
    obs.observe({ entryTypes: ['gc'] });
    return () => obs.disconnect();
  }

  /** Forgets what was counted (the start of a measured window). */
  reset(): void {
    this.#counts.clear();
  }

  /** What was counted since the last reset, by stage. */
  snapshot(): Record<string, StageCount> {
    const out: Record<string, StageCount> = {};
    for (const [name, c] of this.#counts) out[name] = { ...c };
    return out;
  }

  #add(stage: string, basis: StageBasis, us: number, calls = 1): void {
    const c = this.#counts.get(stage);
    if (c === undefined) this.#counts.set(stage, { basis, us, calls });
    else {
      c.us += us;
      c.calls += calls;
    }
  }

  /** A frame closed after `spent` µs: its parent's inner time, or the top level's count. */
  #closed(spent: number): void {
    const parent = this.#stack.at(-1);
    if (parent) parent.inner += spent;
    else this.#counted += spent;
  }
}

/** One line of the budget, per order. */
export type StageFigure =
  | {
      readonly basis: 'cpu';
      readonly cpu_ms_per_order: number;
      readonly share: number;
      readonly calls_per_order: number;
    }
  | {
      readonly basis: 'wall';
      readonly wall_ms_per_order: number;
      /** The mean round trip (or pause). */
      readonly wall_ms_per_call: number;
      readonly share: null;
      readonly calls_per_order: number;
    };

export interface StageBudget {
  /** CPU stages (and `other`, `other_threads`) add up to `total_cpu_ms_per_order`; wall stages stand apart. */
  readonly stages: Record<string, StageFigure>;
  readonly total_cpu_ms_per_order: number;
  /** The sum of the CPU lines, `other` included: equals the total up to rounding. */
  readonly sum_cpu_ms_per_order: number;
}

/**
 * The per-order budget of a window: every CPU stage, then `other` (the main
 * thread's CPU that no stage counted) and `other_threads` (GC helpers,
 * libuv's pool: the process total less the main thread), so the CPU lines
 * add up to the total. Without the main thread's figure, `other` is the
 * total less the stages.
 */
export function stageBudget(
  counts: Readonly<Record<string, StageCount>>,
  w: { readonly totalCpuUs: number; readonly mainThreadCpuUs: number | null; readonly orders: number },
): StageBudget {
  const per = (us: number) => (w.orders > 0 ? us / 1000 / w.orders : 0);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const total = per(w.totalCpuUs);
  const cpu = Object.entries(counts).filter(([, c]) => c.basis === 'cpu');
  const staged = cpu.reduce((s, [, c]) => s + c.us, 0);
  const main = w.mainThreadCpuUs ?? w.totalCpuUs;
  const lines: [string, number, number][] = cpu
    .map(([name, c]): [string, number, number] => [name, per(c.us), c.calls])
    .sort((a, b) => b[1] - a[1]);
  lines.push(['other', per(main - staged), 0]);
  if (w.mainThreadCpuUs !== null) lines.push(['other_threads', per(w.totalCpuUs - w.mainThreadCpuUs), 0]);
  const stages: Record<string, StageFigure> = {};
  for (const [name, ms, calls] of lines)
    stages[name] = {
      basis: 'cpu',
      cpu_ms_per_order: r3(ms),
      share: total > 0 ? Math.round((ms / total) * 1000) / 1000 : 0,
      calls_per_order: r3(per(calls * 1000)),
    };
  for (const [name, c] of Object.entries(counts))
    if (c.basis === 'wall')
      stages[name] = {
        basis: 'wall',
        wall_ms_per_order: r3(per(c.us)),
        wall_ms_per_call: c.calls > 0 ? r3(c.us / 1000 / c.calls) : 0,
        share: null,
        calls_per_order: r3(per(c.calls * 1000)),
      };
  const sum = lines.reduce((s, [, ms]) => s + ms, 0);
  return { stages, total_cpu_ms_per_order: r3(total), sum_cpu_ms_per_order: r3(sum) };
}

/** Linux reports thread CPU in USER_HZ ticks, 100 a second on every architecture Node runs on. */
const TICK_US = 10_000;

/** The main thread's CPU from /proc (µs; 10 ms resolution), or null where /proc is not there. */
export function mainThreadCpuUs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_US;
  } catch {
    return null;
  }
}
