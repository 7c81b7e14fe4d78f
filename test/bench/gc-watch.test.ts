import { performance } from 'node:perf_hooks';
import t from 'tap';
import { AllocationMeter, GcWatch } from '../../bench/gc-watch.js';

/** Busy for `ms` without allocating, so no collection can start inside. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

t.test('a span a collection paused inside is told from one it did not', async (t) => {
  const watch = new GcWatch();
  const quiet = performance.now();
  spin(2);
  watch.endedNow((performance.now() - quiet) * 1000, 1);
  // Enough short-lived garbage to fill the young generation several times over.
  const busy = performance.now();
  let keep: object[] = [];
  for (let i = 0; i < 3_000_000; i++) {
    keep.push({ i });
    if (keep.length > 10_000) keep = [];
  }
  watch.endedNow((performance.now() - busy) * 1000, 2);
  const { clean, paused, pauses, pauseMs } = await watch.split();
  t.ok(pauses > 0 && pauseMs > 0, `${pauses} pauses, ${pauseMs.toFixed(1)} ms`);
  t.equal(paused.count, 1, 'the allocating span met a pause');
  t.equal(paused.max(), 2);
  t.equal(clean.count, 1, 'the spinning span met none');
  t.equal(clean.max(), 1);
});

t.test('the allocation meter counts what a loop allocates, collections and all', async (t) => {
  const meter = new AllocationMeter();
  /** `n` arrays of 8 doubles (at least 64 bytes of data each), nearly all garbage: the bytes the meter saw. */
  const arrays = (n: number): number => {
    meter.start();
    let keep: Float64Array[] = [];
    for (let i = 0; i < n; i++) {
      keep.push(new Float64Array(8));
      if (keep.length > 1_000) keep = [];
    }
    return meter.stop();
  };
  const one = arrays(1_000_000);
  const two = arrays(2_000_000);
  t.ok(one >= 1_000_000 * 64, `${(one / 2 ** 20).toFixed(0)} MiB for at least 61 MiB of arrays`);
  t.ok(one < 1_000_000 * 1_024, 'and not wildly more');
  // Collections run in both loops, tens of them, so a meter that lost or doubled what they freed would be off here.
  t.ok(two / one > 1.6 && two / one < 2.5, `twice the arrays, ${(two / one).toFixed(2)} times the bytes`);

  // Not zero: a collection the loops above left due may land here, and the meter's own bookkeeping
  // is not exact to the byte; but far below what the arrays took.
  meter.start();
  let x = 0;
  for (let i = 0; i < 1_000_000; i++) x += i;
  const none = meter.stop();
  t.ok(x > 0 && none < one / 10, `a loop over numbers allocates next to nothing (${none} bytes)`);
});
