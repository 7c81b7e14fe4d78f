import { postgresJsDatabase, type PoolGauge, type ServerDatabaseOptions } from './postgres-js-database.js';
import { pgDatabase, type SqlDatabase } from './sql-database.js';

/** Drivers of the server path: postgres.js by default, node-postgres on request (`DATABASE_DRIVER`). */
export const SQL_DRIVERS = ['postgres-js', 'pg'] as const;
export type SqlDriver = (typeof SQL_DRIVERS)[number];

/**
 * The {@link SqlDatabase} on a Postgres server (`DATABASE_URL`), on the driver
 * asked for. Embedded PGlite is opened apart (adapters/embedded).
 */
export function serverDatabase(
  connectionString: string,
  opts: ServerDatabaseOptions & { readonly driver?: SqlDriver } = {},
): SqlDatabase & { readonly pool: PoolGauge; readonly driver: SqlDriver } {
  const { driver = 'postgres-js', ...rest } = opts;
  const db = driver === 'pg' ? pgDatabase(connectionString, rest) : postgresJsDatabase(connectionString, rest);
  return Object.assign(db, { driver });
}
