import t from 'tap';
import { pgliteDatabase } from '../../adapters/embedded/pglite-database.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { PgEventStore } from '../../adapters/postgres/pg-event-store.js';
import { SQL_DRIVERS, serverDatabase } from '../../adapters/postgres/server-database.js';
import { throwawayDatabase } from '../support/pg.js';
import { eventStoreContract } from './event-store.contract.js';

let n = 0;
for (const driver of SQL_DRIVERS) {
  t.test(`Postgres (${driver})`, async (t) => {
    eventStoreContract(t, async (tt) => {
      const db = serverDatabase(await throwawayDatabase(tt, `es_pg_${n++}`), { max: 2, driver });
      await migrate(db);
      const store = new PgEventStore(db);
      tt.teardown(() => store.close());
      return store;
    });
  });
}

t.test('embedded (PGlite, in memory)', async (t) => {
  eventStoreContract(t, async (tt) => {
    const db = await pgliteDatabase();
    await migrate(db);
    const store = new PgEventStore(db);
    tt.teardown(() => store.close());
    return store;
  });
});
