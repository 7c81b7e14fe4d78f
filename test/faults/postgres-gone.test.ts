import t from 'tap';
import { isConnectionError } from '../../adapters/dependency-error.js';
import { ensureDatabase } from '../../adapters/postgres/ensure-database.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { PgEventStore } from '../../adapters/postgres/pg-event-store.js';
import { SQL_DRIVERS, serverDatabase } from '../../adapters/postgres/server-database.js';
import { startPostgres } from '../support/pg-server.js';

// A statement in flight when the server goes, one sent after, and one after it is back: each must
// end within this long (the drivers' connect timeout is 5 s; a hang would run to the test's timeout).
const PROMPT_MS = 8_000;

const settle = async <T>(p: Promise<T>): Promise<{ ms: number; err: unknown }> => {
  const t0 = performance.now();
  try {
    await p;
    return { ms: performance.now() - t0, err: undefined };
  } catch (err) {
    return { ms: performance.now() - t0, err };
  }
};

for (const driver of SQL_DRIVERS) {
  t.test(`${driver}: Postgres going away mid-run is DEPENDENCY_UNAVAILABLE, never a hang`, async (t) => {
    const pg = await startPostgres(t);
    const url = pg.url('gone');
    await ensureDatabase(url);
    const db = serverDatabase(url, { max: 3, driver });
    t.equal(db.driver, driver);
    await migrate(db);
    const store = new PgEventStore(db);
    t.teardown(() => store.close());
    t.same((await store.readSince(0, 1)).events, [], 'serving');

    const inFlight = settle(db.query('SELECT pg_sleep(30)'));
    const inTx = settle(db.transaction(async (tx) => tx.query('SELECT pg_sleep(30)')));
    await new Promise((r) => setTimeout(r, 300));
    pg.stop();
    for (const [what, p] of [
      ['a statement', inFlight],
      ['a transaction', inTx],
    ] as const) {
      const { ms, err } = await p;
      t.ok(err !== undefined && isConnectionError(err), `${what} in flight fails as the server being away`, {
        err: String(err),
      });
      t.ok(ms < 30_000 && ms < PROMPT_MS + 300, `${what} fails at once (${Math.round(ms)} ms)`);
    }
    for (let i = 0; i < 3; i++) {
      const { ms, err } = await settle(store.readSince(0, 1));
      t.match(err, { code: 'DEPENDENCY_UNAVAILABLE' }, `a read while it is away, try ${i + 1}`);
      t.ok(ms < PROMPT_MS, `answered in ${Math.round(ms)} ms`);
    }

    pg.start();
    const back = performance.now();
    let ok = false;
    while (!ok && performance.now() - back < PROMPT_MS) {
      ok = (await settle(store.readSince(0, 1))).err === undefined;
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    t.ok(ok, `serving again ${Math.round(performance.now() - back)} ms after the restart`);
    // Every connection of the pool serves again, none left holding a statement of before the outage.
    const burst = Promise.all([
      ...Array.from({ length: 30 }, (_, i) => db.query<{ n: number }>('SELECT $1::int AS n', [i])),
      ...Array.from({ length: 10 }, (_, i) =>
        db.transaction(async (tx) => tx.query<{ n: number }>('SELECT $1::int AS n', [100 + i])),
      ),
    ]);
    const { ms, err } = await settle(Promise.race([burst, new Promise((_, no) => setTimeout(no, PROMPT_MS))]));
    t.equal(err, undefined, `30 statements and 10 transactions answered in ${Math.round(ms)} ms`);
  });
}
