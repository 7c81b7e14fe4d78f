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
  // CPU per order: the server's and the load generator's, and the machine's Postgres and Redis (local
  // here, read from /proc in 10 ms ticks, so a quick run may see none of theirs: only present is checked).
  const cpu = (out['match'] as { match_cpu: { orders: number; per_order_us: Record<string, number | null> } })
    .match_cpu;
  t.ok(cpu.orders > 0, 'orders measured in the match window');
  for (const k of ['server', 'load'] as const) t.ok((cpu.per_order_us[k] ?? 0) > 0, `CPU per order of the ${k}`);
  for (const k of ['postgres', 'redis'] as const) t.type(cpu.per_order_us[k], 'number', `the machine's ${k} found`);
  const parts = ['server', 'load', 'postgres', 'redis'].reduce((sum, k) => sum + cpu.per_order_us[k]!, 0);
  t.ok(Math.abs(cpu.per_order_us['total']! - parts) <= 2, 'the total is the sum (each part rounded)');
});
