import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { SqlDatabase } from './sql-database.js';

/** The migrations folder shipped with the code. */
export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

/** One numbered migration file, `NNNN_name.sql`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** sha256 of the file, hex: an applied migration that changed afterwards is refused. */
  readonly checksum: string;
}

export interface MigrateResult {
  /** Versions applied by this call, in order. */
  readonly applied: readonly number[];
  /** The highest version now in the database. */
  readonly current: number;
}

/** An applied migration whose file changed, or a file that cannot be a migration. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

// One key for every migrate of this schema: concurrent starts queue on it, one at a time.
const LOCK_KEY = 0x64_69_73_70; // "disp"
const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** Reads `dir` and returns its migrations in version order. */
export async function loadMigrations(dir: string = SQL_DIR): Promise<Migration[]> {
  const out: Migration[] = [];
  for (const file of (await readdir(dir)).sort()) {
    if (!file.endsWith('.sql')) continue;
    const m = FILE.exec(file);
    if (!m) throw new MigrationError(`${file}: migrations are named NNNN_snake_name.sql`);
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    if (!sql.startsWith('--')) throw new MigrationError(`${file}: starts without a header comment`);
    const version = Number(m[1]);
    if (out.at(-1)?.version === version) throw new MigrationError(`${file}: version ${version} appears twice`);
    out.push({ version, name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

/**
 * Applies the migrations not yet applied, in order, in ONE transaction that
 * first takes `pg_advisory_xact_lock`: concurrent callers (several servers
 * starting at once) wait for each other and the later ones find nothing to
 * do; a failing migration leaves the database as it was. Records each
 * version with its checksum in `schema_migrations` and refuses to run when
 * an applied file has changed since.
 */
export async function migrate(db: SqlDatabase, migrations?: readonly Migration[]): Promise<MigrateResult> {
  const all = migrations ?? (await loadMigrations());
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await tx.query<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
    );
    const done = new Map(rows.map((r) => [r.version, r]));
    for (const r of rows) {
      const m = all.find((x) => x.version === r.version);
      if (m && m.checksum !== r.checksum) {
        throw new MigrationError(
          `migration ${String(r.version).padStart(4, '0')}_${r.name} changed after it was applied (checksum ${r.checksum.slice(0, 12)} in the database, ${m.checksum.slice(0, 12)} on disk); add a new migration instead`,
        );
      }
    }
    const applied: number[] = [];
    for (const m of all) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ]);
      applied.push(m.version);
    }
    const current = Math.max(0, ...rows.map((r) => r.version), ...applied);
    return { applied, current };
  });
}
