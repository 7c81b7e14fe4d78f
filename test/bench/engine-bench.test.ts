import { spawnSync } from 'node:child_process';
import t from 'tap';

// The harness must keep working; how fast anything is gets judged by `npm run bench`, never here.
t.test('npm run bench -- engine --quick --json prints every figure with its baseline', async (t) => {
  const res = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', 'bench/run.ts', 'engine', '--quick', '--json'],
    { encoding: 'utf8' },
  );
  t.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
  for (const k of [
    'position_update_cpu_us',
    'baseline_xstate_send_cpu_us',
    'heap_bytes_per_idle_rider',
    'baseline_heap_bytes_per_started_actor',
    'heap_bytes_per_active_order',
    'allocated_bytes_per_order',
    'matches',
  ])
    t.type(out[k], 'number', k);
  t.match(out.match_latency_us, { p50: Number, p99: Number, p999: Number, max: Number });
  t.match(out.baseline_brute_force_scan_us, { p50: Number, p99: Number });
  t.match(out.baseline_compute_span_us, { p50: Number, p99: Number, p999: Number });
  t.match(out.baseline_compute_span_no_gc_us, { p50: Number, p99: Number, p999: Number });
  t.ok(
    out.compute_spans_with_gc >= 0 && out.compute_spans_with_gc <= out.matches,
    'spans with a pause are some of the spans',
  );
  t.ok(
    out.baseline_compute_span_us.p50 > out.match_latency_us.p50 / 10 &&
      out.baseline_compute_span_us.p50 < out.match_latency_us.p50 * 10,
    'the arithmetic spans are about as long as the median match',
  );
  t.equal(out.matches, 1000, 'every order was matched');
  t.match(out.match_latency_no_gc_us, { p50: Number, p99: Number, p999: Number });
  t.ok(out.matches_with_gc >= 0 && out.matches_with_gc <= out.matches, 'matches with a pause are some of the matches');
  t.ok(
    out.warmup_matches > 0 && out.warmup_matches <= out.matches / 2,
    `the warm-up is the first ${out.warmup_matches} matches, at most half`,
  );
  t.match(out.match_latency_warm_us, { p50: Number, p99: Number, p999: Number });
  t.match(out.match_latency_warm_no_gc_us, { p50: Number, p99: Number, p999: Number });
  t.ok(out.match_latency_warm_us.max <= out.match_latency_us.max, 'the warm matches are some of the matches');
  t.match(out.dense_city, {
    riders: 5000,
    match_latency_us: { p50: Number, p99: Number },
    riders_scored: { p50: Number },
    match_latency_no_gc_us: { p50: Number, p99: Number },
    matches_with_gc: Number,
  });
  t.equal(out.dense_city.matches, 1000, 'every order in the dense city was matched');
  t.ok(out.dense_city.riders_scored.p99 > 20, 'searches there score many riders');
  t.match(out.machine, /Node v20/);
});

t.test('an unknown scenario is refused with usage', async (t) => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'nope'], { encoding: 'utf8' });
  t.equal(res.status, 2);
  t.match(res.stderr, /unknown scenario nope/);
});
