import postgres from 'postgres';
import type { PoolView } from '../observability/metrics.js';
import { PreparedNames, type SqlDatabase, type SqlTx } from './sql-database.js';

/** Options of a server database, whichever driver runs it. */
export interface ServerDatabaseOptions {
  /** Most connections (`DATABASE_MAX_CONNECTIONS`). */
  readonly max?: number;
  readonly applicationName?: string;
  /** Most distinct statement texts prepared per connection; past it, statements run unprepared. */
  readonly preparedStatements?: number;
}

/** What the metrics read of a pool, and its size. */
export type PoolGauge = PoolView & { readonly options: { readonly max?: number } };

type Sql = postgres.Sql<Record<string, never>>;
type Param = postgres.ParameterOrJSON<never>;

/**
 * A connection URL as postgres.js takes it. libpq names a Unix socket by its directory in the
 * query, `postgres://user@/db?host=/var/run/postgresql` (psql and node-postgres read it so, and the
 * Postgres manual shows it); postgres.js would send `host` to the server as a setting and fail to
 * connect, so it comes out of the URL and goes in as postgres.js's `host` option, which opens the
 * socket `<dir>/.s.PGSQL.<port>`. The URL's own host may then be empty, as libpq allows and the
 * WHATWG URL postgres.js parses with does not: it reads `localhost`, which the option overrides.
 * Any other URL passes unchanged.
 */
export function postgresJsTarget(connectionString: string): { url: string; options: { host?: string } } {
  const q = connectionString.indexOf('?');
  if (q < 0) return { url: connectionString, options: {} };
  const params = new URLSearchParams(connectionString.slice(q + 1));
  const host = params.get('host');
  if (host === null) return { url: connectionString, options: {} };
  params.delete('host');
  const base = connectionString.slice(0, q).replace(/^(postgres(?:ql)?:\/\/(?:[^@/?]*@)?)(?=[:/]|$)/, '$1localhost');
  const rest = params.toString();
  return { url: rest === '' ? base : `${base}?${rest}`, options: { host } };
}

/**
 * A {@link SqlDatabase} over postgres.js (porsager's `postgres`): the server
 * path. It pipelines statements on each connection and prepares each text once
 * per connection, so a statement costs Postgres one Bind/Execute and no parse.
 * Values keep the types node-postgres gave the same SQL (int8 as numbers, JSON
 * text passed as is), so the stores run unchanged on either driver.
 */
export function postgresJsDatabase(
  connectionString: string,
  opts: ServerDatabaseOptions = {},
): SqlDatabase & { readonly pool: PoolGauge; readonly sql: Sql } {
  const max = opts.max ?? 10;
  const target = postgresJsTarget(connectionString);
  const sql: Sql = postgres(target.url, {
    ...target.options,
    max,
    connection: { application_name: opts.applicationName ?? 'dispatch-engine' },
    // Fail fast rather than queue forever when Postgres is down (node-postgres had 5 s too).
    connect_timeout: 5,
    // postgres.js waits up to 20 s before reconnecting after failures; a request would wait with it.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    // Migrations' IF NOT EXISTS notices are not news (postgres.js prints them by default).
    onnotice: () => {},
    // node-postgres sent undefined as NULL; the stores rely on it for optional columns.
    transform: { undefined: null },
    types: {
      // bigint columns (engine_meta, counts) as numbers: every value we store fits in 2^53.
      int8: { to: 20, from: [20], serialize: (x: unknown) => String(x), parse: (x: string) => Number(x) },
      // The stores pass JSON already serialised (as node-postgres needs); stringify only objects.
      json: {
        to: 114,
        from: [114, 3802],
        serialize: (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x)),
        parse: (x: string) => JSON.parse(x) as unknown,
      },
    },
  }) as unknown as Sql;
  const prepared = new PreparedNames(opts.preparedStatements ?? 500);
  const flight = { busy: 0 };
  const wrap = (c: postgres.Sql<Record<string, never>> | postgres.TransactionSql<Record<string, never>>): SqlTx => ({
    query: async <R>(text: string, params?: readonly unknown[]) => {
      flight.busy++;
      try {
        // No params: the simple protocol (one message, no prepare), as node-postgres did.
        const rows =
          params === undefined
            ? await c.unsafe(text)
            : await c.unsafe(text, params.map(untyped(c)), {
                prepare: prepared.nameOf(text) !== undefined,
                simple: false,
              } as postgres.UnsafeQueryOptions & { simple: boolean });
        return { rows: rows as unknown as R[] };
      } finally {
        flight.busy--;
      }
    },
    exec: async (script: string) => {
      flight.busy++;
      try {
        await c.unsafe(script);
      } finally {
        flight.busy--;
      }
    },
  });
  const pool: PoolGauge = {
    // postgres.js keeps its connections private; what we can see is how many statements are in
    // flight: up to `max` they can each have a connection, past it they pipeline or wait.
    get totalCount() {
      return Math.min(flight.busy, max);
    },
    get idleCount() {
      return Math.max(0, max - flight.busy);
    },
    get waitingCount() {
      return Math.max(0, flight.busy - max);
    },
    options: { max },
  };
  return {
    pool,
    sql,
    ...wrap(sql),
    async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
      flight.busy++;
      try {
        // sql.begin rolls back when fn rejects (or when any statement in it failed) and rethrows.
        return (await sql.begin((tx) => fn(wrap(tx)))) as T;
      } finally {
        flight.busy--;
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/**
 * postgres.js declares a type for booleans and for arrays from their first
 * element (bool for `[true]`), which Postgres then refuses to cast to bool[].
 * node-postgres sent every value untyped; so do we, and the server's described
 * parameter type picks the serializer.
 */
const untyped =
  (c: Pick<Sql, 'typed'>) =>
  (v: unknown): Param =>
    Array.isArray(v) || typeof v === 'boolean' ? c.typed(v as never, 0) : (v as Param);
