/**
 * `npm run migrate`: creates the database when missing and applies every
 * migration in sql/ not yet applied. `DATABASE_URL` defaults to the
 * development database on localhost. Logs one pino line (LOG_LEVEL, LOG_FORMAT).
 */
import { loggerFromEnv } from '../adapters/observability/logger.js';
import { ensureDatabase, redact } from '../adapters/postgres/ensure-database.js';
import { migrate } from '../adapters/postgres/migrate.js';
import { serverDatabase } from '../adapters/postgres/server-database.js';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/dispatch';

const log = loggerFromEnv('migrate');

async function main(): Promise<void> {
  const url = process.env['DATABASE_URL'] || DEFAULT_DATABASE_URL;
  await ensureDatabase(url);
  const db = serverDatabase(url, { max: 1, applicationName: 'dispatch-migrate' });
  try {
    const res = await migrate(db);
    log.info({
      msg: res.applied.length
        ? `migrate: applied ${res.applied.join(', ')} to ${redact(url)}; now at ${res.current}`
        : `migrate: ${redact(url)} is up to date at ${res.current}`,
      applied: res.applied,
      current: res.current,
    });
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  log.fatal({ msg: `migrate: ${err instanceof Error ? err.message : String(err)}` });
  process.exit(1);
});
