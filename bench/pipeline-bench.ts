/**
 * `npm run bench -- match` and `npm run bench -- baselines`: the whole
 * pipeline, end to end, once per system compared, on the same seeded
 * workload. Three processes per system: this one (orchestration, identities,
 * the stores), the server (bench/pipeline/server.ts: the real server with
 * only candidate finding varied) and the load generator
 * (bench/pipeline/load.ts: riders on real sockets, restaurants and customers
 * over REST). Per system, two phases:
 *
 * 1. ingest: riders streaming, no orders; CPU per applied position of the
 *    server process plus, for a baseline, of its store's own server processes;
 * 2. match: orders arriving with lunch and dinner peaks; end-to-end latency
 *    from the confirming PUT to the offer frame at the rider's socket (load
 *    generator's clock), the engine's own histogram, the store's lookups.
 *
 * Persistence is on, as `npm start` runs it: Postgres (a fresh database on
 * the machine's server, dropped after) behind BullMQ (the machine's Redis,
 * a unique prefix). The baselines' stores are servers of the run's own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_IDENTITY_CACHE_SIZE } from '../adapters/identity/caching-identity.js';
import { dropDatabase } from '../adapters/postgres/ensure-database.js';
import { parseRedisUrl } from '../adapters/queue/redis-url.js';
import { Redis } from 'ioredis';
import { openTokenSource, type IdentityPath, type ServerIdentity } from './identity/bench-identity.js';
import { LatencyHistogram, type Percentiles } from './hdr.js';
import { riderSpecs } from './ingest/tokens.js';
import type { Identities, LoadCmd, LoadConfig, LoadMsg } from './pipeline/load.js';
import type { ParentMsg, ServerArgs, ServerMsg } from './pipeline/server.js';
import type { System } from './pipeline/systems.js';
import {
  databaseDelta,
  databaseSampler,
  databaseUrl,
  ownPostgis,
  ownRedis,
  processCpuSeconds,
  serviceCounts,
  sharedServiceCpu,
  statementSampler,
  statementsPerOrder,
  type StatementPerOrder,
  type OwnStore,
} from './pipeline/stores.js';
import { stageBudget, type StageBudget } from '../adapters/observability/stage-profiler.js';
import { planWorkload } from './workload.js';

export const defaultPipelineBench = {
  riders: 20_000,
  restaurants: 200,
  customers: 100,
  rate: 500,
  seconds: 60,
  warmup: 5,
  ingestSeconds: 10,
  interval: 4,
  jobSeconds: 10,
  k: 16,
  seed: 1,
  radiusKm: 10,
  /** `production`: RS256 tokens verified against locally served keys; `emulator`: the Auth emulator. */
  identity: 'production' as string,
  /** `on`: the server runs the stage profiler and the result carries the per-order budget; `off`: no profiler. */
  stages: 'on' as string,
  /** The server's Postgres driver (`DATABASE_DRIVER`): `postgres-js` (the default) or `pg`. */
  sql: 'postgres-js' as string,
  /** The server's `IDENTITY_CACHE_SIZE`: verified principals kept (production's default); 0 verifies every request. */
  identityCache: DEFAULT_IDENTITY_CACHE_SIZE,
};
export type PipelineFlags = typeof defaultPipelineBench;
export const quickPipelineBench: Partial<PipelineFlags> = {
  riders: 300,
  restaurants: 20,
  customers: 10,
  rate: 20,
  seconds: 3,
  warmup: 1,
  ingestSeconds: 1,
  interval: 1,
  jobSeconds: 1,
};

/**
 * The Postgres server of the runs' databases: a URL without a database; libpq's `?host=<dir>` reaches
 * it through its Unix socket (`postgres://postgres@/?host=/var/run/postgresql`).
 */
