/**
 * `npm run bench -- cluster`: the engine as several processes (issue 20's
 * scaling figure). Starts `--engines` engine processes (`npm start -- --role
 * engine`) over the real NATS, Postgres and Redis, sharing `--partitions`
 * partitions, and drives them from this process as a gateway would: commands
 * over NATS request-reply to each partition's owner, events relayed back.
 * The load steps up through `--rates` (orders a second; each order is five
 * commands: place, accept, ready, then the rider's accept, pick-up and
 * delivery) with every rider sending a position each `1 / --positions-hz`
 * seconds. For each step: commands and positions a second answered, command
 * round-trip percentiles, ready-to-offer latency, and the engine processes'
 * CPU per command. The highest step whose command p99 stays within 50 ms is
 * the figure.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats, openLeaseBucket } from '../adapters/cluster/nats-connection.js';
import { ensureDatabase } from '../adapters/postgres/ensure-database.js';
import { serverDatabase } from '../adapters/postgres/server-database.js';
import { ClusterDriver } from './cluster/driver.js';
import { balanced, type EngineProcess, spawnEngine, writeLocalMap } from './cluster/engines.js';
import type { Percentiles } from './hdr.js';

export const defaultClusterBench = {
  engines: 2,
  partitions: 4,
  /** Riders per partition. */
  riders: 50,
  /** Orders a second at each step, comma-separated. */
  rates: '25,50,100,200',
  stepSeconds: 10,
  positionsHz: 1,
  leaseTtlMs: 3_000,
  pgServer: 'postgres://postgres@127.0.0.1:5432',
  redisUrl: 'redis://127.0.0.1:6379',
  nats: '127.0.0.1:4222',
};
export type ClusterBenchOptions = {
  -readonly [K in keyof typeof defaultClusterBench]: (typeof defaultClusterBench)[K];
};

export interface ClusterStep {
  readonly rate: number;
  readonly orders_per_s: number;
  readonly positions_per_s: number;
  readonly commands_per_s: number;
  readonly command_us: Percentiles;
  readonly accept_to_offer_us: Percentiles;
  readonly engine_cpu_us_per_command: number;
  readonly driver_cpu_us_per_command: number;
  readonly refusals: number;
  readonly offers_relayed: number;
  readonly accepted: number;
}

export interface ClusterBenchResult {
  readonly engines: number;
  readonly partitions: number;
  readonly riders: number;
  readonly positions_hz: number;
  readonly steps: readonly ClusterStep[];
  /** The highest step whose command p99 was within 50 ms (null: none). */
  readonly sustained: {
    readonly orders_per_s: number;
    readonly positions_per_s: number;
    readonly commands_per_s: number;
  } | null;
}

