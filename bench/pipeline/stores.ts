/**
 * The baselines' stores, each a server of the run's own: a redis-server and a
 * Postgres cluster with PostGIS, started on free ports and removed at the end.
 * Own processes, not the machine's shared ones, for two reasons: their CPU
 * can be measured (it is part of what a position costs a team that stores
 * positions there), and other suites on the shared servers neither disturb
 * the figures nor get disturbed by them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { parseRedisUrl } from '../../adapters/queue/redis-url.js';
import { startPostgres } from '../../test/support/pg-server.js';
import { startRedis } from '../../test/support/redis-server.js';

export interface OwnStore {
  /** Connection URL (for Postgres, of the run's database, where PostGIS is installed). */
  readonly url: string;
  /** CPU seconds used so far by the store's processes (the server and, for Postgres, its backends). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

type Teardowns = (() => unknown)[];
const collector = (list: Teardowns) => ({ teardown: (fn: () => unknown) => void list.push(fn) });
const runAll = async (list: Teardowns) => {
  for (const fn of list.reverse()) await fn();
};

/** A redis-server without persistence (positions are ephemeral: the baseline's most favourable setting). */
export async function ownRedis(): Promise<OwnStore> {
  const teardowns: Teardowns = [];
  const r = await startRedis(collector(teardowns), ['--appendonly', 'no']);
  const pid = r.process.pid!;
  return { url: `redis://127.0.0.1:${r.port}`, cpuSeconds: () => treeCpuSeconds(pid), stop: () => runAll(teardowns) };
}

/** A Postgres 15 cluster (fsync off) with a database `bench` where PostGIS is created; fails loudly without PostGIS. */
export async function ownPostgis(): Promise<OwnStore> {
  const teardowns: Teardowns = [];
  const cluster = await startPostgres(collector(teardowns));
  const admin = new pg.Client({ connectionString: cluster.url('postgres') });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE bench');
    // A backend's parent is the postmaster.
    const backend = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const pid = parentPid(backend);
    const url = cluster.url('bench');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('CREATE EXTENSION postgis');
    } catch (err) {
      throw new Error(
        `PostGIS is not installed for Postgres 15 (./dev setup installs postgresql-15-postgis-3): ${(err as Error).message}`,
      );
    } finally {
      await c.end();
    }
    return { url, cpuSeconds: () => treeCpuSeconds(pid), stop: () => runAll(teardowns) };
  } catch (err) {
    await runAll(teardowns);
    throw err;
  } finally {
    await admin.end();
  }
}

const TICK_S = (() => {
  try {
    return 1 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  } catch {
    return 0.01;
  }
})();

/** CPU seconds (user + system, all threads) of a process from /proc. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_S;
  } catch {
    return 0;
  }
}

function parentPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** CPU seconds of a process and its direct children (a postmaster and its backends). */
export function treeCpuSeconds(pid: number): number {
  let total = processCpuSeconds(pid);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) total += processCpuSeconds(Number(name));
    } catch {
      /* gone */
    }
  }
  return total;
}

/**
 * The URL of database `name` on the Postgres server `server` names (a URL without a database, as
 * `BENCH_PG_SERVER`): the name goes in the path, before any query, so a server reached by its Unix
 * socket (`postgres://postgres@/?host=/var/run/postgresql`, libpq's form) keeps its `host`.
 */
export function databaseUrl(server: string, name: string): string {
  const q = server.indexOf('?');
  const base = (q < 0 ? server : server.slice(0, q)).replace(/\/$/, '');
  return `${base}/${encodeURIComponent(name)}${q < 0 ? '' : server.slice(q)}`;
}

/**
 * The machine's own Postgres and Redis, the ones persistence runs on, found
 * through their own protocols (Postgres's data directory holds the
 * postmaster's pid; Redis's INFO names its process), so their CPU during a
 * window can be charged to the orders of that window. Null for a server this
 * machine cannot see in /proc (a remote one).
 */
