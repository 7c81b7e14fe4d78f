import t from 'tap';
import { runBench } from './run-bench.js';

// `all --quick` is what CI runs to check every scenario at once.
t.setTimeout(400_000);

t.test('npm run bench -- all --quick --json: every scenario, one JSON object', async (t) => {
  const res = await runBench(['all', '--quick', '--json']);
  t.equal(res.status, 0, 'exits 0', { stderr: res.stderr.slice(-4000) });
  const out = res.last!;
  t.equal(out['scenario'], 'all');
  t.match(out, {
    ingest: { us_per_position: Number, positions: Number },
    memory: { heap_bytes_per_online_rider: Number },
    baselines: { systems: { engine: Object, 'redis-geo': Object, postgis: Object }, ratios: Object },
    match: { match_latency_us: { p99: Number }, engine_match_us: { p99: Number } },
    engine: { position_update_cpu_us: Number },
    write_behind: { queue_lag_ms: { p99: Number } },
  });
  t.ok(out['wall_s'] > 0);
});
