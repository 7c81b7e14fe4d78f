/**
 * `npm run cluster -- [--engines N] [--partitions P] [--map FILE]`: a local
 * cluster on this machine (docs/scale.md, "A local cluster"): N engine
 * processes (`npm start -- --role engine`, default 3) sharing P partitions
 * (default 2 per engine) of a map written to `.dev/cluster/partitions.json`,
 * or the map in FILE. Storage and NATS come from the environment as for any
 * engine process (DATABASE_URL, REDIS_URL, NATS_URL...); unset, the local
 * services: Postgres database `dispatch_cluster`, Redis and NATS on their
 * default ports. Each process's log lines are printed with its name. Ctrl-C
 * (SIGINT) or SIGTERM stops them all cleanly: each gives its leases back.
 * Gateways are not built yet: the cluster answers commands over NATS only.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePartitionMap } from '../engine/index.js';
import { type EngineProcess, spawnEngine, writeLocalMap } from '../bench/cluster/engines.js';
import { parseFlags, UsageError } from '../bench/stats.js';

const USAGE = 'usage: npm run cluster -- [--engines N] [--partitions P] [--map FILE]';

async function main(): Promise<number> {
  let f;
  try {
    f = parseFlags(process.argv.slice(2), { engines: 3, partitions: 0, map: '' });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`cluster: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (!(Number.isInteger(f.engines) && f.engines >= 1 && f.engines <= 32)) {
    console.error(`cluster: --engines must be an integer in 1..32\n${USAGE}`);
    return 2;
  }
  let mapFile = f.map;
  if (mapFile === '') {
    const dir = join('.dev', 'cluster');
    await mkdir(dir, { recursive: true });
    mapFile = join(dir, 'partitions.json');
    const map = await writeLocalMap(mapFile, f.partitions || 2 * f.engines);
    console.log(`cluster: ${map.ids.length} partitions of Bengaluru written to ${mapFile}`);
  } else {
    const { readFile } = await import('node:fs/promises');
    parsePartitionMap(JSON.parse(await readFile(mapFile, 'utf8')));
  }
  const env: Record<string, string> = {
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/dispatch_cluster',
    REDIS_URL: 'redis://127.0.0.1:6379',
    ...(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<string, string>),
    PARTITION_MAP: mapFile,
    // Each process its own operations port (its log says which).
    METRICS_PORT: '0',
    LOG_FORMAT: process.env['LOG_FORMAT'] ?? 'json',
  };
  const engines: EngineProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('cluster: stopping the engine processes (each gives its leases back)');
    for (const e of engines) e.child.kill('SIGTERM');
    await Promise.all(engines.map((e) => e.exited));
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  for (let i = 0; i < f.engines; i++) {
    const name = `engine-${i + 1}`;
    const e = await spawnEngine(env, { onLine: (line) => console.log(`${name} | ${line}`) });
    engines.push(e);
    void e.exited.then((how) => {
      if (!stopping) console.log(`cluster: ${name} (pid ${e.pid}) exited (${how}); the others take its partitions`);
    });
  }
  console.log(
    `cluster: ${engines.length} engine processes (pids ${engines.map((e) => e.pid).join(', ')}); commands on NATS subjects ${env['CLUSTER_PREFIX'] ?? 'dispatch'}.cmd.<partition>`,
  );
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    console.error(`cluster: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
