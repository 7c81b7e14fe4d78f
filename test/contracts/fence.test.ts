import t from 'tap';
import { pgliteDatabase } from '../../adapters/embedded/pglite-database.js';
import { MemoryFence, type StagedWrites } from '../../adapters/embedded/memory-fence.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { PgFence } from '../../adapters/postgres/pg-fence.js';
import { SQL_DRIVERS, serverDatabase } from '../../adapters/postgres/server-database.js';
import { type SqlDatabase, type SqlTx } from '../../adapters/postgres/sql-database.js';
import { throwawayDatabase } from '../support/pg.js';
import { fenceContract, type FenceHarness } from './fence.contract.js';

/** A migrated database with a probe table the fenced writes go to. */
const sqlHarness = async (db: SqlDatabase): Promise<FenceHarness<SqlTx>> => {
  await migrate(db);
  await db.exec('CREATE TABLE fence_probe (k text PRIMARY KEY, v text NOT NULL)');
  return {
    fence: new PgFence(db),
    put: async (tx, k, v) => {
      await tx.query('INSERT INTO fence_probe (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v', [
        k,
        v,
      ]);
    },
    get: async (k) => (await db.query<{ v: string }>('SELECT v FROM fence_probe WHERE k = $1', [k])).rows[0]?.v,
  };
};

let n = 0;
for (const driver of SQL_DRIVERS) {
  t.test(`Postgres (${driver})`, async (t) => {
    fenceContract(t, async (tt) => {
      const db = serverDatabase(await throwawayDatabase(tt, `fence_pg_${n++}`), { max: 4, driver });
      tt.teardown(() => db.close());
      return sqlHarness(db);
    });
  });
}

t.test('embedded (PGlite, in memory)', async (t) => {
  fenceContract(t, async (tt) => {
    const db = await pgliteDatabase();
    tt.teardown(() => db.close());
    return sqlHarness(db);
  });
});

t.test('in memory', async (t) => {
  fenceContract(t, async (): Promise<FenceHarness<StagedWrites>> => {
    const rows = new Map<string, string>();
    return {
      fence: new MemoryFence(),
      put: async (tx, k, v) => {
        tx.stage(() => void rows.set(k, v));
      },
      get: async (k) => rows.get(k),
    };
  });
});
