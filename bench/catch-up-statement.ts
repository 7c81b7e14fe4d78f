/**
 * `npx tsx bench/catch-up-statement.ts [N]`: what the answer to a status change (`PUT
 * /orders/{id}/status`) costs Postgres and the client, per order, in its two forms: the status
 * catch-up then the read (`setOrderStatuses`, `orderWithItems`: two statements, as until 7 December
 * 2026) against `catchUpAndRead` (one). A throwaway database on the machine's Postgres with N
 * orders (default 3000); each form moves every order forward once per round, three rounds,
 * alternated. Postgres CPU is the serving backend's (/proc), so it runs on the database's machine.
 */
import { readFileSync } from 'node:fs';
import { CatalogStore } from '../adapters/postgres/catalog-store.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { serverDatabase } from '../adapters/postgres/server-database.js';

const N = Number(process.argv[2] ?? 3000);
if (!(Number.isInteger(N) && N > 0 && N <= 1_000_000)) {
  console.error(`catch-up-statement: N must be an integer in 1..1000000, got ${process.argv[2]}`);
  process.exit(2);
}
const base = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `catch_up_${process.pid}`;
const admin = serverDatabase(base, { max: 1 });
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(base);
url.pathname = `/${name}`;
const db = serverDatabase(url.toString(), { max: 1 });
try {
  await migrate(db);
  const catalog = new CatalogStore(db);
  await db.query(
    `INSERT INTO orders (id, customer_id, restaurant_id, status, drop_lat, drop_lng, placed_at, seed_status, status_seq)
     SELECT 'o' || g, 'c', 'r', 'placed', 12.97, 77.59, now(), 'placed', 1 FROM generate_series(0, $1::int - 1) g`,
    [N],
  );
  await db.query(
    `INSERT INTO order_items (order_id, line, menu_item_id, name, unit_paise, quantity)
     SELECT 'o' || g, 0, 'm1', 'Dal Makhani', 14000, 2 FROM generate_series(0, $1::int - 1) g`,
    [N],
  );
  const backendCpuUs = async () => {
    const pid = (await db.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000; // clock ticks of 10 ms
  };
  let seq = 1;
  console.log('round | form | Postgres CPU µs per order | client CPU µs per order | wall µs per order');
  for (const round of [1, 2, 3])
    for (const form of ['two statements', 'catchUpAndRead'] as const) {
      seq++;
      const pg0 = await backendCpuUs();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        const moved = { status: 'confirmed', seq, riderId: null };
        if (form === 'two statements') {
          await catalog.setOrderStatuses([{ id: `o${i}`, ...moved }]);
          await catalog.orderWithItems(`o${i}`);
        } else await catalog.catchUpAndRead(`o${i}`, moved);
      }
      const wall = ((performance.now() - t0) * 1000) / N;
      const cpu = process.cpuUsage(cpu0);
      const pg = ((await backendCpuUs()) - pg0) / N;
      console.log(
        `${round} | ${form} | ${pg.toFixed(0)} | ${((cpu.user + cpu.system) / N).toFixed(0)} | ${wall.toFixed(0)}`,
      );
    }
} finally {
  await db.close();
  await admin.query(`DROP DATABASE ${name}`);
  await admin.close();
}
