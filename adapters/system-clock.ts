import type { Clock, Stopwatch, TimerHandle } from '../engine/index.js';

/** The wall clock and real timers, for production and `--realtime` runs. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // Engine deadlines must not keep a process alive that has nothing else to do.
    t.unref();
    return t;
  },
  clearTimeout: (h: TimerHandle) => clearTimeout(h as NodeJS.Timeout),
};

/** Microseconds from the high-resolution monotonic timer. */
export const hrStopwatch: Stopwatch = { nowMicros: () => performance.now() * 1000 };
