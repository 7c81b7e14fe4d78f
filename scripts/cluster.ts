/**
 * `npm run cluster -- [--engines N] [--gateways M] [--partitions P] [--map FILE]`:
 * a local cluster on this machine (docs/scale.md, "Running a cluster"): N
 * engine processes (`npm start -- --role engine`, default 3) sharing P
 * partitions (default 2 per engine) of a map written to
 * `.dev/cluster/partitions.json`, or the map in FILE, and M gateways
 * (`npm start -- --role gateway`, default 1) serving the REST API and the
 * sockets on SERVER_PORT (default 8080), SERVER_PORT + 1, and so on. Storage,
 * NATS and Firebase come from the environment as for `npm start`; unset, the
 * local services: Postgres database `dispatch_cluster`, Redis and NATS on
 * their default ports. Each process's log lines are printed with its name.
 * Ctrl-C (SIGINT) or SIGTERM stops them all cleanly: the gateways first, then
 * the engines, each giving its leases back.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePartitionMap } from '../engine/index.js';
import {
  type EngineProcess,
  listeningPort,
  spawnEngine,
  spawnGateway,
  writeLocalMap,
} from '../bench/cluster/engines.js';
import { parseFlags, UsageError } from '../bench/stats.js';

const USAGE = 'usage: npm run cluster -- [--engines N] [--gateways M] [--partitions P] [--map FILE]';

async function main(): Promise<number> {
  let f;
  try {
    f = parseFlags(process.argv.slice(2), { engines: 3, gateways: 1, partitions: 0, map: '' });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`cluster: ${err.message}\n${USAGE}`);
    return 2;
  }
  if (!(Number.isInteger(f.engines) && f.engines >= 1 && f.engines <= 32)) {
    console.error(`cluster: --engines must be an integer in 1..32\n${USAGE}`);
    return 2;
  }
  if (!(Number.isInteger(f.gateways) && f.gateways >= 0 && f.gateways <= 16)) {
    console.error(`cluster: --gateways must be an integer in 0..16\n${USAGE}`);
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
  const gateways: EngineProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('cluster: stopping the gateways, then the engine processes (each gives its leases back)');
    for (const g of gateways) g.child.kill('SIGTERM');
    await Promise.all(gateways.map((g) => g.exited));
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
  const basePort = Number(env['SERVER_PORT'] ?? 8080);
  for (let i = 0; i < f.gateways; i++) {
    const name = `gateway-${i + 1}`;
    // SERVER_PORT=0: each gateway a free port of its own, which its log line says.
    const port = basePort === 0 ? 0 : basePort + i;
    const g = await spawnGateway(
      { ...env, SERVER_PORT: String(port) },
      { onLine: (line) => console.log(`${name} | ${line}`) },
    );
    gateways.push(g);
    void g.exited.then((how) => {
      if (!stopping) console.log(`cluster: ${name} (pid ${g.pid}) exited (${how})`);
    });
  }
  if (gateways.length > 0)
    console.log(
      `cluster: ${gateways.length} gateways on ${gateways.map((g) => `http://127.0.0.1:${listeningPort(g) ?? '?'}`).join(', ')}; any of them serves any client`,
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