const PG_SERVER = process.env['BENCH_PG_SERVER'] ?? 'postgres://postgres@127.0.0.1:5432';
/** Each run's own database. */
const dbName = (run: string, system: System): string => `bench_${process.pid}_${run}_${system.replace('-', '_')}`;
const REDIS_URL = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export interface SystemResult {
  system: System;
  ingest_us_per_position: number;
  ingest: {
    positions: number;
    positions_per_s: number;
    server_cpu_s: number;
    store_cpu_s: number | null;
    server_us_per_position: number;
    store_us_per_position: number | null;
  };
  /** End to end: the confirming PUT sent → the offer frame at the rider's socket. */
  match_latency_us: Percentiles;
  match_latency_curve: [number, number][];
  /** The confirming PUT's own round trip (the REST acknowledgement). */
  rest_ack_us: Percentiles;
  /** Inside the engine: dispatchable → offer event (with a baseline, the store's answer → offer event). */
  engine_match_us: Percentiles;
  engine_match_curve: [number, number][];
  /** A baseline's nearest-k lookup, request to answer (server side). */
  lookup_us: Percentiles | null;
  orders: {
    planned: number;
    placed: number;
    confirmed: number;
    offers: number;
    unmatched: number;
    measured: number;
    offers_before_ack: number;
  };
  rest_errors: Record<string, number>;
  rider_errors: Record<string, number>;
  bridge: Record<string, number> | null;
  store_write_errors: number;
  connections: number;
  failed_connects: number;
  server_rss_mb: number;
  load_lag_ms_max: number;
  /**
   * CPU of the match window (after the warm-up) per measured order, by
   * process: the server, the load generator, and the machine's Postgres and
   * Redis that persistence runs on (null where they are not local). All share
   * the two cores, so their sum per order is what bounds the rate the machine
   * can take.
   */
  match_cpu: {
    orders: number;
    seconds: number;
    server_s: number;
    load_s: number;
    postgres_s: number | null;
    redis_s: number | null;
    per_order_us: {
      server: number | null;
      load: number | null;
      postgres: number | null;
      redis: number | null;
      total: number | null;
    };
    /**
     * The Postgres backends serving the server's own database (its pool): CPU
     * (/proc), TCP data segments received (`ss`: the driver's sends, so
     * pipelined statements share one) and transactions (pg_stat_database), per
     * order. Null when not on this machine.
     */
    database: {
      driver: string;
      backends: number;
      backends_ended: number;
      cpu_s: number;
      per_order: { cpu_us: number; segments_in: number; xacts: number };
    } | null;
  };
  /**
   * Issue 19's budget of the server's CPU per order in the match window, by stage
   * (adapters/observability/stage-profiler.ts): CPU lines add up to the server's total;
   * wall lines (`*_wait`) are round trips, apart. Null with `--stages off`.
   */
  stages: StageBudget['stages'] | null;
  stage_totals: {
    total_cpu_ms_per_order: number;
    sum_cpu_ms_per_order: number;
    main_thread_cpu_ms_per_order: number | null;
    /** Share of the match window the server's event loop was busy. */
    loop_busy: number;
  } | null;
  /**
   * Per measured order in the match window: Redis commands (INFO commandstats of the whole shared
   * server, so other clients' commands count too; the five most frequent beside) and Postgres
   * transactions of the run's own database (each autocommitted statement is one).
   */
  per_order_counts: {
    redis_commands: number | null;
    redis_top: Record<string, number> | null;
    postgres_xacts: number | null;
  };
  /**
   * Per measured order, the costliest statements of the run's database by Postgres's execution time
   * (pg_stat_statements: calls, execution µs, WAL bytes); null when the server does not load the
   * module (docs/benchmarks.md, "Postgres statement by statement").
   */
  postgres_statements: StatementPerOrder[] | null;
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const RAISE_NOFILE = 'ulimit -n 262144 2>/dev/null || ulimit -n "$(ulimit -Hn)"';
/**
 * A Node child with an IPC channel, started through `sh` to raise its open-file limit first: 20k rider
 * sockets plus database connections need more than the usual 20k (raising the hard limit needs root;
 * otherwise the soft limit goes up to the hard one).
 */
const child = (file: string, arg: string): ChildProcess =>
  spawn(
    'sh',
    ['-c', `${RAISE_NOFILE}; exec "$@"`, 'sh', process.execPath, '--import', 'tsx', ...profile(file), here(file), arg],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
/** `BENCH_CPU_PROF=<dir>` writes a V8 CPU profile of each server process there. */
const profile = (file: string) => {
  const dir = process.env['BENCH_CPU_PROF'];
  return dir && file.includes('server') ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
};
/** Whether the child has ended, by an exit code or a signal. */
const hasExited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
/** Sends unless the child is gone (its exit is reported where it is awaited). */
const tell = (c: ChildProcess | undefined, m: unknown) => {
  if (c?.connected) c.send(m as never);
};
/**
 * The child's next message of `type`; rejects when the child exits first, or has already exited
 * (a server that died while the load generator was connecting left the run waiting for ever), with
 * the exit code or the signal that ended it.
 */
export const nextMsg = <T extends { type: string }>(
  c: ChildProcess,
  type: T['type'],
  onOther?: (m: { type: string }) => void,
): Promise<T> =>
  new Promise((resolve, reject) => {
    const gone = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`waiting for ${type}: child exited with ${code ?? signal}`));
    if (hasExited(c)) {
      gone(c.exitCode, c.signalCode);
      return;
    }
    const on = (m: T) => {
      if (m.type !== type) return onOther?.(m);
      c.off('message', on);
      c.off('exit', gone);
      resolve(m);
    };
    c.on('message', on);
    c.once('exit', gone);
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (c: ChildProcess | undefined) =>
  c === undefined || hasExited(c) ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()));
