import t from 'tap';
import { BullmqQueue } from '../../../adapters/queue/bullmq-queue.js';
import { checkRedis, RedisConfigError } from '../../../adapters/queue/redis-checks.js';
import { startRedis } from '../../support/redis-server.js';

t.test('an evicting Redis is refused with a clear message', async (t) => {
  const r = await startRedis(t, ['--maxmemory-policy', 'allkeys-lru']);
  await t.rejects(checkRedis(r, { test: true }), RedisConfigError);
  await t.rejects(checkRedis(r, { test: true }), /maxmemory-policy allkeys-lru; the job queue needs noeviction/);
});

t.test('the AOF promise is reported, with a loud warning when off', async (t) => {
  const off = await startRedis(t, ['--maxmemory-policy', 'noeviction', '--appendonly', 'no']);
  const warnings: string[] = [];
  const d = await checkRedis(off, { warn: (m) => warnings.push(m) });
  t.equal(d.aof, 'off');
  t.match(d.promise, /loses every acknowledged event not yet written to Postgres/);
  t.equal(warnings.length, 1, 'warned');
  t.match(warnings[0], /WARNING.*AOF is OFF/);
  const quiet: string[] = [];
  await checkRedis(off, { test: true, warn: (m) => quiet.push(m) });
  t.same(quiet, [], 'no warning when told it is a test');

  const always = await startRedis(t, [
    '--maxmemory-policy',
    'noeviction',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
  ]);
  t.equal((await checkRedis(always)).aof, 'always');
  const everysec = await startRedis(t, [
    '--maxmemory-policy',
    'noeviction',
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
  ]);
  const e = await checkRedis(everysec);
  t.equal(e.aof, 'everysec');
  t.match(e.promise, /up to about a second/);
});

t.test('Redis down: the check and enqueue fail fast, never hang', async (t) => {
  const r = await startRedis(t, ['--maxmemory-policy', 'noeviction']);
  const q = new BullmqQueue<{ n: number }>({ redis: r, name: 'failfast', prefix: 'ff' });
  t.teardown(() => q.close().catch(() => {}));
  await q.enqueue([{ id: 'a.1', data: { n: 1 } }]);
  t.equal((await q.pending()).length, 1, 'works while up');
  await r.kill();
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const err = await q.enqueue([{ id: `b.${i}`, data: { n: i } }]).then(
      () => null,
      (e: unknown) => e,
    );
    const ms = Date.now() - t0;
    t.ok(err, `enqueue ${i} rejected`);
    t.equal((err as { code?: string }).code, 'DEPENDENCY_UNAVAILABLE', 'with the error table code');
    t.ok(ms < 2_500, `in ${ms} ms`);
  }
  const t0 = Date.now();
  const err = await checkRedis(r, { timeoutMs: 1_000 }).then(
    () => null,
    (e: unknown) => e,
  );
  t.equal((err as { code?: string }).code, 'DEPENDENCY_UNAVAILABLE');
  t.ok(Date.now() - t0 < 2_000, 'the boot check fails fast too');
});
