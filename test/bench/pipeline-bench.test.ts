import t from 'tap';
import { PERCENTILES, runBench } from './run-bench.js';

// The harness must keep working; how fast anything is gets judged by `npm run bench`, never here. It needs the
// Auth emulator, Postgres, Redis and PostGIS (./dev setup installs them): without one it fails, it never skips.
t.setTimeout(300_000);

const systemShape = {
  ingest_us_per_position: Number,
  ingest: { positions: Number, server_us_per_position: Number },
  match_latency_us: PERCENTILES,
  rest_ack_us: PERCENTILES,
  engine_match_us: PERCENTILES,
  match_latency_curve: Array,
  orders: { planned: Number, placed: Number, confirmed: Number, offers: Number, unmatched: Number },
};

t.test('npm run bench -- baselines --quick --json: the same pipeline three times, with ratios', async (t) => {
  // The emulator's identity path here, production's (the default) in the match test below; the stage
  // profiler off here, on (the default) there.
  const res = await runBench(['baselines', '--quick', '--json', '--identity', 'emulator', '--stages', 'off']);
  t.equal(res.status, 0, 'exits 0', { stderr: res.stderr.slice(-4000) });
  const out = res.last!;
  t.equal(out['scenario'], 'baselines');
  t.equal(out['identity'], 'emulator');
  t.match(out['machine'], /Node v20/);
  for (const s of ['engine', 'redis-geo', 'postgis']) {
    const r = out['systems'][s];
    t.match(r, systemShape, s);
    t.equal(r.orders.confirmed, r.orders.planned, `${s}: every order placed and confirmed over REST`);
    t.equal(r.orders.unmatched, 0, `${s}: every confirmed order reached a rider's socket as an offer`);
    t.ok(r.match_latency_us.count > 0 && r.ingest.positions > 0, `${s}: something was measured`);
    t.same(r.rest_errors, {}, `${s}: no REST errors`);
    t.equal(r.store_write_errors, 0);
  }
  t.equal(out['systems']['engine'].lookup_us, null, 'the engine has no store lookup');
  for (const s of ['engine', 'redis-geo', 'postgis']) {
    t.equal(out['systems'][s].stages, null, `${s}: --stages off: no profiler, no budget`);
    t.equal(out['systems'][s].stage_totals, null);
  }
  for (const s of ['redis-geo', 'postgis']) {
    t.match(out['systems'][s].lookup_us, PERCENTILES);
    t.type(out['systems'][s].ingest.store_us_per_position, 'number', `${s}: its store's CPU counts`);
    t.match(out['ratios'][s], {
      match_p50: Number,
      match_p99: Number,
      match_p999: Number,
      ingest_us_per_position: Number,
    });
    t.equal(out['systems'][s].bridge.lookupErrors, 0);
  }
  t.match(out['met'], {
    match_p99: Boolean,
    engine_match_p99: Boolean,
    ingest: Boolean,
    redis_geo_ratio: Boolean,
    postgis_ratio: Boolean,
  });
  t.match(res.stderr, /\[baselines\] postgis: orders \d+\/\d+ sent/, 'progress lines while running');
});

t.test('npm run bench -- match --quick --json: the engine alone end to end', async (t) => {
  const res = await runBench(['match', '--quick', '--json', '--seed', '3']);
  t.equal(res.status, 0, 'exits 0', { stderr: res.stderr.slice(-4000) });
  const out = res.last!;
  t.equal(out['scenario'], 'match');
  t.equal(out['identity'], 'production', 'tokens verified as production verifies them, by default');
  t.equal(out['identity_cache'], 50_000, "behind the server's identity cache, as npm start builds it");
  t.match(out, systemShape);
  t.equal(out['seed'], 3);
  t.equal(out['orders'].unmatched, 0);
  t.notOk('systems' in out);

  // Issue 19's budget: every stage named there is counted, and the CPU lines add up to the server's total.
  const stages = out['stages'] as Record<string, { basis: string; cpu_ms_per_order?: number; share: number | null }>;
  for (const name of [
    'identity',
    'request',
    'catalog_reads',
    'engine',
    'durability',
    'bullmq_add',
    'write_behind_statement',
    'order_row',
    'rider_frames',
    'positions',
    'other',
  ])
    t.equal(stages[name]?.basis, 'cpu', `${name} is a CPU line`);
  for (const name of ['catalog_reads_wait', 'order_row_wait', 'durability_wait'])
    t.equal(stages[name]?.basis, 'wall', `${name} is a wall line, apart from the sum`);
  const cpu = Object.values(stages).filter((x) => x.basis === 'cpu');
  const sum = cpu.reduce((s, x) => s + x.cpu_ms_per_order!, 0);
  const total = out['stage_totals'].total_cpu_ms_per_order as number;
  t.ok(total > 0, 'the server used CPU');
  // Rounding to µs per line is the only difference allowed.
  t.ok(Math.abs(sum - total) <= 0.001 * cpu.length + 0.01 * total, `lines sum to the total (${sum} of ${total})`);
  const server = out['match_cpu'].per_order_us.server as number;
  t.ok(Math.abs(total * 1000 - server) <= 1, "the total is match_cpu's server figure (both rounded to µs)");
  t.match(out['per_order_counts'], { redis_commands: Number, postgres_xacts: Number });
  // Per statement only where the server loads pg_stat_statements (test/bench/statement-sampler.test.ts).
  const statements = out['postgres_statements'] as { calls: number; exec_us: number }[] | null;
  t.ok(
    statements === null || (statements.length > 0 && statements.every((x) => x.calls > 0 && x.exec_us >= 0)),
    `postgres_statements: ${statements === null ? 'null (module not loaded)' : `${statements.length} statements`}`,
  );
});

t.test('bad flags are refused with usage', async (t) => {
  const res = await runBench(['baselines', '--nope']);
  t.equal(res.status, 2);
  t.match(res.stderr, /unknown flag --nope/);
  for (const bad of ['1.5', '2000000']) {
    const r = await runBench(['match', '--identity-cache', bad]);
    t.equal(r.status, 2, `--identity-cache ${bad}`);
    t.match(r.stderr, /--identity-cache must be an integer in 0\.\.1000000/);
  }
});