const r2 = (x: number) => Number(x.toFixed(2));
const r3 = (x: number) => Number(x.toFixed(3));

/** Redis commands and Postgres transactions of a window, per order. */
function countsPerOrder(
  a: Awaited<ReturnType<typeof serviceCounts>>,
  b: Awaited<ReturnType<typeof serviceCounts>>,
  orders: number,
): SystemResult['per_order_counts'] {
  const per = (n: number) => (orders > 0 ? r2(n / orders) : 0);
  let redis: number | null = null;
  let top: Record<string, number> | null = null;
  if (a.redisCommands && b.redisCommands) {
    const delta = Object.entries(b.redisCommands).map(([k, n]): [string, number] => [
      k,
      n - (a.redisCommands![k] ?? 0),
    ]);
    redis = per(delta.reduce((s, [, n]) => s + n, 0));
    top = Object.fromEntries(
      delta
        .sort((x, y) => y[1] - x[1])
        .slice(0, 5)
        .map(([k, n]) => [k, per(n)]),
    );
  }
  const pg = a.postgresXacts !== null && b.postgresXacts !== null ? per(b.postgresXacts - a.postgresXacts) : null;
  return { redis_commands: redis, redis_top: top, postgres_xacts: pg };
}

/** The open-file limit a child gets (after trying to raise it): every rider is a socket in the server and in the load generator. */
export function childFileLimit(): number {
  try {
    return (
      Number(
        execFileSync('sh', ['-c', `${RAISE_NOFILE}; ulimit -n`])
          .toString()
          .trim(),
      ) || Infinity
    );
  } catch {
    return Infinity;
  }
}
/** Descriptors a server or load generator needs besides rider sockets (listen, epoll, databases, REST keep-alive sockets, stdio). */
const FD_HEADROOM = 400;

