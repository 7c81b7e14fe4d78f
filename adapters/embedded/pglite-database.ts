import { PGlite } from '@electric-sql/pglite';
import type { SqlDatabase, SqlTx } from '../postgres/sql-database.js';

/**
 * A {@link SqlDatabase} on embedded PGlite (Postgres compiled to WASM, in this
 * process): the storage of the default, zero-setup mode. `dataDir` is a
 * folder, or undefined for memory only (tests). PGlite runs one statement at a
 * time, so a transaction holds the whole database: fine for one process.
 */
export async function pgliteDatabase(dataDir?: string): Promise<SqlDatabase & { readonly pglite: PGlite }> {
  const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir);
  await db.waitReady;
  const wrap = (c: Pick<PGlite, 'query' | 'exec'>): SqlTx => ({
    query: async <R>(text: string, params?: readonly unknown[]) => {
      const res = await c.query<R>(text, params as unknown[] | undefined);
      return { rows: res.rows };
    },
    exec: async (script: string) => {
      await c.exec(script);
    },
  });
  return {
    pglite: db,
    ...wrap(db),
    transaction: <T>(fn: (tx: SqlTx) => Promise<T>) => db.transaction((tx) => fn(wrap(tx))),
    close: () => db.close(),
  };
}
