import t from 'tap';
import { pgDatabase } from '../../../adapters/postgres/sql-database.js';
import { throwawayDatabase } from '../../support/pg.js';

/** The statements prepared on the pool's one connection, as Postgres lists them. */
const preparedOn = async (db: ReturnType<typeof pgDatabase>): Promise<string[]> =>
  (
    await db.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY prepare_time')
  ).rows.map((r) => r.statement);

t.test('a parameterised statement is prepared once per connection and reused', async (t) => {
  const db = pgDatabase(await throwawayDatabase(t, 'sql_prepared'), { max: 1 });
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

t.test('past the cap, statements run unnamed and still answer', async (t) => {
  const db = pgDatabase(await throwawayDatabase(t, 'sql_prepared_cap'), { max: 1, preparedStatements: 2 });
  t.teardown(() => db.close());
  const texts = ['SELECT $1::int AS a', 'SELECT $1::int AS b', 'SELECT $1::int AS c'];
  for (const [i, text] of texts.entries()) t.same(Object.values((await db.query(text, [i])).rows[0]!), [i], text);
  t.same(await preparedOn(db), texts.slice(0, 2), 'only the first two are prepared');
  t.same((await db.query('SELECT $1::int AS c', [7])).rows, [{ c: 7 }], 'the third again, unnamed');
});

t.test('a statement with no parameters is not prepared (scripts, migrations)', async (t) => {
  const db = pgDatabase(await throwawayDatabase(t, 'sql_unprepared'), { max: 1 });
  t.teardown(() => db.close());
  await db.exec('CREATE TABLE x (a int); INSERT INTO x VALUES (1)');
  t.same((await db.query('SELECT a FROM x')).rows, [{ a: 1 }]);
  t.same(await preparedOn(db), []);
});
