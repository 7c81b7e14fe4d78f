/**
 * The backup and restore of docs/operations.md, done as written: a server on
 * Postgres takes a restaurant, a menu and a confirmed order over REST; once
 * the write-behind has written the order's events, `pg_dump --format=custom`
 * dumps the database and `pg_restore --no-owner --exit-on-error` restores it
 * into a scratch database. Every table has the same rows there, and a server
 * started on the restored database (a new queue prefix: nothing replayed from
 * Redis) recovers the engine from it and answers the order as it was.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { throwawayDatabase } from '../support/pg.js';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'pg-backup-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Rows per table in the public schema. */
async function rowCounts(url: string): Promise<Record<string, number>> {
  const db = serverDatabase(url, { max: 1, applicationName: 'pg-backup-test' });
  try {
    const tables = await db.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    const counts: Record<string, number> = {};
    for (const { tablename } of tables.rows) {
      const r = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${tablename}"`);
      counts[tablename] = Number(r.rows[0]!.n);
    }
    return counts;
  } finally {
    await db.close();
  }
}

t.test('pg_dump, pg_restore into a scratch database, and a server on the restored database', async (t) => {
  const first = await startTestServer(t, { label: 'backup_src' });
  const source = first.databaseUrl!;
  const cast = await makeCast(first.auth);
  const shop = await openRestaurant(first.url, cast.restaurant);
  const placed = await api(first.url, 'POST', '/orders', {
    token: cast.customer.token,
    body: {
      ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 2 }]),
      payment_method: { type: 'CASH' },
    },
  });
  t.equal(placed.status, 201, 'order placed');
  const orderId = placed.body.id as string;
  const confirmed = await api(first.url, 'PUT', `/orders/${orderId}/status`, {
    token: cast.restaurant.token,
    body: { status: 'confirmed', estimated_preparation_time: 20 },
  });
  t.equal(confirmed.status, 200);
  const before = await api(first.url, 'GET', `/orders/${orderId}`, { token: cast.customer.token });
  t.equal(before.status, 200);

  // Written behind: wait until the order's events are in Postgres, as a backup would find them.
  const db = serverDatabase(source, { max: 1 });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM engine_events WHERE aggregate = 'order' AND aggregate_id = $1",
      [orderId],
    );
    if (Number(r.rows[0]!.n) >= 2) break;
    if (Date.now() > deadline) throw new Error('the order events were not written within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  await db.close();
  await first.server.close();

  const file = join(dir, 'dispatch.dump');
  await run('pg_dump', ['--format=custom', '--no-owner', `--file=${file}`, source]);
  t.ok(statSync(file).size > 1000, `dump written (${statSync(file).size} bytes)`);
  const restored = await throwawayDatabase(t, 'backup_restored');
  await run('pg_restore', ['--no-owner', '--exit-on-error', `--dbname=${restored}`, file]);

  const want = await rowCounts(source);
  const got = await rowCounts(restored);
  t.same(got, want, 'every table, the same number of rows');
  t.ok(
    (want['engine_events'] ?? 0) > 0 && (want['orders'] ?? 0) === 1 && (want['menu_items'] ?? 0) > 0,
    'and they hold the day',
  );

  const second = await startTestServer(t, { label: 'backup_unused', env: { DATABASE_URL: restored } });
  t.equal(second.databaseUrl, restored);
  t.match(second.server.recovery, { orders: 1, restaurants: 1 }, 'the engine recovered from the restored database');
  const after = await api(second.url, 'GET', `/orders/${orderId}`, { token: cast.customer.token });
  t.equal(after.status, 200);
  t.same(
    { status: after.body.status, total: after.body.total_amount, items: after.body.items },
    { status: before.body.status, total: before.body.total_amount, items: before.body.items },
    'the order as it was before the backup',
  );
  t.equal(after.body.status, 'confirmed');
});