export async function sharedServiceCpu(
  pgUrl: string,
  redisUrl: string,
): Promise<{ postgres: (() => number) | null; redis: (() => number) | null }> {
  const local = (pid: number | undefined) =>
    pid !== undefined && Number.isInteger(pid) && existsSync(`/proc/${pid}/stat`) ? () => treeCpuSeconds(pid) : null;
  let pgPid: number | undefined;
  const client = new pg.Client({ connectionString: databaseUrl(pgUrl, 'postgres') });
  try {
    await client.connect();
    const dir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
    pgPid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    /* not readable here */
  } finally {
    await client.end().catch(() => {});
  }
  let redisPid: number | undefined;
  const redis = new Redis({ ...parseRedisUrl(redisUrl), maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  } catch {
    /* not reachable */
  } finally {
    redis.disconnect();
  }
  return { postgres: local(pgPid), redis: local(redisPid) };
}

/**
 * Counts of the shared servers persistence runs on, read before and after a window: Redis
 * commands (INFO commandstats, the whole server: every client of it counts) and the
 * transactions of one database (pg_stat_database; a fresh database per run, so only the
 * server's). Postgres publishes a backend's counts at most once a second, so a window's
 * figure is good to a second's worth.
 */
export async function serviceCounts(
  pgUrl: string,
  database: string,
  redisUrl: string,
): Promise<{ redisCommands: Record<string, number> | null; postgresXacts: number | null }> {
  let redisCommands: Record<string, number> | null = null;
  const redis = new Redis({ ...parseRedisUrl(redisUrl), maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    redisCommands = {};
    for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
      redisCommands[m[1]!] = Number(m[2]);
  } catch {
    /* not reachable: null */
  } finally {
    redis.disconnect();
  }
  let postgresXacts: number | null = null;
  const client = new pg.Client({ connectionString: databaseUrl(pgUrl, 'postgres') });
  try {
    await client.connect();
    const { rows } = await client.query<{ n: string | null }>(
      'SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = $1',
      [database],
    );
    postgresXacts = rows[0]?.n == null ? null : Number(rows[0].n);
  } catch {
    /* not reachable: null */
  } finally {
    await client.end().catch(() => {});
  }
  return { redisCommands, postgresXacts };
}

/** What the backends of one database have done so far: CPU, TCP data segments, transactions. */
export interface DatabaseSample {
  readonly backends: ReadonlyMap<number, { readonly cpu: number; readonly segsIn: number }>;
  readonly xacts: number;
}

/**
 * Data segments each Postgres backend has received on its TCP connection
 * (`ss -ti`, by backend pid). On loopback a segment is one write of the
 * client's, so this counts the client's sends: a driver that pipelines puts
 * several statements in one. Empty when `ss` is missing.
 */
function segmentsIn(port: string): Map<number, number> {
  const out = new Map<number, number>();
  let text = '';
  try {
    text = execFileSync('ss', ['-tinpH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  } catch {
    return out;
  }
  let pid: number | undefined;
  for (const line of text.split('\n')) {
    const p = /pid=(\d+)/.exec(line);
    if (p) pid = Number(p[1]);
    const seg = /data_segs_in:(\d+)/.exec(line);
    if (seg && pid !== undefined) out.set(pid, (out.get(pid) ?? 0) + Number(seg[1]));
  }
  return out;
}

/**
 * A sampler of the Postgres backends serving one database (by pg_stat_activity):
 * each one's CPU from /proc and the data segments its connection received, and
 * the database's committed and rolled-back transactions (pg_stat_database,
 * which backends flush about once a second, so a window's count is off by up
 * to a second's worth).
 */
export async function databaseSampler(
  pgUrl: string,
  db: string,
): Promise<{ sample(): Promise<DatabaseSample>; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: databaseUrl(pgUrl, 'postgres'), application_name: 'bench-sampler' });
  await client.connect();
  // A Unix socket has no TCP segments to count: `segs_in` is then 0.
  const port = /^[a-z]+:\/\/[^/?]*:(\d+)/.exec(pgUrl)?.[1] ?? '5432';
  return {
    async sample() {
      const activity = 'SELECT pid FROM pg_stat_activity WHERE datname = $1';
      const { rows } = await client.query<{ pid: number }>(activity, [db]);
      const segs = segmentsIn(port);
      const backends = new Map<number, { cpu: number; segsIn: number }>();
      for (const r of rows) backends.set(r.pid, { cpu: processCpuSeconds(r.pid), segsIn: segs.get(r.pid) ?? 0 });
      const x = await client.query<{ n: string }>(
        'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1',
        [db],
      );
      return { backends, xacts: Number(x.rows[0]?.n ?? 0) };
    },
    close: () => client.end(),
  };
}

/** One statement's totals so far, from pg_stat_statements. */
export interface StatementTotals {
  readonly query: string;
  readonly calls: number;
  readonly execMs: number;
  readonly walBytes: number;
}

/**
 * A sampler of what each statement of one database has cost Postgres (pg_stat_statements: calls,
 * execution time, WAL bytes), by query id. Null when the server does not load the module
 * (`shared_preload_libraries`), as Debian's default does not: the view then does not exist. The
 * extension is created in the run's own database, which is dropped after the run; the view lists
 * every database's statements, so the sampler keeps this database's.
 */
export async function statementSampler(
  pgUrl: string,
  db: string,
): Promise<{ sample(): Promise<Map<string, StatementTotals>>; close(): Promise<void> } | null> {
  const client = new pg.Client({ connectionString: databaseUrl(pgUrl, db), application_name: 'bench-statements' });
  await client.connect();
  try {
    const loaded = await client.query<{ on: boolean }>(
      "SELECT 'pg_stat_statements' = ANY(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) AS on",
    );
    if (!loaded.rows[0]?.on) {
      await client.end();
      return null;
    }
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return {
    async sample() {
      const { rows } = await client.query<{ id: string; query: string; calls: string; ms: number; wal: string }>(
        // Not this sampler's own reads, which run in the same database.
        `SELECT s.queryid::text AS id, left(regexp_replace(s.query, '[[:space:]]+', ' ', 'g'), 120) AS query,
                s.calls::text AS calls, s.total_exec_time AS ms, s.wal_bytes::text AS wal
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = $1 AND s.query NOT LIKE '%FROM pg_stat_statements s%'`,
        [db],
      );
      const out = new Map<string, StatementTotals>();
      for (const r of rows)
        out.set(r.id, { query: r.query, calls: Number(r.calls), execMs: Number(r.ms), walBytes: Number(r.wal) });
      return out;
    },
    close: () => client.end(),
  };
}

/** A statement's cost per order between two samples. */
export interface StatementPerOrder {
  readonly query: string;
  readonly calls: number;
  readonly exec_us: number;
  readonly wal_bytes: number;
}

/**
 * Each statement's calls, execution time and WAL per order between two samples, the costliest
 * (by execution time) first, at most `top` of them; a statement first seen in `b` counts from zero.
 */
export function statementsPerOrder(
  a: ReadonlyMap<string, StatementTotals>,
  b: ReadonlyMap<string, StatementTotals>,
  orders: number,
  top = 8,
): StatementPerOrder[] {
  if (orders <= 0) return [];
  const out: StatementPerOrder[] = [];
  for (const [id, end] of b) {
    const start = a.get(id) ?? { calls: 0, execMs: 0, walBytes: 0 };
    const calls = end.calls - start.calls;
    if (calls <= 0) continue;
    out.push({
      query: end.query,
      calls: Math.round((calls / orders) * 100) / 100,
      exec_us: Math.round(((end.execMs - start.execMs) * 1000) / orders),
      wal_bytes: Math.round((end.walBytes - start.walBytes) / orders),
    });
  }
  return out.sort((x, y) => y.exec_us - x.exec_us).slice(0, top);
}

/**
 * The backends' work between two samples. A backend that started in between
 * counts from zero; one that ended in between is lost (counted in `ended`).
 */
export function databaseDelta(
  a: DatabaseSample,
  b: DatabaseSample,
): { backends: number; ended: number; cpu_s: number; segs_in: number; xacts: number } {
  let cpu = 0;
  let segs = 0;
  for (const [pid, end] of b.backends) {
    const start = a.backends.get(pid) ?? { cpu: 0, segsIn: 0 };
    cpu += end.cpu - start.cpu;
    segs += end.segsIn - start.segsIn;
  }
  let ended = 0;
  for (const pid of a.backends.keys()) if (!b.backends.has(pid)) ended++;
  return { backends: b.backends.size, ended, cpu_s: cpu, segs_in: segs, xacts: b.xacts - a.xacts };
}
