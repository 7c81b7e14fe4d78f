import { spawnSync } from 'node:child_process';
import t from 'tap';

// The harness must keep working; how fast anything is gets judged by `npm run bench`, never here.
t.test('npm run bench -- write-behind --quick --json prints every figure with its baseline', async (t) => {
  const res = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'write-behind', '--quick', '--json'], {
    encoding: 'utf8',
  });
  t.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
  for (const k of ['rows_per_s_batched', 'baseline_rows_per_s_single_row', 'start_to_serving_ms', 'recovered_orders'])
    t.type(out[k], 'number', k);
  t.match(out.queue_lag_ms, { p50: Number, p99: Number });
  t.equal(out.queue_jobs_written, out.queue_jobs, 'every queued job was written');
  t.match(out.machine, /Node v20/);
});
