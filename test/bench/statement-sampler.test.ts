import t from 'tap';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { databaseUrl, statementSampler, statementsPerOrder } from '../../bench/pipeline/stores.js';
import { PG_SERVER, throwawayDatabase } from '../support/pg.js';

t.test('statementsPerOrder: each statement per order between two samples, the costliest first', async (t) => {
  const a = new Map([
    ['1', { query: 'INSERT a', calls: 10, execMs: 5, walBytes: 1_000 }],
    ['2', { query: 'SELECT b', calls: 4, execMs: 1, walBytes: 0 }],
    ['3', { query: 'SELECT idle', calls: 7, execMs: 2, walBytes: 0 }],
  ]);
  const b = new Map([
    ['1', { query: 'INSERT a', calls: 30, execMs: 25, walBytes: 21_000 }],
    ['2', { query: 'SELECT b', calls: 14, execMs: 41, walBytes: 0 }],
    ['3', { query: 'SELECT idle', calls: 7, execMs: 2, walBytes: 0 }],
    ['4', { query: 'UPDATE new', calls: 5, execMs: 10, walBytes: 500 }],
  ]);
  t.same(statementsPerOrder(a, b, 10), [
    { query: 'SELECT b', calls: 1, exec_us: 4_000, wal_bytes: 0 },
    { query: 'INSERT a', calls: 2, exec_us: 2_000, wal_bytes: 2_000 },
    { query: 'UPDATE new', calls: 0.5, exec_us: 1_000, wal_bytes: 50 },
  ]);
  t.same(statementsPerOrder(a, b, 10, 1).length, 1, 'at most `top`');
  t.same(statementsPerOrder(a, b, 0), [], 'no orders, no figures');
});

t.test('databaseUrl: the database goes in the path, a socket query stays', async (t) => {
  t.equal(databaseUrl('postgres://postgres@127.0.0.1:5432', 'bench_1'), 'postgres://postgres@127.0.0.1:5432/bench_1');
  t.equal(databaseUrl('postgres://postgres@127.0.0.1:5432/', 'b'), 'postgres://postgres@127.0.0.1:5432/b');
  t.equal(
    databaseUrl('postgres://postgres@/?host=/var/run/postgresql', 'bench_1'),
    'postgres://postgres@/bench_1?host=/var/run/postgresql',
  );
});

t.test(
  "statementSampler: this database's statements when the server loads pg_stat_statements, else null",
  async (t) => {
    const url = await throwawayDatabase(t, 'statement_sampler');
    const name = decodeURIComponent(new URL(url).pathname.slice(1));
    const probe = serverDatabase(`${PG_SERVER}/postgres`, { max: 1 });
    const preload = (await probe.query<{ l: string }>("SELECT current_setting('shared_preload_libraries') AS l"))
      .rows[0]!.l;
    await probe.close();
    const sampler = await statementSampler(PG_SERVER, name);
    if (!preload.split(',').some((l) => l.trim() === 'pg_stat_statements')) {
      t.equal(sampler, null, `not loaded here (shared_preload_libraries '${preload}'): null, no figures made up`);
      return;
    }
    t.ok(sampler, 'loaded here: a sampler');
    const before = await sampler!.sample();
    const db = serverDatabase(url, { max: 1 });
    await db.exec('CREATE TABLE probe (n int)');
    for (let i = 0; i < 25; i++) await db.query('INSERT INTO probe (n) VALUES ($1)', [i]);
    await db.close();
    const after = await sampler!.sample();
    await sampler!.close();
    const rows = statementsPerOrder(before, after, 5);
    const insert = rows.find((r) => r.query.startsWith('INSERT INTO probe'));
    t.ok(insert, `the inserts are among the statements: ${JSON.stringify(rows)}`);
    t.notOk(
      rows.some((r) => r.query.includes('pg_stat_statements')),
      "not the sampler's own reads",
    );
    t.notOk(
      rows.some((r) => /\s{2}/.test(r.query)),
      'whitespace runs folded to one space',
    );
    t.equal(insert?.calls, 5, '25 calls over 5 orders');
    t.ok((insert?.wal_bytes ?? 0) > 0, 'they wrote WAL');
  },
);
