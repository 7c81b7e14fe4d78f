import t from 'tap';
import { loadMigrations, migrate, MigrationError, type Migration } from '../../../adapters/postgres/migrate.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import { type SqlDatabase } from '../../../adapters/postgres/sql-database.js';
import { throwawayDatabase } from '../../support/pg.js';

const open = (t: { teardown(fn: () => unknown): void }, url: string): SqlDatabase => {
  const db = serverDatabase(url, { max: 2 });
  t.teardown(() => db.close());
  return db;
};

t.test('the shipped migrations: numbered, with headers, applied once', async (t) => {
  const files = await loadMigrations();
  t.ok(files.length >= 2);
  t.same(
    files.map((m) => m.version),
    files.map((_, i) => i + 1),
    'numbered 1..n without gaps',
  );
  const db = open(t, await throwawayDatabase(t, 'migrate_once'));
  const first = await migrate(db);
  t.same(
    first.applied,
    files.map((m) => m.version),
  );
  t.equal(first.current, files.length);
  const again = await migrate(db);
  t.same(again.applied, [], 'a second run applies nothing');
  const { rows } = await db.query<{ version: number; checksum: string }>(
    'SELECT version, checksum FROM schema_migrations ORDER BY version',
  );
  t.same(
    rows.map((r) => r.checksum),
    files.map((m) => m.checksum),
    'checksums recorded',
  );
  const tables = await db.query<{ n: string }>(
    `SELECT table_name AS n FROM information_schema.tables WHERE table_schema = 'public'`,
  );
  const names = new Set(tables.rows.map((r) => r.n));
  for (const want of [
    'users',
    'restaurants',
    'menu_items',
    'riders',
    'rider_documents',
    'orders',
    'order_items',
    'rider_positions',
    'payments',
    'refunds',
    'webhook_inbox',
    'outbox',
    'chat_messages',
    'push_tokens',
    'engine_events',
    'order_events',
    'engine_state',
    'partition_fence',
  ]) {
    t.ok(names.has(want), `table ${want}`);
  }
});

t.test('concurrent migrate calls: one applies, the others wait and find nothing to do', async (t) => {
  const url = await throwawayDatabase(t, 'migrate_concurrent');
  const dbs = Array.from({ length: 6 }, () => open(t, url));
  const results = await Promise.all(dbs.map((db) => migrate(db)));
  const appliers = results.filter((r) => r.applied.length > 0);
  t.equal(appliers.length, 1, 'exactly one call applied the migrations');
  t.ok(
    results.every((r) => r.current === results[0]!.current),
    'all agree on the version',
  );
  const { rows } = await dbs[0]!.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
  t.equal(rows[0]!.n, results[0]!.current);
});

t.test('a changed applied migration is refused; a failing one leaves nothing behind', async (t) => {
  const db = open(t, await throwawayDatabase(t, 'migrate_checks'));
  const m1: Migration = { version: 1, name: 'one', sql: '-- one\nCREATE TABLE one (x int);', checksum: 'a' };
  await migrate(db, [m1]);
  await t.rejects(migrate(db, [{ ...m1, checksum: 'b' }]), MigrationError, 'checksum mismatch');
  const bad: Migration = {
    version: 2,
    name: 'bad',
    sql: '-- bad\nCREATE TABLE two (x int); SELECT no_such_function();',
    checksum: 'c',
  };
  await t.rejects(migrate(db, [m1, bad]));
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'two'`,
  );
  t.equal(rows[0]!.n, 0, 'the failed migration was rolled back');
  const v = await db.query<{ n: number }>('SELECT max(version) AS n FROM schema_migrations');
  t.equal(v.rows[0]!.n, 1);
});