export async function runPipelineBench(
  f: PipelineFlags,
  systems: readonly System[],
  log: (s: string) => void,
): Promise<{
  flags: PipelineFlags;
  systems: Partial<Record<System, SystemResult>>;
  orders_planned: number;
  peak_rate: number;
  mean_rate: number;
  riders_asked: number;
  fd_limit: number | null;
}> {
  const asked = f.riders;
  const fdLimit = childFileLimit();
  if (f.riders + FD_HEADROOM > fdLimit) {
    f = { ...f, riders: fdLimit - FD_HEADROOM };
    log(
      `the open-file limit is ${fdLimit} per process and cannot be raised here: ${f.riders} riders instead of ${asked}`,
    );
  }
  const teardowns: (() => unknown)[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'pipeline-bench-'));
  const stores: Partial<Record<System, OwnStore>> = {};
  try {
    const tokens = await openTokenSource(f.identity as IdentityPath);
    teardowns.push(() => tokens.close());
    log(`identity: the ${tokens.path} path`);
    const run = randomBytes(3).toString('hex');
    const restaurantIds = Array.from({ length: f.restaurants }, (_, i) => `br-${run}-${i}`);
    const ids: Identities = {
      riders: await tokens.mint(riderSpecs(f.riders), (s) => log(`riders: ${s}`)),
      restaurants: (
        await tokens.mint(
          restaurantIds.map((id) => ({ uid: `${id}-owner`, claims: { role: 'restaurant', restaurant_id: id } })),
          (s) => log(`restaurants: ${s}`),
        )
      ).map((token, i) => ({ id: restaurantIds[i]!, token })),
      customers: await tokens.mint(
        Array.from({ length: f.customers }, (_, i) => ({ uid: `bc-${run}-${i}`, claims: { role: 'customer' } })),
        (s) => log(`customers: ${s}`),
      ),
    };
    const identitiesFile = join(dir, 'identities.json');
    writeFileSync(identitiesFile, JSON.stringify(ids));
    if (systems.includes('redis-geo')) stores['redis-geo'] = await ownRedis();
    if (systems.includes('postgis')) stores.postgis = await ownPostgis();
    for (const s of Object.values(stores)) teardowns.push(() => s.stop());

    const workload = {
      riders: f.riders,
      restaurants: f.restaurants,
      rate: f.rate,
      seconds: f.seconds,
      seed: f.seed,
      radiusKm: f.radiusKm,
    };
    const planned = planWorkload(workload).orders.length;
    const shared = await sharedServiceCpu(PG_SERVER, REDIS_URL);
    const out: Partial<Record<System, SystemResult>> = {};
    for (const system of systems) {
      out[system] = await runSystem(system, f, {
        workload,
        identitiesFile,
        store: stores[system],
        shared,
        run,
        identity: tokens.server,
        log: (s) => log(`${system}: ${s}`),
      });
    }
    return {
      flags: f,
      systems: out,
      orders_planned: planned,
      peak_rate: f.rate,
      mean_rate: r2(planned / f.seconds),
      riders_asked: asked,
      fd_limit: Number.isFinite(fdLimit) ? fdLimit : null,
    };
  } finally {
    for (const t of teardowns.reverse()) await Promise.resolve(t()).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

async function runSystem(
  system: System,
  f: PipelineFlags,
  o: {
    workload: LoadConfig['workload'];
    identitiesFile: string;
    store: OwnStore | undefined;
    run: string;
    identity: ServerIdentity;
    shared: Awaited<ReturnType<typeof sharedServiceCpu>>;
    log: (s: string) => void;
  },
): Promise<SystemResult> {
  const dbUrl = databaseUrl(PG_SERVER, dbName(o.run, system));
  const queuePrefix = `bench${process.pid}${o.run}${system.replace('-', '')}`;
  const args: ServerArgs = {
    system,
    k: f.k,
    stages: f.stages !== 'off',
    identity: o.identity,
    ...(o.store ? { storeUrl: o.store.url } : {}),
    env: {
      NODE_ENV: 'test',
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: '0',
      DATABASE_URL: dbUrl,
      DATABASE_DRIVER: f.sql,
      IDENTITY_CACHE_SIZE: String(f.identityCache),
      REDIS_URL,
      QUEUE_PREFIX: queuePrefix,
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      // One load generator speaks for every customer and restaurant from one address.
      REST_RATE_PER_S: '1000000',
      REST_RATE_BURST: '1000000',
    },
  };
  let server: ChildProcess | undefined;
  let load: ChildProcess | undefined;
  try {
    server = child('./pipeline/server.ts', JSON.stringify(args));
    const { port } = await nextMsg<Extract<ServerMsg, { type: 'ready' }>>(server, 'ready');
    const cfg: LoadConfig = {
      base: `http://127.0.0.1:${port}`,
      identitiesFile: o.identitiesFile,
      workload: o.workload,
      intervalS: f.interval,
      jobS: f.jobSeconds,
      maxSockets: 256,
    };
    load = child('./pipeline/load.ts', JSON.stringify(cfg));
    const cmd = (m: LoadCmd) => tell(load, m);
    const toServer = (m: ParentMsg) => tell(server, m);

    cmd({ type: 'seed' });
    const seeded = await nextMsg<Extract<LoadMsg, { type: 'seeded' }>>(load, 'seeded');
    o.log(
      `server on port ${port}; ${seeded.restaurants} restaurants registered over REST in ${seeded.s} s; connecting ${f.riders} riders`,
    );
    cmd({ type: 'connect' });
    const connected = await nextMsg<Extract<LoadMsg, { type: 'connected' }>>(load, 'connected');
    o.log(
      `${connected.connections} riders connected (${connected.failed} failed) in ${connected.s} s; streaming every ${f.interval} s`,
    );
    cmd({ type: 'stream' });
    // One full reporting interval, so every rider has a position before anything is measured.
    await sleep(f.interval * 1000 + 500);

    // Phase 1: ingest.
    const storeCpu0 = o.store?.cpuSeconds() ?? 0;
    toServer({ type: 'start' });
    await sleep(f.ingestSeconds * 1000);
    const ingestWindow = nextMsg<Extract<ServerMsg, { type: 'window' }>>(server, 'window');
    toServer({ type: 'stop' });
    const iw = await ingestWindow;
    const storeCpu = o.store ? o.store.cpuSeconds() - storeCpu0 : null;
    const serverUs = iw.positions > 0 ? (iw.cpu_s * 1e6) / iw.positions : NaN;
    const storeUs = storeCpu !== null && iw.positions > 0 ? (storeCpu * 1e6) / iw.positions : null;
    o.log(
      `ingest: ${iw.positions} positions in ${f.ingestSeconds} s, ${serverUs.toFixed(2)} µs server CPU each${storeUs !== null ? ` + ${storeUs.toFixed(2)} µs in the store` : ''}`,
    );

    // Phase 2: orders. The server's histograms and CPU window start after the warm-up.
    let last = 0;
    const done = nextMsg<Extract<LoadMsg, { type: 'orders_done' }>>(load, 'orders_done', (m) => {
      // The callback sees every message while it waits; only progress lines are logged.
      const p = m as LoadMsg;
      if (p.type !== 'progress' || performance.now() - last < 2_000) return;
      last = performance.now();
      o.log(`orders ${p.sent}/${p.planned} sent, ${p.offers} offers, end-to-end p99 so far ${Math.round(p.p99_us)} µs`);
    });
    cmd({ type: 'orders', warmupS: f.warmup });
    await sleep(f.warmup * 1000);
    const others = () => ({
      load: processCpuSeconds(load!.pid!),
      postgres: o.shared.postgres?.() ?? null,
      redis: o.shared.redis?.() ?? null,
    });
    const database = dbName(o.run, system);
    const counts0 = await serviceCounts(PG_SERVER, database, REDIS_URL);
    const sampler = await databaseSampler(PG_SERVER, database).catch(() => undefined);
    const statements = await statementSampler(PG_SERVER, database).catch(() => null);
    const st0 = await statements?.sample().catch(() => undefined);
    const db0 = await sampler?.sample();
    const cpu0 = others();
    const w0 = performance.now();
    toServer({ type: 'start' });
    const d = await done;
    const matchWindow = nextMsg<Extract<ServerMsg, { type: 'window' }>>(server, 'window');
    toServer({ type: 'stop' });
    const cpu1 = others();
    const db1 = await sampler?.sample();
    await sampler?.close().catch(() => {});
    const st1 = await statements?.sample().catch(() => undefined);
    await statements?.close().catch(() => {});
    const dbUsed = db0 && db1 ? databaseDelta(db0, db1) : undefined;
    const windowS = (performance.now() - w0) / 1000;
    const mw = await matchWindow;
    const counts1 = await serviceCounts(PG_SERVER, database, REDIS_URL);
    const less = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);
    const used = {
      server: mw.cpu_s,
      load: cpu1.load - cpu0.load,
      postgres: less(cpu1.postgres, cpu0.postgres),
      redis: less(cpu1.redis, cpu0.redis),
    };
    const perOrder = (s: number | null) => (s === null || d.measured === 0 ? null : Math.round((s * 1e6) / d.measured));
    const budget =
      mw.stages === null
        ? null
        : stageBudget(mw.stages, {
            totalCpuUs: mw.cpu_s * 1e6,
            mainThreadCpuUs: mw.main_thread_cpu_s === null ? null : mw.main_thread_cpu_s * 1e6,
            orders: d.measured,
          });
    const mainS = mw.main_thread_cpu_s;
    const mainMs = mainS === null || d.measured === 0 ? null : r3((mainS * 1000) / d.measured);
    const match = LatencyHistogram.decode(d.match);
    const engineMatch = LatencyHistogram.decode(mw.engine_match);
    const res: SystemResult = {
      system,
      ingest_us_per_position: r2(serverUs + (storeUs ?? 0)),
      ingest: {
        positions: iw.positions,
        positions_per_s: Math.round(iw.positions / f.ingestSeconds),
        server_cpu_s: r2(iw.cpu_s),
        store_cpu_s: storeCpu === null ? null : r2(storeCpu),
        server_us_per_position: r2(serverUs),
        store_us_per_position: storeUs === null ? null : r2(storeUs),
      },
      match_latency_us: match.summary(),
      match_latency_curve: match.curve(),
      rest_ack_us: LatencyHistogram.decode(d.ack).summary(),
      engine_match_us: engineMatch.summary(),
      engine_match_curve: engineMatch.curve(),
      lookup_us: system === 'engine' ? null : LatencyHistogram.decode(mw.lookup).summary(),
      orders: {
        planned: d.planned,
        placed: d.placed,
        confirmed: d.confirmed,
        offers: d.offers,
        unmatched: d.unmatched,
        measured: d.measured,
        offers_before_ack: d.offers_before_ack,
      },
      rest_errors: d.rest_errors,
      rider_errors: d.rider_errors,
      bridge: mw.bridge,
      store_write_errors: mw.store_write_errors,
      connections: connected.connections,
      failed_connects: connected.failed,
      server_rss_mb: mw.rss_mb,
      load_lag_ms_max: d.lag_ms_max,
      match_cpu: {
        orders: d.measured,
        seconds: r2(windowS),
        server_s: r2(used.server),
        load_s: r2(used.load),
        postgres_s: used.postgres === null ? null : r2(used.postgres),
        redis_s: used.redis === null ? null : r2(used.redis),
        per_order_us: {
          server: perOrder(used.server),
          load: perOrder(used.load),
          postgres: perOrder(used.postgres),
          redis: perOrder(used.redis),
          total: perOrder(used.server + used.load + (used.postgres ?? 0) + (used.redis ?? 0)),
        },
        database:
          dbUsed === undefined || d.measured === 0
            ? null
            : {
                driver: f.sql,
                backends: dbUsed.backends,
                backends_ended: dbUsed.ended,
                cpu_s: r2(dbUsed.cpu_s),
                per_order: {
                  cpu_us: Math.round((dbUsed.cpu_s * 1e6) / d.measured),
                  segments_in: r2(dbUsed.segs_in / d.measured),
                  xacts: r2(dbUsed.xacts / d.measured),
                },
              },
      },
      stages: budget?.stages ?? null,
      stage_totals: budget
        ? {
            total_cpu_ms_per_order: budget.total_cpu_ms_per_order,
            sum_cpu_ms_per_order: budget.sum_cpu_ms_per_order,
            main_thread_cpu_ms_per_order: mainMs,
            loop_busy: mw.loop_busy,
          }
        : null,
      per_order_counts: countsPerOrder(counts0, counts1, d.measured),
      postgres_statements: st0 && st1 ? statementsPerOrder(st0, st1, d.measured) : null,
    };
    o.log(
      `match: ${d.confirmed}/${d.planned} orders confirmed, ${d.offers} offers; end to end p50 ${res.match_latency_us.p50} p99 ${res.match_latency_us.p99} p99.9 ${res.match_latency_us.p999} µs; engine p99 ${res.engine_match_us.p99} µs; CPU per order ${JSON.stringify(res.match_cpu.per_order_us)} µs`,
    );
    o.log(`match: its database (${f.sql}) per order ${JSON.stringify(res.match_cpu.database?.per_order ?? null)}`);
    return res;
  } finally {
    tell(load, { type: 'exit' } satisfies LoadCmd);
    tell(server, { type: 'exit' } satisfies ParentMsg);
    await Promise.race([Promise.all([exited(load), exited(server)]), sleep(8_000)]);
    load?.kill();
    server?.kill();
    await dropDatabase(dbUrl).catch(() => {});
    await dropKeys(REDIS_URL, `${queuePrefix}:*`).catch(() => {});
  }
}

/** Deletes this run's BullMQ keys from the shared Redis. */
async function dropKeys(url: string, pattern: string): Promise<void> {
  const redis = new Redis({ ...parseRedisUrl(url), maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
