import pg from 'pg';

/** One statement's rows. */
export interface SqlResult<R> {
  readonly rows: R[];
}

/** What runs inside a transaction: parameterised statements, and whole scripts (migrations). */
export interface SqlTx {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<R>>;
  /** Runs a script of several statements, without parameters. */
  exec(script: string): Promise<void>;
}

/**
 * The little of a SQL database the adapters use, so that the same SQL runs on
 * a Postgres server (node-postgres) and on embedded PGlite. Not a port of the
 * engine: both implementations live in adapters/.
 */
export interface SqlDatabase extends SqlTx {
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// bigint columns (engine_meta, counts) come back as JS numbers: every value we store fits in 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * A {@link SqlDatabase} over a node-postgres pool. The server path runs on
 * postgres.js (postgres-js-database.ts); this one stays for `DATABASE_DRIVER=pg`,
 * as the bench's before, and for tests that compare the two.
 */
export function pgDatabase(
  connectionString: string,
  opts: { max?: number; applicationName?: string; preparedStatements?: number } = {},
): SqlDatabase & { readonly pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'dispatch-engine',
    // Fail fast rather than queue forever when Postgres is down.
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // A checked-out client has no pool listener: a server that goes away mid-transaction would
  // emit an unhandled 'error' and crash the process. The query in flight rejects anyway.
  pool.on('connect', (client) => client.on('error', () => {}));
  const wrap = (c: pg.Pool | pg.PoolClient): SqlTx => ({
    query: async <R>(text: string, params?: readonly unknown[]) => {
      const name = params === undefined ? undefined : prepared.nameOf(text);
      const res =
        name === undefined
          ? await c.query(text, params as unknown[] | undefined)
          : await c.query({ name, text, values: params as unknown[] });
      return { rows: res.rows as R[] };
    },
    exec: async (script: string) => {
      await c.query(script);
    },
  });
  const prepared = new PreparedNames(opts.preparedStatements ?? 500);
  const root = wrap(pool);
  return {
    pool,
    ...root,
    async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await fn(wrap(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/**
 * Names for parameterised statements, so that node-postgres prepares each
 * once per connection and Postgres parses and plans it once, not at every
 * call (with a dozen statements per order, parsing and planning were a
 * visible part of Postgres's CPU). One name per distinct text; texts are our
 * own SQL with parameters, never values, so they are few. Past `max` distinct
 * texts (`preparedStatements`; a bug building SQL from values) statements run
 * unnamed rather than filling every connection with prepared statements.
 */
export class PreparedNames {
  readonly #names = new Map<string, string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  nameOf(text: string): string | undefined {
    let name = this.#names.get(text);
    if (name === undefined && this.#names.size < this.#max) {
      name = `s${this.#names.size + 1}`;
      this.#names.set(text, name);
    }
    return name;
  }
}
