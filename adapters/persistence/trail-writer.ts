/**
 * The rider position trail (`rider_positions`): a sample of where each rider
 * was, for disputes and replay, never read by matching. The engine keeps only
 * the latest position in memory and the hot path writes nothing, so the trail
 * is fed beside it: at most one fix per rider per `sampleMs`, plus every fix
 * too old for matching (a rider's offline buffer, sent after a reconnect).
 *
 * Rows are gathered in memory and written in batches, one multi-row insert
 * each (`ON CONFLICT DO NOTHING`: a fix sent twice is one row). It is a best
 * effort, not a promise made to a client: while the database is down rows
 * wait, up to `maxBuffered`, and beyond that the oldest are dropped and
 * counted.
 */
import type { PositionFix, RiderId } from '../../protocol/index.js';
import type { SqlDatabase } from '../postgres/sql-database.js';

export interface TrailWriterOptions {
  /** Least time between two sampled fixes of one rider, ms (device time). Default 30 s. */
  readonly sampleMs?: number;
  /** Rows per insert. Default 1000. */
  readonly batchSize?: number;
  /** Most rows waiting for the database; the oldest go beyond it. Default 100 000. */
  readonly maxBuffered?: number;
  /** How often the buffer is written, ms. Default 1000. */
  readonly flushMs?: number;
}

interface Row {
  readonly riderId: string;
  readonly fix: PositionFix;
}

const INSERT = `INSERT INTO rider_positions (rider_id, at, lat, lng, accuracy_m, heading, speed_mps)
  SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::float8[], $5::real[], $6::real[], $7::real[])
  ON CONFLICT (rider_id, at) DO NOTHING`;

const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export class TrailWriter {
  readonly #db: SqlDatabase;
  readonly #sampleMs: number;
  readonly #batchSize: number;
  readonly #maxBuffered: number;
  readonly #lastSampled = new Map<string, number>();
  #rows: Row[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #flushing: Promise<void> | undefined;
  readonly stats = { sampled: 0, written: 0, dropped: 0, failedWrites: 0 };

  constructor(db: SqlDatabase, opts: TrailWriterOptions = {}) {
    this.#db = db;
    this.#sampleMs = opts.sampleMs ?? 30_000;
    this.#batchSize = opts.batchSize ?? 1_000;
    this.#maxBuffered = opts.maxBuffered ?? 100_000;
    if (opts.flushMs !== 0) {
      this.#timer = setInterval(() => void this.flush(), opts.flushMs ?? 1_000);
      this.#timer.unref();
    }
  }

  /** A fix the engine applied: kept if the rider's last sample is `sampleMs` old. Cheap when not kept. */
  sample(riderId: RiderId, fix: PositionFix): void {
    const last = this.#lastSampled.get(riderId);
    if (last !== undefined && fix.at - last < this.#sampleMs) return;
    this.#lastSampled.set(riderId, fix.at);
    this.#push(riderId, fix);
  }

  /** A fix too old for matching: always kept (it is the only record of where the rider was). */
  stale(riderId: RiderId, fix: PositionFix): void {
    this.#push(riderId, fix);
  }

  /** Rows waiting to be written. */
  get buffered(): number {
    return this.#rows.length;
  }

  /** Writes what is buffered; a failure keeps the rows for the next flush. */
  flush(): Promise<void> {
    this.#flushing ??= this.#write().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Stops the timer and writes what is left (once). */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  #push(riderId: string, fix: PositionFix): void {
    this.stats.sampled++;
    this.#rows.push({ riderId, fix: { ...fix } });
    if (this.#rows.length > this.#maxBuffered) {
      const over = this.#rows.length - this.#maxBuffered;
      this.#rows.splice(0, over);
      this.stats.dropped += over;
    }
  }

  async #write(): Promise<void> {
    while (this.#rows.length > 0) {
      const batch = this.#rows.splice(0, this.#batchSize);
      try {
        await this.#db.query(INSERT, [
          batch.map((r) => r.riderId),
          batch.map((r) => new Date(r.fix.at).toISOString()),
          batch.map((r) => r.fix.lat),
          batch.map((r) => r.fix.lng),
          batch.map((r) => orNull(r.fix.accuracy)),
          batch.map((r) => orNull(r.fix.heading)),
          batch.map((r) => orNull(r.fix.speed)),
        ]);
        this.stats.written += batch.length;
      } catch {
        // Back in front, oldest first; what no longer fits is dropped from the oldest end.
        this.stats.failedWrites++;
        this.#rows = batch.concat(this.#rows);
        const over = this.#rows.length - this.#maxBuffered;
        if (over > 0) {
          this.#rows.splice(0, over);
          this.stats.dropped += over;
        }
        return;
      }
    }
  }
}
