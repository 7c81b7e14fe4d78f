import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SimulatedClock, nullStopwatch } from '../../engine/index.js';
import { defaultSimOptions, Simulation } from '../../bench/sim/simulation.js';

function run(seed: number, policy = 'greedy') {
  const clock = new SimulatedClock();
  const sim = new Simulation(
    { ...defaultSimOptions, riders: 300, restaurants: 30, ordersPerSec: 0.5, seed, radiusKm: 4, policy },
    clock,
    nullStopwatch,
  );
  const events: string[] = [];
  sim.engine.subscribe((e) => events.push(`${e.type}:${e.id}:${e.seq}:${e.at}`));
  sim.start();
  clock.advance(900_000);
  sim.stopOrdering();
  for (let i = 0; i < 200 && sim.liveOrders > 0; i++) clock.advance(60_000);
  sim.checkInvariants();
  return { sim, events };
}

t.test('a small city runs to the end with every invariant holding', async (t) => {
  const { sim } = run(3);
  t.equal(sim.counts.invariant_violations, 0, sim.firstViolations.join('\n'));
  t.ok(sim.counts.orders_placed > 300, `placed ${sim.counts.orders_placed}`);
  t.ok(sim.counts.orders_delivered > sim.counts.orders_placed * 0.7, 'most orders are delivered');
  t.equal(sim.counts.orders_delivered + sim.counts.orders_cancelled, sim.counts.orders_placed, 'every order ended');
  t.equal(sim.liveOrders, 0);
  t.ok(sim.counts.offers_declined > 0 && sim.counts.offers_expired > 0, 'declines and expiries happen');
});

t.test('batched against greedy on the same busy city: shorter pickups, closer to the optimum', async (t) => {
  // Busy: few riders for the orders, so that riders are scarce and the choice matters.
  const busy = (policy: string) => {
    const clock = new SimulatedClock();
    const sim = new Simulation(
      { ...defaultSimOptions, riders: 150, restaurants: 40, ordersPerSec: 0.5, seed: 9, radiusKm: 5, policy },
      clock,
      nullStopwatch,
    );
    sim.start();
    clock.advance(1_200_000);
    sim.stopOrdering();
    for (let i = 0; i < 200 && sim.liveOrders > 0; i++) clock.advance(60_000);
    sim.checkInvariants();
    return sim;
  };
  const g = busy('greedy');
  const b = busy('batched');
  for (const sim of [g, b]) {
    t.equal(sim.counts.invariant_violations, 0, sim.firstViolations.join('\n'));
    t.equal(sim.liveOrders, 0, 'every order ended');
  }
  const gq = g.quality();
  const bq = b.quality();
  t.ok(bq.comparison_orders > 100, `${bq.comparison_orders} orders compared with the optimum`);
  t.ok(gq.gap_to_optimum_pct >= 0 && bq.gap_to_optimum_pct >= 0, 'no policy beats the optimum of its own windows');
  t.ok(
    bq.gap_to_optimum_pct < gq.gap_to_optimum_pct,
    `gap to the optimum: batched ${bq.gap_to_optimum_pct}%, greedy ${gq.gap_to_optimum_pct}%`,
  );
  t.ok(bq.pickup_s.mean < gq.pickup_s.mean, `mean pickup ${bq.pickup_s.mean} s batched, ${gq.pickup_s.mean} s greedy`);
  for (const q of [gq, bq]) {
    t.ok(q.rider_idle_share > 0 && q.rider_idle_share < 1, 'an idle share');
    t.ok(
      q.earnings_per_rider_hour_inr > 0 && q.deliveries_per_rider_hour > 0,
      'earnings and deliveries per rider-hour',
    );
  }
});

