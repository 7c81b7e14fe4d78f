import { spawnSync } from 'node:child_process';
import t from 'tap';
import { SimulatedClock, nullStopwatch } from '../../engine/index.js';
import { defaultSimOptions, Simulation } from '../../bench/sim/simulation.js';

function run(seed: number) {
  const clock = new SimulatedClock();
  const sim = new Simulation(
    { ...defaultSimOptions, riders: 300, restaurants: 30, ordersPerSec: 0.5, seed, radiusKm: 4 },
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
  t.match(out.pickup_distance_m, { mean: Number, p90: Number });
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
});
