import t from 'tap';
import { runBench } from './run-bench.js';

t.test('npm run bench -- memory --quick --json: heap per rider and per active order', async (t) => {
  // --quick sizes what is not given: --orders 800 stands, the riders are --quick's.
  const res = await runBench(['memory', '--quick', '--json', '--orders', '800']);
  t.equal(res.status, 0, 'exits 0', { stderr: res.stderr.slice(-4000) });
  const out = res.last!;
  t.equal(out['scenario'], 'memory');
  for (const k of [
    'heap_bytes_per_online_rider',
    'heap_bytes_per_preparing_order',
    'heap_bytes_per_assigned_order',
    'heap_total_mib',
    'rss_mib',
  ]) {
    t.type(out[k], 'number', k);
    t.ok(out[k] > 0, `${k} is positive`);
  }
  t.equal(out['assigned'], out['orders'], 'every order of the assigned set found a rider');
  t.equal(out['orders'], 800, 'an explicit flag wins over --quick');
  t.equal(out['riders'], 5_000, "the rest is --quick's");
});
