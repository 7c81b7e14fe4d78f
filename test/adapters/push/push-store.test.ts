/**
 * The push rows' SQL on both databases the server runs on, Postgres and
 * embedded PGlite: tokens moving between users, notices stored once and
 * paged by cursor, (notice, token) claimed once, retries claimable again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { pgliteDatabase } from '../../../adapters/embedded/pglite-database.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { SQL_DRIVERS, serverDatabase } from '../../../adapters/postgres/server-database.js';
import { type SqlDatabase } from '../../../adapters/postgres/sql-database.js';
import { PushStore } from '../../../adapters/push/push-store.js';
import { reminderFor } from '../../../engine/notify-rules.js';
import type { OrderId, RestaurantId } from '../../../protocol/index.js';
import { throwawayDatabase } from '../../support/pg.js';

async function suite(t: Test, db: SqlDatabase) {
  await migrate(db);
  const s = new PushStore(db);
  await s.register({ token: 'a', userId: 'u1', party: 'customer:u1', platform: 'android', appVersion: '1' });
  await s.register({ token: 'b', userId: 'u1', party: 'customer:u1', platform: 'ios', appVersion: null });
  await s.register({ token: 'a', userId: 'u2', party: 'customer:u2', platform: 'android', appVersion: '2' });
  t.same(
    (await s.tokensOfUser('u1')).map((x) => x.token),
    ['b'],
  );
  t.same(await s.tokensOf(['customer:u2']), [{ token: 'a', party: 'customer:u2' }]);
  const n1 = reminderFor({ id: 'o1' as OrderId, restaurantId: 'r1' as RestaurantId }, 1, 2_000, 1_000);
  const n2 = reminderFor({ id: 'o1' as OrderId, restaurantId: 'r1' as RestaurantId }, 2, 2_000, 1_000);
  await s.storeNotices([n1, n2]);
  await s.storeNotices([n1]);
  const page = await s.noticesOf('restaurant:r1', 0, 1);
  t.same(
    page.map((x) => x.id),
    [n1.id],
  );
  t.same(
    (await s.noticesOf('restaurant:r1', page[0]!.cursor, 10)).map((x) => x.id),
    [n2.id],
    'the cursor pages on',
  );
  t.same((await s.noticesOf('restaurant:r1', 0, 10))[0]!.data, n1.data);
  const first = await s.claim([
    { id: n1.id, token: 'a' },
    { id: n1.id, token: 'b' },
  ]);
  t.equal(first.size, 2);
  t.equal((await s.claim([{ id: n1.id, token: 'a' }])).size, 0, 'claimed once');
  await s.settle([
    { id: n1.id, token: 'a', state: 'retry', detail: 'quota' },
    { id: n1.id, token: 'b', state: 'sent', detail: 'm1' },
  ]);
  t.equal(
    (
      await s.claim([
        { id: n1.id, token: 'a' },
        { id: n1.id, token: 'b' },
      ])
    ).size,
    1,
    'a retry may be claimed again, a sent one not',
  );
  await s.deleteTokens(['a']);
  t.same(await s.tokensOf(['customer:u2']), []);
  t.same(await s.sendCounts(), { claimed: 1, sent: 1 });
}

for (const driver of SQL_DRIVERS) {
  t.test(`Postgres (${driver})`, async (t) => {
    const db = serverDatabase(await throwawayDatabase(t, `pushstore_${driver}`), { max: 2, driver });
    t.teardown(() => db.close());
    await suite(t, db);
  });
}

t.test('PGlite', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pglite-push-'));
  const db = await pgliteDatabase(dir);
  t.teardown(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });
  await suite(t, db);
});
