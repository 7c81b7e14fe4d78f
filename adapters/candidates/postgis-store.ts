import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { CandidateStore } from './candidate-store.js';

const DIR = new URL('../../sql/candidates/', import.meta.url);
const load = (name: string): string => readFileSync(new URL(`${name}.sql`, DIR), 'utf8');
/** Each file's header says what it does and its parameters. */
const Sql = Object.freeze({
  schema: load('schema'),
  upsert: load('upsert-positions'),
  remove: load('remove-riders'),
  nearest: load('nearest-riders'),
});

/**
 * Available riders in a PostGIS table (`riders_available`, geography points,
 * GiST index): positions upserted, candidates by `ST_DWithin` ordered by KNN
 * (`<->`). Writes are batched as an ingest path would: every put and remove
 * waits in memory (the last position per rider wins) while one writer
 * connection applies the previous batch, then goes in one multi-row upsert and
 * one delete. Lookups run on a pool of their own, with prepared statements.
 * The database should be the store's alone (the benchmark makes one per run).
 */
export async function postgisStore(connectionString: string, opts: { readers?: number } = {}): Promise<CandidateStore> {
  const writer = new pg.Client({ connectionString, application_name: 'bench-postgis-writer' });
  await writer.connect();
  await writer.query(Sql.schema);
  const readers = new pg.Pool({ connectionString, max: opts.readers ?? 4, application_name: 'bench-postgis-reader' });
  readers.on('error', () => {});
  const puts = new Map<string, [number, number]>();
  const removes = new Set<string>();
  let writing: Promise<void> | null = null;
  let writeErrors = 0;

  const writeBatch = async (): Promise<void> => {
    while (puts.size > 0 || removes.size > 0) {
      const ids: string[] = [];
      const lngs: number[] = [];
      const lats: number[] = [];
      for (const [id, [lat, lng]] of puts) {
        ids.push(id);
        lngs.push(lng);
        lats.push(lat);
      }
      const gone = [...removes];
      puts.clear();
      removes.clear();
      try {
        if (gone.length > 0) await writer.query({ name: 'remove', text: Sql.remove, values: [gone] });
        if (ids.length > 0) await writer.query({ name: 'upsert', text: Sql.upsert, values: [ids, lngs, lats] });
      } catch {
        writeErrors++;
      }
    }
  };
  const schedule = (): void => {
    if (writing !== null) return;
    writing = new Promise<void>((resolve) => setImmediate(resolve)).then(writeBatch).finally(() => {
      writing = null;
      // A write that came between the last batch and this line would otherwise wait for the next one.
      if (puts.size > 0 || removes.size > 0) schedule();
    });
  };

  const flush = async (): Promise<void> => {
    while (writing !== null) await writing;
  };
  return {
    name: 'postgis',
    put(id, lat, lng) {
      removes.delete(id);
      puts.set(id, [lat, lng]);
      schedule();
    },
    remove(id) {
      puts.delete(id);
      removes.add(id);
      schedule();
    },
    async nearest(lat, lng, radiusM, k) {
      const res = await readers.query<{ id: string }>({
        name: 'nearest',
        text: Sql.nearest,
        values: [lng, lat, radiusM, k],
      });
      return res.rows.map((r) => r.id);
    },
    flush,
    get writeErrors() {
      return writeErrors;
    },
    async close() {
      await flush();
      await writer.end();
      await readers.end();
    },
  };
}
