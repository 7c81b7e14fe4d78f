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

/**
 * Monotonic milliseconds (`performance.now()`) and real timers, for durations such as lease validity:
 * a wall clock stepped by NTP would stretch or cut a lease. Never read as a date.
 */
export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
  clearTimeout: (h) => systemClock.clearTimeout(h),
};
