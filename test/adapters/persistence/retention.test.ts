/**
 * Retention against real Postgres: old idempotency keys and trail rows go;
 * ended orders' actor states go after their final state is copied onto the
 * order row, which reads the same afterwards; live ones and the log stay.
 */
import t from 'tap';
import { defaultRetention, pruneRetention } from '../../../adapters/persistence/retention.js';
import { CatalogStore } from '../../../adapters/postgres/catalog-store.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import { throwawayDatabase } from '../../support/pg.js';

const DAY = 24 * 3_600_000;
const NOW = Date.UTC(2026, 10, 25, 12);

t.test('prunes what is past its retention, and only that', async (t) => {
  const db = serverDatabase(await throwawayDatabase(t, 'retention'), { max: 2 });
  t.teardown(() => db.close());
  await migrate(db);
  await db.query(
    `INSERT INTO idempotency_keys (principal, key, route, request_hash, status, response, created_at) VALUES
    ('u', 'old', 'createOrder', 'h', 201, '{}', $1), ('u', 'new', 'createOrder', 'h', 201, '{}', $2)`,
    [new Date(NOW - 2 * DAY), new Date(NOW - 3_600_000)],
  );
  await db.query(`INSERT INTO rider_positions (rider_id, at, lat, lng) VALUES ('r', $1, 19, 72), ('r', $2, 19, 72)`, [
    new Date(NOW - 40 * DAY),
    new Date(NOW - DAY),
  ]);
  for (const [id, live, endedAt, value] of [
    ['o-old', false, NOW - 3 * DAY, 'delivered'],
    ['o-recent', false, NOW - 3_600_000, 'cancelled'],
    ['o-live', true, 0, 'preparing'],
  ] as const) {
    await db.query(
      `INSERT INTO orders (id, customer_id, restaurant_id, status, drop_lat, drop_lng, placed_at) VALUES ($1, 'c', 'r1', 'placed', 19, 72, $2)`,
      [id, new Date(NOW - 4 * DAY)],
    );
    await db.query(
      `INSERT INTO engine_state (aggregate, aggregate_id, seq, live, ended_at, row) VALUES ('order', $1, 5, $2, $3, $4::json)`,
      [id, live, endedAt, JSON.stringify({ id, value, context: { riderId: 'rider-9' } })],
    );
  }
  await db.query(
    `INSERT INTO notifications (id, party, kind, title, body, data, created_at) VALUES
    ('n-old', 'customer:c', 'confirmed', 't', 'b', '{}', $1), ('n-new', 'customer:c', 'confirmed', 't', 'b', '{}', $2)`,
    [new Date(NOW - 31 * DAY), new Date(NOW - DAY)],
  );
  const report = await pruneRetention(db, NOW, { ...defaultRetention, endedStateMs: DAY });
  t.same(report, { idempotencyKeys: 1, trailRows: 1, endedStates: 1, notices: 1 });
  const states = (
    await db.query<{ aggregate_id: string }>('SELECT aggregate_id FROM engine_state ORDER BY 1')
  ).rows.map((r) => r.aggregate_id);
  t.same(states, ['o-live', 'o-recent']);
  const old = await new CatalogStore(db).getOrder('o-old');
  t.equal(old?.state_row, null, 'its actor state is gone');
  t.equal(old?.status, 'delivered', 'its final state is on the order row');
  t.equal(old?.rider_id, 'rider-9');
  const again = await pruneRetention(db, NOW, { ...defaultRetention, endedStateMs: DAY });
  t.same(again, { idempotencyKeys: 0, trailRows: 0, endedStates: 0, notices: 0 }, 'a second run finds nothing');
});