t.test('kitchens that run late: the learned timing keeps riders from waiting at the counter', async (t) => {
  // Restaurants 8 minutes late on average; a warm-up lets the engine learn them before the figures count.
  const city = (kitchen: string) => {
    const clock = new SimulatedClock();
    const sim = new Simulation(
      {
        ...defaultSimOptions,
        riders: 300,
        restaurants: 20,
        ordersPerSec: 0.3,
        seed: 4,
        radiusKm: 4,
        policy: 'batched',
        kitchen,
        kitchenBiasMin: 8,
        warmupS: 1_800,
      },
      clock,
      nullStopwatch,
    );
    sim.start();
    clock.advance(3_600_000);
    sim.stopOrdering();
    for (let i = 0; i < 200 && sim.liveOrders > 0; i++) clock.advance(60_000);
    sim.checkInvariants();
    return sim;
  };
  const stated = city('stated');
  const learned = city('learned');
  for (const sim of [stated, learned]) t.equal(sim.counts.invariant_violations, 0, sim.firstViolations.join('\n'));
  const s = stated.quality();
  const l = learned.quality();
  t.ok(
    l.rider_wait_at_pickup_s_mean < s.rider_wait_at_pickup_s_mean * 0.9,
    `riders wait ${l.rider_wait_at_pickup_s_mean} s learned, ${s.rider_wait_at_pickup_s_mean} s stated`,
  );
  t.ok(l.late_orders < s.late_orders, `late: ${l.late_orders} learned, ${s.late_orders} stated`);
  t.ok(l.food_wait_s_mean > 0 && s.food_wait_s_mean > 0, 'both waits are measured');
  t.throws(() => new Simulation({ ...defaultSimOptions, kitchen: 'psychic' }, new SimulatedClock(), nullStopwatch), {
    message: /kitchen must be learned or stated/,
  });
});

t.test('the same seed gives the same run; another seed does not', async (t) => {
  const a = run(5).events;
  const b = run(5).events;
  const c = run(6).events;
  t.equal(a.length, b.length);
  t.same(a, b);
  t.not(a.join('\n'), c.join('\n'));
});

t.test('npm run simulate -- --json ends with one JSON object holding the promised fields', async (t) => {
  const res = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/simulate.ts',
      '--riders',
      '200',
      '--restaurants',
      '20',
      '--orders-per-sec',
      '0.5',
      '--duration',
      '300',
      '--radius-km',
      '4',
      '--json',
    ],
    { encoding: 'utf8' },
  );
  t.equal(res.status, 0, res.stderr);
  const last = res.stdout.trim().split('\n').at(-1)!;
  const out = JSON.parse(last);
  for (const k of [
    'orders_placed',
    'orders_delivered',
    'orders_cancelled',
    'offers_sent',
    'offers_declined',
    'offers_expired',
    'invariant_violations',
    'wall_s',
  ])
    t.type(out[k], 'number', k);
  t.match(out.match_latency_us, { p50: Number, p90: Number, p99: Number, max: Number });
  t.match(out.match_latency_no_gc_us, { p50: Number, p90: Number, p99: Number, max: Number });
  t.match(out.match_latency_with_gc_us, { p50: Number, p90: Number, p99: Number, max: Number });
  t.ok(out.matches_with_gc >= 0 && out.matches_with_gc <= out.matches, 'matches with a pause are some of the matches');
  t.type(out.gc_pauses, 'number');
  t.type(out.gc_pause_ms, 'number');
  t.match(out.pickup_distance_m, { mean: Number, p90: Number });
  t.equal(out.policy, 'greedy', 'greedy unless asked');
  t.match(out.quality, {
    pickup_s: { mean: Number, p90: Number },
    wait_min_mean: Number,
    late_orders: Number,
    rider_idle_share: Number,
    earnings_per_rider_hour_inr: Number,
    deliveries_per_rider_hour: Number,
    gap_to_optimum_pct: Number,
    rider_wait_at_pickup_s_mean: Number,
    food_wait_s_mean: Number,
    cohort: { placed: Number, delivered: Number, late: Number, cancelled_no_rider: Number },
  });
  const c = out.quality.cohort as { placed: number; delivered: number; late: number; cancelled_no_rider: number };
  t.ok(
    c.placed > 0 && c.placed <= out.orders_placed,
    `the period's orders: ${c.placed} of ${out.orders_placed} placed`,
  );
  t.ok(c.delivered + c.cancelled_no_rider <= c.placed && c.late <= c.delivered, 'each of them counted once at most');
  t.match(out, { kitchen: 'learned', kitchen_bias_min: 3, warmup_s: 0 });
  t.match(res.stderr, /\[sim \d\d:\d\d:\d\d\] placed \d+ delivered \d+/, 'progress lines on stderr');
});

