/**
 * The mapping of database errors to the error table (adapters/postgres/sql-errors.ts),
 * on errors raised by a real Postgres and by embedded PGlite: what the data sent
 * caused is a 4xx code, what the server caused stays unmapped (a 500).
 */
import t from 'tap';
import { pgliteDatabase } from '../../../adapters/embedded/pglite-database.js';
import { SQL_DRIVERS, serverDatabase } from '../../../adapters/postgres/server-database.js';
import { clientFault } from '../../../adapters/postgres/sql-errors.js';
import type { SqlDatabase } from '../../../adapters/postgres/sql-database.js';
import { throwawayDatabase } from '../../support/pg.js';

const url = await throwawayDatabase(t, 'sqlerrors');
const setup = serverDatabase(url, { max: 1 });
await setup.exec(`CREATE TABLE users (id text PRIMARY KEY, phone text, n integer CHECK (n >= 0));
  CREATE UNIQUE INDEX users_phone_key ON users (phone) WHERE phone IS NOT NULL;
  INSERT INTO users (id, phone, n) VALUES ('a', '+91-9876543210', 1)`);
await setup.close();

for (const driver of SQL_DRIVERS) {
  const db: SqlDatabase = serverDatabase(url, { max: 1, driver });
  t.teardown(() => db.close());
  const errorOf = async (sql: string, params: unknown[] = []): Promise<unknown> => {
    try {
      await db.query(sql, params);
    } catch (err) {
      return err;
    }
    throw new Error(`no error from ${sql}`);
  };
  suites(driver, errorOf);
}

function suites(driver: string, errorOf: (sql: string, params?: unknown[]) => Promise<unknown>): void {
  t.test(`${driver}: client faults from Postgres become 4xx codes`, async (t) => {
    t.match(clientFault(await errorOf(`INSERT INTO users (id, phone) VALUES ('b', '+91-9876543210')`)), {
      code: 'VALUE_TAKEN',
      detail: /phone/,
    });
    t.match(clientFault(await errorOf(`INSERT INTO users (id, n) VALUES ('c', -1)`)), { code: 'CONSTRAINT_VIOLATED' });
    t.match(clientFault(await errorOf(`INSERT INTO users (id, n) VALUES ('d', $1)`, [2 ** 31])), {
      code: 'INVALID_ARGUMENT',
    });
    t.match(clientFault(await errorOf(`INSERT INTO users (id) VALUES ($1)`, ['a\u0000b'])), {
      code: 'INVALID_ARGUMENT',
    });
    t.match(clientFault(await errorOf(`SELECT $1::jsonb`, ['{"a":"\\u0000"}'])), { code: 'INVALID_ARGUMENT' });
  });

  t.test(`${driver}: the server's own errors stay unmapped`, async (t) => {
    t.equal(clientFault(await errorOf('SELEC 1')), undefined, 'syntax');
    t.equal(clientFault(await errorOf('SELECT * FROM nowhere')), undefined, 'missing table');
    t.equal(clientFault(new Error('boom')), undefined);
    t.equal(clientFault(null), undefined);
  });
}

t.test('PGlite raises the same codes', async (t) => {
  const db = await pgliteDatabase();
  t.teardown(() => db.pglite.close());
  await db.pglite.exec(
    `CREATE TABLE u (phone text); CREATE UNIQUE INDEX users_phone_key ON u (phone); INSERT INTO u VALUES ('x')`,
  );
  let err: unknown;
  try {
    await db.pglite.query(`INSERT INTO u VALUES ('x')`);
  } catch (e) {
    err = e;
  }
  t.match(clientFault(err), { code: 'VALUE_TAKEN', detail: /phone/ });
});
