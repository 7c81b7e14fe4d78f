import { checkToken, type Fence } from '../../engine/ports/fence.js';
import { OK, ok, reject, type Result } from '../../protocol/index.js';
import { DependencyUnavailableError, isConnectionError } from '../dependency-error.js';
import type { SqlDatabase, SqlTx } from './sql-database.js';
import { Statements } from './statements.js';

/** A write refused by the fence inside a transaction: rolled back, then answered as `FENCED`. */
class Fenced extends Error {
  constructor(readonly stored: number) {
    super('fenced');
  }
}

/**
 * The {@link Fence} on Postgres (or PGlite): the table `partition_fence`
 * (sql/0008_partition_fence.sql). Each run is one transaction that starts with
 * sql/statements/fence-raise.sql, which raises the token and keeps the row
 * locked to the end, then runs the write.
 */
export class PgFence implements Fence<SqlTx> {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  async run<T>(partition: string, token: number, write: (tx: SqlTx) => Promise<T>): Promise<Result<T>> {
    checkToken(token);
    try {
      const value = await this.#db.transaction(async (tx) => {
        const { rows } = await tx.query<{ token: number }>(Statements.fenceRaise, [partition, token]);
        if (rows.length === 0) {
          const cur = await tx.query<{ token: number }>(Statements.fenceRead, [partition]);
          throw new Fenced(Number(cur.rows[0]?.token ?? 0));
        }
        return write(tx);
      });
      return ok(value);
    } catch (err) {
      if (err instanceof Fenced)
        return reject('FENCED', `partition ${partition}: token ${token} is below ${err.stored}`);
      if (isConnectionError(err)) {
        throw new DependencyUnavailableError(`fence ${partition}: the database cannot be reached`, { cause: err });
      }
      throw err;
    }
  }

  async claim(partition: string, token: number): Promise<Result> {
    const r = await this.run(partition, token, async () => null);
    return r.ok ? OK : r;
  }

  async tokenOf(partition: string): Promise<number> {
    const { rows } = await this.#db.query<{ token: number }>(Statements.fenceRead, [partition]);
    return Number(rows[0]?.token ?? 0);
  }
}
