import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import t from 'tap';
import { dropDatabase, ensureDatabase } from '../../../adapters/postgres/ensure-database.js';
import { postgresJsTarget } from '../../../adapters/postgres/postgres-js-database.js';
import { SQL_DRIVERS, serverDatabase } from '../../../adapters/postgres/server-database.js';
import { PG_SERVER } from '../../support/pg.js';

/**
 * `DATABASE_URL` in libpq's form for a Unix socket, `postgres://user@/db?host=<dir>`: psql and
 * node-postgres read it; postgres.js (the default driver) took `host` for a server setting and
 * every connection failed with `unrecognized configuration parameter "host"`.
 */

t.test('postgresJsTarget: the socket directory leaves the URL and becomes the host option', async (t) => {
  t.same(postgresJsTarget('postgres://postgres@/db?host=/var/run/postgresql'), {
    url: 'postgres://postgres@localhost/db',
    options: { host: '/var/run/postgresql' },
  });
  t.same(
    postgresJsTarget('postgresql:///db?host=%2Ftmp%2Fpg&user=me&application_name=x'),
    { url: 'postgresql://localhost/db?user=me&application_name=x', options: { host: '/tmp/pg' } },
    'an empty authority, other parameters kept, the directory percent-decoded',
  );
  t.same(
    postgresJsTarget('postgres://u:p@db.internal:6432/app?host=/sock'),
    { url: 'postgres://u:p@db.internal:6432/app', options: { host: '/sock' } },
    'a named host and port stay (the port names the socket file)',
  );
  for (const plain of ['postgres://postgres@127.0.0.1:5432/db', 'postgres://postgres@127.0.0.1/db?sslmode=disable'])
    t.same(postgresJsTarget(plain), { url: plain, options: {} }, `${plain} unchanged`);
});

t.test('each driver reaches the server through its Unix socket', async (t) => {
  // The server's own socket directory, asked over TCP (Debian: /var/run/postgresql).
  const probe = serverDatabase(`${PG_SERVER}/postgres`, { max: 1 });
  const { dirs, port } = (
    await probe.query<{ dirs: string; port: string }>(
      "SELECT current_setting('unix_socket_directories') AS dirs, current_setting('port') AS port",
    )
  ).rows[0]!;
  await probe.close();
  const dir = dirs.split(',')[0]!.trim();
  t.ok(existsSync(`${dir}/.s.PGSQL.${port}`), `the server listens on ${dir}/.s.PGSQL.${port}`);

  const name = `t_unix_socket_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = `postgres://postgres@/${name}?host=${encodeURIComponent(dir)}`;
  await ensureDatabase(url);
  t.teardown(() => dropDatabase(url));
  for (const driver of SQL_DRIVERS) {
    const db = serverDatabase(url, { max: 1, driver });
    const { rows } = await db.query<{ db: string; addr: string | null; n: number }>(
      'SELECT current_database() AS db, inet_client_addr()::text AS addr, $1::int + 1 AS n',
      [41],
    );
    await db.close();
    // inet_client_addr() is null for a Unix-socket connection only.
    t.same(rows, [{ db: name, addr: null, n: 42 }], `${driver}: the database named, over the socket`);
  }
});

t.test('a socket directory with no server: a clear error, not a hang', async (t) => {
  const db = serverDatabase('postgres://postgres@/postgres?host=/nonexistent-socket-dir', { max: 1 });
  t.teardown(() => db.close());
  await t.rejects(db.query('SELECT 1'), /ENOENT|nonexistent-socket-dir|cannot be reached/);
});
