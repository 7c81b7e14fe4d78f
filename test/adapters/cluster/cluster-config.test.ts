import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ClusterConfigError, parseClusterConfig, parseRole } from '../../../adapters/cluster/cluster-config.js';
import { writeLocalMap } from '../../../bench/cluster/engines.js';

/** `npm start -- --role`, and an engine process's variables (docs/scale.md, "Running a cluster"). */

t.test('--role', async (t) => {
  t.equal(parseRole([]), 'all');
  t.equal(parseRole(['--role', 'engine']), 'engine');
  t.equal(parseRole(['--role=all']), 'all');
  t.throws(() => parseRole(['--role', 'boss']), /--role must be one of all, engine, gateway, got "boss"/);
  t.throws(() => parseRole(['--role']), /got ""/);
});

t.test('the cluster variables: defaults, and every problem listed at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cluster-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const mapFile = join(dir, 'map.json');
  const map = await writeLocalMap(mapFile, 3);
  const c = parseClusterConfig({ PARTITION_MAP: mapFile });
  t.match(c, { natsUrl: '127.0.0.1:4222', prefix: 'dispatch', leaseBucket: 'dispatch-leases', leaseTtlMs: 3000 });
  t.same(c.map.ids, map.ids);
  t.equal(c.partitions, undefined);
  t.same(parseClusterConfig({ PARTITION_MAP: mapFile, ENGINE_PARTITIONS: 'p0, p2' }).partitions, ['p0', 'p2']);
  const bad = join(dir, 'bad.json');
  await writeFile(bad, JSON.stringify({ resolution: 6, partitions: { 'Bad Name': [] } }));
  const problems = (env: Record<string, string>) => {
    try {
      parseClusterConfig(env);
      return [];
    } catch (err) {
      if (!(err instanceof ClusterConfigError)) throw err;
      return err.problems;
    }
  };
  t.match(problems({}), [/PARTITION_MAP is required/]);
  t.match(problems({ PARTITION_MAP: bad }), [/PARTITION_MAP .*bad\.json: .*Bad Name/]);
  t.match(problems({ PARTITION_MAP: join(dir, 'none.json') }), [/none\.json: ENOENT/]);
  t.match(
    problems({
      PARTITION_MAP: mapFile,
      LEASE_TTL_MS: '10',
      CLUSTER_PREFIX: 'a.b',
      LEASE_BUCKET: 'x y',
      ENGINE_PARTITIONS: 'p9',
    }),
    [/CLUSTER_PREFIX/, /LEASE_BUCKET/, /LEASE_TTL_MS must be an integer in 500\.\.60000/, /ENGINE_PARTITIONS names p9/],
  );
});

const start = (args: string[], env: Record<string, string>) =>
  new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/server.ts', ...args], {
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => resolve({ code, err }));
  });

t.test('npm start refuses what it cannot run, with exit code 2 and the reason', async (t) => {
  const gateway = await start(['--role', 'gateway'], { LOG_FORMAT: 'json', NODE_ENV: 'test' });
  t.equal(gateway.code, 2);
  t.match(gateway.err, /PARTITION_MAP is required for an engine process or a gateway/);
  const engine = await start(['--role', 'engine'], { LOG_FORMAT: 'json', NODE_ENV: 'test' });
  t.equal(engine.code, 2);
  t.match(engine.err, /PARTITION_MAP is required/);
  const bogus = await start(['--role', 'boss'], { LOG_FORMAT: 'json' });
  t.equal(bogus.code, 2);
  t.match(bogus.err, /--role must be one of/);
});
