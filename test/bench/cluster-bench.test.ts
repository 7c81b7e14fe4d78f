import t from 'tap';
import { PERCENTILES, runBench } from './run-bench.js';

// The harness must keep working; how fast anything is gets judged by `npm run bench`, never here.
t.setTimeout(180_000);

t.test('npm run bench -- cluster --quick --json: engine processes driven over NATS, one step', async (t) => {
  const res = await runBench(['cluster', '--quick', '--json', '--engines', '2', '--step-seconds', '3']);
  t.equal(res.status, 0, 'exits 0', { stderr: res.stderr.slice(-4000) });
  const out = res.last!;
  t.equal(out['scenario'], 'cluster');
  t.match(out, { engines: 2, partitions: 4, riders: 20, positions_hz: 1 });
  t.equal(out['steps'].length, 1);
  const step = out['steps'][0];
  t.match(step, {
    rate: 5,
    orders_per_s: Number,
    positions_per_s: Number,
    commands_per_s: Number,
    command_us: PERCENTILES,
    accept_to_offer_us: PERCENTILES,
    engine_cpu_us_per_command: Number,
    driver_cpu_us_per_command: Number,
    refusals: 0,
  });
  t.ok(step.orders_per_s > 2, `orders answered: ${step.orders_per_s}/s`);
  t.ok(step.accepted > 0 && step.offers_relayed >= step.accepted, 'offers relayed and accepted');
  t.ok(step.engine_cpu_us_per_command > 0);
  t.match(res.stderr, /\[cluster\] starting 2 engine processes over 4 partitions/);
});

t.test('npm run bench -- cluster refuses more engines than partitions', async (t) => {
  const res = await runBench(['cluster', '--engines', '5', '--partitions', '4']);
  t.not(res.status, 0);
  t.match(res.stderr, /--partitions must be an integer at least --engines/);
});
