import postgres from 'postgres';
import { postgresJsTarget } from './postgres-js-database.js';

/** A one-connection postgres.js client on the server's `postgres` database, for catalogue work. */
function maintenance(connectionString: string): { name: string; sql: postgres.Sql } {
  const target = postgresJsTarget(connectionString);
  const url = new URL(target.url);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  // No type lookup (nothing here reads arrays); notices ("does not exist, skipping") are not news.
  const sql = postgres(url.toString(), {
    ...target.options,
    max: 1,
    connect_timeout: 5,
    fetch_types: false,
    onnotice: () => {},
  });
  return { name, sql };
}

/**
 * Creates the database named in `connectionString` when it does not exist,
 * connecting to the server's `postgres` database to do it. Safe when several
 * processes start at once: a concurrent creation is not an error.
 */
export async function ensureDatabase(connectionString: string): Promise<void> {
  const { name, sql } = maintenance(connectionString);
  try {
    if (!name) throw new Error(`DATABASE_URL names no database: ${redact(connectionString)}`);
    const found = await sql`SELECT 1 FROM pg_database WHERE datname = ${name}`;
    if (found.count) return;
    try {
      await sql.unsafe(`CREATE DATABASE ${quoteIdent(name)}`);
    } catch (err) {
      // 42P04 duplicate_database, 23505 when two CREATE DATABASE race on the catalogue.
      const code = (err as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw err;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Drops a database (tests' throwaway databases), closing other sessions on it first. */
export async function dropDatabase(connectionString: string): Promise<void> {
  const { name, sql } = maintenance(connectionString);
  try {
    await sql.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export const quoteIdent = (s: string): string => `"${s.replaceAll('"', '""')}"`;

/** The URL without its password, for messages. */
export function redact(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}