t.test('bad flags get a clear error and exit code 2', async (t) => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'bench/simulate.ts', '--ridres', '5'], {
    encoding: 'utf8',
  });
  t.equal(res.status, 2);
  t.match(res.stderr, /unknown flag --ridres/);
  const neg = spawnSync(process.execPath, ['--import', 'tsx', 'bench/simulate.ts', '--riders', '-3'], {
    encoding: 'utf8',
  });
  t.equal(neg.status, 2);
  t.match(neg.stderr, /--riders must be a number/);
  const policy = spawnSync(process.execPath, ['--import', 'tsx', 'bench/simulate.ts', '--policy', 'fastest'], {
    encoding: 'utf8',
  });
  t.equal(policy.status, 2);
  t.match(policy.stderr, /--policy must be greedy or batched, got fastest/);
  const kitchen = spawnSync(process.execPath, ['--import', 'tsx', 'bench/simulate.ts', '--kitchen', 'psychic'], {
    encoding: 'utf8',
  });
  t.equal(kitchen.status, 2);
  t.match(kitchen.stderr, /--kitchen must be learned or stated, got psychic/);
  const share = spawnSync(process.execPath, ['--import', 'tsx', 'bench/simulate.ts', '--stack-spare-share', '1.5'], {
    encoding: 'utf8',
  });
  t.equal(share.status, 2);
  t.match(share.stderr, /--stack-spare-share must be in 0\.\.1, got 1\.5/);
});

t.test('npm run dispatch-quality: both policies per seed, a table or JSON, and a chart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const svg = join(dir, 'q.svg');
  const args = ['--import', 'tsx', 'bench/dispatch-quality.ts', '--seeds', '4', '--riders', '150'];
  const small = ['--restaurants', '30', '--orders-per-sec', '0.5', '--duration', '300', '--svg', svg];
  const res = spawnSync(process.execPath, [...args, ...small, '--json'], { encoding: 'utf8' });
  t.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
  t.same(
    out.rows.map((r: { policy: string; seed: number }) => `${r.policy}:${r.seed}`),
    ['greedy:4', 'batched:4'],
  );
  for (const r of out.rows) t.ok(r.delivered > 0 && r.gapPct >= 0, `${r.policy}: delivered ${r.delivered}`);
  t.match(readFileSync(svg, 'utf8'), /^<svg [^>]*>[\s\S]*seed 4: [\d.]+ ÷ [\d.]+ = [\d.]+[\s\S]*<\/svg>\n$/);
  const table = spawnSync(process.execPath, [...args, ...small], { encoding: 'utf8' });
  t.match(table.stdout, /^\| policy \| seed \| delivered .*\n\|---/);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'bench/dispatch-quality.ts', '--seeds', 'x'], {
    encoding: 'utf8',
  });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /--seeds must be integers/);
  for (const [flag, value, message] of [
    ['--policies', 'greedy,fastest', /--policies must name greedy and\/or batched, got greedy,fastest/],
    ['--jobs', '0', /--jobs must be an integer in 1\.\.16, got 0/],
  ] as const) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/dispatch-quality.ts', flag, value], {
      encoding: 'utf8',
    });
    t.equal(r.status, 2, `${flag} ${value}`);
    t.match(r.stderr, message);
  }
});

t.test(
  'npm run dispatch-quality -- --stacking: each policy with and without, the change per policy, in child processes',
  async (t) => {
    const small = [
      '--seeds',
      '4,5',
      '--riders',
      '150',
      '--restaurants',
      '30',
      '--orders-per-sec',
      '0.5',
      '--duration',
      '300',
    ];
    const run = (jobs: string, json: boolean) =>
      spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'bench/dispatch-quality.ts',
          ...small,
          '--policies',
          'batched',
          '--stacking',
          '--jobs',
          jobs,
          ...(json ? ['--json'] : []),
        ],
        { encoding: 'utf8' },
      );
    const res = run('2', true);
    t.equal(res.status, 0, res.stderr);
    const rows = JSON.parse(res.stdout.trim().split('\n').at(-1)!).rows as {
      policy: string;
      stacking: boolean;
      seed: number;
    }[];
    t.same(
      rows.map((r) => `${r.policy}${r.stacking ? '+stacking' : ''}:${r.seed}`),
      ['batched:4', 'batched+stacking:4', 'batched:5', 'batched+stacking:5'],
    );
    const alone = run('1', true);
    // Every figure but the match latency (wall time) is a function of the seed.
    const figures = (rs: Record<string, unknown>[]) => rs.map(({ matchP99Us: _, ...r }) => r);
    t.same(
      figures(JSON.parse(alone.stdout.trim().split('\n').at(-1)!).rows),
      figures(rows),
      'the same figures in one process as in two',
    );
    const table = run('2', false);
    t.match(table.stdout, /\| batched \+ stacking \| 4 \|/);
    t.match(table.stdout, /What stacking changed[\s\S]*\n\| batched \| 2 \| /);
  },
);
