import t from 'tap';
import { PERCENTILES, runBench } from './run-bench.js';

// The harness must keep working; how fast anything is gets judged by `npm run bench`, never here. The emulator
// path needs the Auth emulator (started when nothing answers on its port); without it the test fails, never skips.
t.setTimeout(300_000);

const pathShape = {
  n: 50,
  server_cpu_us_per_verify: Number,
  server_user_us_per_verify: Number,
  server_system_us_per_verify: Number,
  wall_us: PERCENTILES,
};

t.test('npm run bench -- identity --quick --json: one verification on both paths', async (t) => {
  const res = await runBench(['identity', '--quick', '--json']);
  t.equal(res.status, 0, 'exits 0', { stderr: res.stderr.slice(-4000) });
  const out = res.last!;
  t.equal(out['scenario'], 'identity');
  t.match(out['machine'], /Node v20/);
  t.match(out['production'], {
    ...pathShape,
    rs256_verify_cpu_us: Number,
    key_fetches: 1,
    cached: { ...pathShape, hits: 50 },
  });
  t.notOk('emulatorSeconds' in out['production']);
  t.match(out['emulator'], { ...pathShape, emulator_pid: Number, emulator_cpu_us_per_verify: Number });
  t.ok(out['production'].server_cpu_us_per_verify > 0 && out['emulator'].server_cpu_us_per_verify > 0);
  t.match(res.stderr, /\[identity\] emulator: imported 60 users/, 'progress lines while running');
});

t.test('--paths production measures that path alone, without the emulator', async (t) => {
  const res = await runBench(['identity', '--quick', '--json', '--paths', 'production']);
  t.equal(res.status, 0, 'exits 0', { stderr: res.stderr.slice(-4000) });
  t.equal(res.last!['emulator'], null);
  t.equal(res.last!['production'].key_fetches, 1, 'the keys were fetched once from the stand-in');
});

t.test('bad identity options are refused with usage', async (t) => {
  for (const args of [
    ['match', '--identity', 'nope'],
    ['baselines', '--identity', 'firebase'],
    ['identity', '--paths', 'nope'],
    ['match', '--identity'],
  ]) {
    const res = await runBench(args);
    t.equal(res.status, 2, args.join(' '));
    t.match(res.stderr, /--identity|--paths/, args.join(' '));
    t.match(res.stderr, /usage: npm run bench/);
  }
});
