/**
 * `CatalogStore.catchUpAndRead`: the answer to a status change moves the order's row to the live
 * engine's word and reads the order back in one statement, on Postgres (the server's) and PGlite
 * (the embedded default). The read shows what the update wrote, though a statement's query cannot
 * see its own WITH's update; the same rules as `setOrderStatuses` decide whether it writes.
 */
import t from 'tap';
import { pgliteDatabase } from '../../../adapters/embedded/pglite-database.js';
import { CatalogStore } from '../../../adapters/postgres/catalog-store.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import type { SqlDatabase } from '../../../adapters/postgres/sql-database.js';
import { throwawayDatabase } from '../../support/pg.js';

const databases: [string, () => Promise<SqlDatabase>][] = [
  ['Postgres', async () => serverDatabase(await throwawayDatabase(t, 'order_catch_up'), { max: 2 })],
  ['PGlite', () => pgliteDatabase()],
];

for (const [name, open] of databases) {
  t.test(name, async (t) => {
    const db = await open();
    t.teardown(() => db.close());
    await migrate(db);
    const catalog = new CatalogStore(db);
    const order = async (id: string) =>
      catalog.transaction('place', (tx) =>
        catalog.insertOrder(
          tx,
          {
            id,
            customer_id: 'c1',
            restaurant_id: 'r1',
            drop_lat: 12.97,
            drop_lng: 77.59,
            total_paise: 28_000,
            placed_at: new Date(0).toISOString(),
            delivery_address: { street: 'MG Road' },
            payment_method: 'UPI',
            payer_vpa: null,
            tracking_id: `TRK-${id}`,
            estimated_delivery_at: new Date(3_600_000).toISOString(),
          } as never,
          [{ menu_item_id: 'm1', name: 'Dal Makhani', unit_paise: 14_000, quantity: 2, special_instructions: null }],
          { status: 'placed', seq: 1, riderId: null },
        ),
      );
    await order('o1');

    const moved = await catalog.catchUpAndRead('o1', { status: 'in_transit', seq: 7, riderId: 'rider-9' });
    t.match(moved?.row, { id: 'o1', seed_status: 'in_transit', rider_id: 'rider-9', total_paise: 28_000 });
    t.same(
      moved?.items.map((i) => [i.name, i.quantity]),
      [['Dal Makhani', 2]],
      'with its items',
    );
    t.match(await catalog.getOrder('o1'), { seed_status: 'in_transit', rider_id: 'rider-9' }, 'and it is stored');

    // The durable state has reached seq 7: an older word does not move the row back.
    await db.query(
      `INSERT INTO engine_state (aggregate, aggregate_id, seq, live, row) VALUES ('order', 'o1', 7, true, '{}')`,
    );
    const stale = await catalog.catchUpAndRead('o1', { status: 'confirmed', seq: 3, riderId: null });
    t.match(stale?.row, { seed_status: 'in_transit', rider_id: 'rider-9' }, 'an older seq moves nothing back');
    t.match(await catalog.getOrder('o1'), { seed_status: 'in_transit', rider_id: 'rider-9' });

    const same = await catalog.catchUpAndRead('o1', { status: 'in_transit', seq: 7, riderId: 'rider-9' });
    t.match(same?.row, { seed_status: 'in_transit' }, 'a repeat reads the same');
    // A row ahead of the durable state (a crash lost events it had seen) goes back to the engine's word.
    await db.query(`UPDATE engine_state SET seq = 5 WHERE aggregate_id = 'o1'`);
    const back = await catalog.catchUpAndRead('o1', { status: 'ready', seq: 5, riderId: null });
    t.match(back?.row, { seed_status: 'ready', rider_id: null }, 'a row ahead of the durable state goes back');
    t.match(await catalog.getOrder('o1'), { seed_status: 'ready', rider_id: null });
    t.equal(
      await catalog.catchUpAndRead('nope', { status: 'placed', seq: 1, riderId: null }),
      undefined,
      'an unknown order reads as none',
    );
  });
}