const P99_GOAL_US = 50_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runClusterBench(o: ClusterBenchOptions, log: (s: string) => void): Promise<ClusterBenchResult> {
  const rates = o.rates.split(',').map(Number);
  if (rates.some((r) => !(r > 0))) throw new Error(`--rates must be positive numbers, got ${o.rates}`);
  const tag = randomBytes(4).toString('hex');
  const dbName = `bench_cluster_${tag}`;
  const url = `${o.pgServer}/${dbName}`;
  await ensureDatabase(url);
  const dir = await mkdtemp(join(tmpdir(), 'cluster-bench-'));
  const nc = await connectNats({ servers: o.nats, name: 'cluster bench' });
  const bucket = await openLeaseBucket(nc, { bucket: `bench_cluster_${tag}`, ttlMs: o.leaseTtlMs });
  const engines: EngineProcess[] = [];
  const prefix = `bcl${tag}`;
  try {
    const map = await writeLocalMap(join(dir, 'partitions.json'), o.partitions);
    const env = {
      NODE_ENV: 'test',
      DATABASE_URL: url,
      DATABASE_MAX_CONNECTIONS: '4',
      REDIS_URL: o.redisUrl,
      QUEUE_PREFIX: prefix,
      NATS_URL: o.nats,
      CLUSTER_PREFIX: prefix,
      LEASE_BUCKET: bucket.name,
      LEASE_TTL_MS: String(o.leaseTtlMs),
      PARTITION_MAP: join(dir, 'partitions.json'),
      LOG_FORMAT: 'json',
    };
    log(`starting ${o.engines} engine processes over ${o.partitions} partitions`);
    engines.push(...(await Promise.all(Array.from({ length: o.engines }, () => spawnEngine(env)))));
    await balanced(bucket, engines, map.ids);
    const driver = new ClusterDriver({ nc, prefix, map, retryForMs: 5_000 });
    const refused = await driver.setup(o.riders);
    if (refused.length > 0) throw new Error(`setup refused: ${refused.slice(0, 5).join('; ')}`);
    await driver.positionsRound();
    const steps: ClusterStep[] = [];
    for (const rate of rates) {
      const step = await runStep(driver, engines, map.ids, rate, o);
      steps.push(step);
      log(
        `${rate} orders/s: ${step.orders_per_s} orders/s, ${step.positions_per_s} positions/s, ` +
          `command p50 ${(step.command_us.p50 / 1000).toFixed(1)} p99 ${(step.command_us.p99 / 1000).toFixed(1)} ms, ` +
          `engine CPU ${step.engine_cpu_us_per_command} µs per command`,
      );
      if (step.command_us.p99 > P99_GOAL_US) break;
    }
    driver.close();
    log(`events relayed: ${[...driver.relayedTypes].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    const ok = steps.filter((s) => s.command_us.p99 <= P99_GOAL_US).at(-1);
    return {
      engines: o.engines,
      partitions: o.partitions,
      riders: o.riders * o.partitions,
      positions_hz: o.positionsHz,
      steps,
      sustained: ok
        ? { orders_per_s: ok.orders_per_s, positions_per_s: ok.positions_per_s, commands_per_s: ok.commands_per_s }
        : null,
    };
  } finally {
    for (const e of engines) e.child.kill('SIGTERM');
    await Promise.all(engines.map((e) => Promise.race([e.exited, sleep(10_000)])));
    for (const e of engines) e.child.kill('SIGKILL');
    await bucket.destroy().catch(() => {});
    await nc.close();
    await rm(dir, { recursive: true, force: true });
    const admin = serverDatabase(`${o.pgServer}/postgres`, { max: 1 });
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    await admin.close();
  }
}

async function runStep(
  driver: ClusterDriver,
  engines: readonly EngineProcess[],
  partitions: readonly string[],
  rate: number,
  o: ClusterBenchOptions,
): Promise<ClusterStep> {
  await driver.settle();
  driver.resetStats();
  const cpu0 = engines.reduce((s, e) => s + e.cpuMs(), 0);
  const me0 = process.cpuUsage();
  const acks0 = driver.acks.length;
  const offers0 = driver.offersSeen;
  const accepted0 = driver.acceptedBy.size;
  const t0 = performance.now();
  const end = t0 + o.stepSeconds * 1000;
  let positions = 0;
  const posLoop = (async () => {
    while (performance.now() < end) {
      const r0 = performance.now();
      positions += await driver.positionsRound();
      await sleep(Math.max(0, 1000 / o.positionsHz - (performance.now() - r0)));
    }
  })();
  const orders: Promise<boolean>[] = [];
  let i = 0;
  for (let next = t0; next < end; next += 1000 / rate) {
    const wait = next - performance.now();
    if (wait > 1) await sleep(wait);
    orders.push(driver.order(partitions[i++ % partitions.length]!));
  }
  const placed = (await Promise.all(orders)).filter(Boolean).length;
  await posLoop;
  await driver.settle();
  const seconds = (performance.now() - t0) / 1000;
  const commands = driver.acks.length - acks0;
  const engineCpuMs = engines.reduce((s, e) => s + e.cpuMs(), 0) - cpu0;
  const me = process.cpuUsage(me0);
  return {
    rate,
    orders_per_s: round(placed / seconds),
    positions_per_s: round(positions / seconds),
    commands_per_s: round(commands / seconds),
    command_us: driver.commandLatency.summary(),
    accept_to_offer_us: driver.offerLatency.summary(),
    engine_cpu_us_per_command: round((engineCpuMs * 1000) / Math.max(1, commands)),
    driver_cpu_us_per_command: round((me.user + me.system) / Math.max(1, commands)),
    refusals: driver.refusals,
    offers_relayed: driver.offersSeen - offers0,
    accepted: driver.acceptedBy.size - accepted0,
  };
}

const round = (x: number) => Math.round(x * 10) / 10;
