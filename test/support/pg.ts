import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase } from '../../adapters/postgres/ensure-database.js';

/** The shared test server; a test makes its own database on it and drops it after. */
export const PG_SERVER = process.env['TEST_PG_SERVER'] ?? 'postgres://postgres@127.0.0.1:5432';

/**
 * A fresh, uniquely named database for one test file, dropped at teardown.
 * `t` is the tap test (anything with a teardown).
 */
export async function throwawayDatabase(t: { teardown(fn: () => unknown): void }, label: string): Promise<string> {
  const name = `t_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = `${PG_SERVER}/${name}`;
  await ensureDatabase(url);
  t.teardown(() => dropDatabase(url));
  return url;
}
