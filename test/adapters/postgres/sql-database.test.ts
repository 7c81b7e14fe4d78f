import t from 'tap';
import { SQL_DRIVERS, serverDatabase } from '../../../adapters/postgres/server-database.js';
import type { SqlDatabase } from '../../../adapters/postgres/sql-database.js';
import { throwawayDatabase } from '../../support/pg.js';

/**
 * Our statements prepared on the pool's one connection, as Postgres lists them
 * (postgres.js prepares its own too, in lower case: its type lookup, `commit`).
 */
const preparedOn = async (db: SqlDatabase): Promise<string[]> =>
  (
    await db.query<{ statement: string }>(
      "SELECT statement FROM pg_prepared_statements WHERE statement ~ '^[A-Z]' ORDER BY prepare_time",
    )
  ).rows.map((r) => r.statement);

for (const driver of SQL_DRIVERS) {
  t.test(`${driver}: a parameterised statement is prepared once per connection and reused`, async (t) => {
    const db = serverDatabase(await throwawayDatabase(t, 'sql_prepared'), { max: 1, driver });
    t.teardown(() => db.close());
    for (let i = 0; i < 3; i++)
      t.same((await db.query<{ n: number }>('SELECT $1::int + 1 AS n', [i])).rows, [{ n: i + 1 }]);
    await db.transaction(async (tx) => {
      t.same(
        (await tx.query<{ n: number }>('SELECT $1::int + 1 AS n', [41])).rows,
        [{ n: 42 }],
        'inside a transaction too',
      );
    });
    t.same(await preparedOn(db), ['SELECT $1::int + 1 AS n'], 'one prepared statement for four calls');
  });

  t.test(`${driver}: past the cap, statements run unnamed and still answer`, async (t) => {
    const url = await throwawayDatabase(t, 'sql_prepared_cap');
    const db = serverDatabase(url, { max: 1, preparedStatements: 2, driver });
    t.teardown(() => db.close());
    const texts = ['SELECT $1::int AS a', 'SELECT $1::int AS b', 'SELECT $1::int AS c'];
    for (const [i, text] of texts.entries()) t.same(Object.values((await db.query(text, [i])).rows[0]!), [i], text);
    t.same(await preparedOn(db), texts.slice(0, 2), 'only the first two are prepared');
    t.same((await db.query('SELECT $1::int AS c', [7])).rows, [{ c: 7 }], 'the third again, unnamed');
  });

  t.test(`${driver}: a statement with no parameters is not prepared (scripts, migrations)`, async (t) => {
    const db = serverDatabase(await throwawayDatabase(t, 'sql_unprepared'), { max: 1, driver });
    t.teardown(() => db.close());
    await db.exec('CREATE TABLE x (a int); INSERT INTO x VALUES (1)');
    t.same((await db.query('SELECT a FROM x')).rows, [{ a: 1 }]);
    t.same(await preparedOn(db), []);
  });

  t.test(`${driver}: values come back and go in as the stores expect`, async (t) => {
    const db = serverDatabase(await throwawayDatabase(t, 'sql_types'), { max: 2, driver });
    t.teardown(() => db.close());
    const at = new Date('2026-12-06T04:00:00.123Z');
    const { rows } = await db.query(
      `SELECT $1::bigint AS big, count(*) AS n, $2::jsonb AS doc, $3::json AS j, $4::timestamptz AS at,
              $5::numeric AS money, $6::bytea AS bytes, $7::text AS missing,
              (SELECT array_agg(x) FROM unnest($8::bool[]) AS x WHERE x IS NOT NULL) AS flags,
              (SELECT count(*) FROM unnest($8::bool[]) AS x WHERE x IS NULL) AS nulls,
              (SELECT array_agg(x) FROM unnest($9::int[]) AS x) AS ints,
              (SELECT array_agg(x) FROM unnest($10::text[]) AS x) AS texts,
              (SELECT array_agg(x) FROM unnest($11::jsonb[]) AS x) AS docs,
              $12::bool AS yes
         FROM (VALUES (1), (2)) AS v(x)`,
      [
        2 ** 40,
        JSON.stringify({ a: [1, 'two'] }),
        JSON.stringify('a string'),
        at,
        '12.50',
        Buffer.from([0, 1, 255]),
        undefined,
        [true, false, null],
        [3, 4],
        ['a', 'b "quoted", {braced}', ''],
        [JSON.stringify({ k: 1 }), JSON.stringify([2])],
        false,
      ],
    );
    t.same(rows, [
      {
        big: 2 ** 40,
        n: 2,
        doc: { a: [1, 'two'] },
        j: 'a string',
        at,
        money: '12.50',
        bytes: Buffer.from([0, 1, 255]),
        missing: null,
        // postgres.js reads a NULL inside an array as the element type's parse of 'NULL' (none of
        // our reads return arrays with NULLs), so only the way in is compared for NULLs.
        flags: [true, false],
        nulls: 1,
        ints: [3, 4],
        texts: ['a', 'b "quoted", {braced}', ''],
        docs: [{ k: 1 }, [2]],
        yes: false,
      },
    ]);
  });

  t.test(`${driver}: a transaction commits, or rolls back and rethrows the error it met`, async (t) => {
    const db = serverDatabase(await throwawayDatabase(t, 'sql_tx'), { max: 2, driver });
    t.teardown(() => db.close());
    await db.exec('CREATE TABLE k (id int PRIMARY KEY)');
    t.equal(
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO k VALUES ($1)', [1]);
        return 'done';
      }),
      'done',
    );
    const mine = new Error('changed my mind');
    await t.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO k VALUES ($1)', [2]);
        throw mine;
      }),
      mine,
      "the callback's own error",
    );
    await t.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO k VALUES ($1)', [3]);
        await tx.query('INSERT INTO k VALUES ($1)', [1]);
      }),
      { code: '23505' },
      "Postgres's error, with its SQLSTATE for the edges' mapping",
    );
    t.same((await db.query<{ id: number }>('SELECT id FROM k ORDER BY id')).rows, [{ id: 1 }], 'only the commit');
  });
}

t.test('the server path runs on postgres.js unless node-postgres is asked for', async (t) => {
  const url = await throwawayDatabase(t, 'sql_driver');
  const js = serverDatabase(url, { max: 2 });
  const pg = serverDatabase(url, { max: 2, driver: 'pg' });
  t.teardown(async () => {
    await js.close();
    await pg.close();
  });
  t.equal(js.driver, 'postgres-js');
  t.ok('sql' in js && !('pool' in js && js.pool.constructor.name === 'BoundPool'), 'a postgres.js client');
  t.equal(pg.pool.constructor.name, 'BoundPool', "node-postgres's pool");
  const app = 'SELECT application_name AS a FROM pg_stat_activity WHERE pid = pg_backend_pid()';
  t.same((await js.query(app)).rows, [{ a: 'dispatch-engine' }]);
});
