/**
 * The sampled position trail, against real Postgres and embedded PGlite: one
 * fix per rider per sample interval, every stale fix, duplicates once, and
 * rows kept (bounded) while the database is down.
 */
import t from 'tap';
import { pgliteDatabase } from '../../../adapters/embedded/pglite-database.js';
import { TrailWriter } from '../../../adapters/persistence/trail-writer.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import { type SqlDatabase } from '../../../adapters/postgres/sql-database.js';
import type { RiderId } from '../../../protocol/index.js';
import { startPostgres } from '../../support/pg-server.js';
import { throwawayDatabase } from '../../support/pg.js';

const fix = (at: number, lat = 19.07) => ({ lat, lng: 72.87, accuracy: 5, heading: NaN, speed: 3, at });
const T0 = Date.UTC(2026, 10, 25, 12);
const count = async (db: SqlDatabase) =>
  (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM rider_positions')).rows[0]!.n;

for (const kind of ['postgres', 'pglite'] as const) {
  t.test(`${kind}: samples, stale fixes and duplicates`, async (t) => {
    const db =
      kind === 'postgres' ? serverDatabase(await throwawayDatabase(t, 'trail'), { max: 2 }) : await pgliteDatabase();
    t.teardown(() => db.close());
    await migrate(db);
    const w = new TrailWriter(db, { sampleMs: 30_000, flushMs: 0 });
    const a = 'rider-a' as RiderId;
    const b = 'rider-b' as RiderId;
    for (let s = 0; s < 120; s += 4) w.sample(a, fix(T0 + s * 1000));
    w.sample(b, fix(T0));
    w.stale(a, fix(T0 - 600_000));
    w.stale(a, fix(T0 - 600_000));
    await w.flush();
    t.equal(await count(db), 4 + 1 + 1, 'a: 0, 32, 64, 96 s (sampled every 30 s); b: one; the stale fix once');
    const rows = (
      await db.query<{ rider_id: string; heading: number | null; speed_mps: number }>(
        'SELECT rider_id, heading, speed_mps FROM rider_positions ORDER BY at LIMIT 1',
      )
    ).rows;
    t.same(rows[0], { rider_id: 'rider-a', heading: null, speed_mps: 3 }, 'an unknown heading is stored as null');
    t.equal(w.stats.written, 7);
  });
}

t.test('database down: rows wait (bounded, the oldest dropped) and land once it is back', async (t) => {
  const pg = await startPostgres(t);
  const url = pg.url('trail_down');
  const { ensureDatabase } = await import('../../../adapters/postgres/ensure-database.js');
  await ensureDatabase(url);
  const db = serverDatabase(url, { max: 1 });
  t.teardown(() => db.close());
  await migrate(db);
  const w = new TrailWriter(db, { sampleMs: 0, flushMs: 0, maxBuffered: 50, batchSize: 20 });
  pg.stop();
  for (let i = 0; i < 80; i++) w.stale(`r${i}` as RiderId, fix(T0 + i));
  await w.flush();
  t.equal(w.stats.failedWrites, 1);
  t.equal(w.buffered, 50, 'kept up to the bound');
  t.equal(w.stats.dropped, 30, 'the oldest 30 dropped and counted');
  pg.start();
  await w.flush();
  t.equal(w.buffered, 0);
  t.equal(await count(db), 50);
  const first = (await db.query<{ rider_id: string }>('SELECT rider_id FROM rider_positions ORDER BY at LIMIT 1'))
    .rows[0]!.rider_id;
  t.equal(first, 'r30', 'the newest fixes were kept');
});
