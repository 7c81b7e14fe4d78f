import type {
  ActorRow,
  BatchFence,
  EventRecord,
  EventStore,
  PartitionState,
  StoredState,
} from '../../engine/ports/event-store.js';
import type { OrderSnapshotRow, RestaurantSnapshotRow, RiderSnapshotRow } from '../../engine/snapshot.js';
import { checkToken } from '../../engine/ports/fence.js';
import { type AggregateKind, type EngineEvent, ok, reject, type Result } from '../../protocol/index.js';
import { seedStatus, stateName } from '../../protocol/rest/order-status.js';
import { DependencyUnavailableError, isConnectionError } from '../dependency-error.js';
import type { SqlDatabase } from './sql-database.js';
import { Statements } from './statements.js';

/**
 * The {@link EventStore} on SQL: Postgres through node-postgres, or embedded
 * PGlite (same SQL). A batch is one statement (sql/statements/append-batch.sql),
 * so one round trip and one implicit transaction: the events as one multi-row
 * insert (`json_to_recordset` of one JSON parameter, `ON CONFLICT DO NOTHING`),
 * the newest state per actor as one forward-only upsert, and the id counter, as
 * data-modifying CTEs. One JSON document per set keeps it one round trip whatever
 * the batch size, with no staging table, and the same SQL runs in PGlite (COPY
 * does not). It replaced text[] arrays of JSON texts, whose array-literal
 * escaping of every quote showed in the server's CPU profile (docs/benchmarks.md). It was a
 * transaction of five round trips (BEGIN, three statements, COMMIT); on a
 * loopback Postgres the change did not show in CPU (docs/benchmarks.md), but
 * across a network each round trip is a network latency.
 */
export class PgEventStore implements EventStore {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  async append(records: readonly EventRecord[]): Promise<{ inserted: number }> {
    if (records.length === 0) return { inserted: 0 };
    return { inserted: (await this.#appendIn(records, null)).n };
  }

  /**
   * The same statement, which then first raises the partition's token (step 0 of
   * sql/statements/append-batch.sql): one round trip, as an unfenced batch. With no records it
   * only raises the token (a new owner's claim).
   */
  async appendFenced(fence: BatchFence, records: readonly EventRecord[]): Promise<Result<{ inserted: number }>> {
    checkToken(fence.token);
    const r = await this.#appendIn(records, fence);
    if (!r.admitted) {
      return reject('FENCED', `partition ${fence.partition}: token ${fence.token} is below ${Number(r.stored ?? 0)}`);
    }
    return ok({ inserted: r.n });
  }

  async #appendIn(
    records: readonly EventRecord[],
    fence: BatchFence | null,
  ): Promise<{ n: number; admitted: boolean; stored: number | string | null }> {
    // The events and the rows go as two JSON documents (sql/statements/append-batch.sql): one
    // JSON.stringify each, the bodies nested as they are, nothing escaped twice.
    const events: { a: AggregateKind; i: string; s: number; ty: string; ms: number; b: EngineEvent }[] = [];
    // Only the newest state of each actor: one upsert may not touch a row twice.
    const newest = new Map<string, { aggregate: AggregateKind; row: ActorRow }>();
    let idCounter = 0;
    for (const { event, state, idCounter: ic } of records) {
      events.push({ a: event.aggregate, i: event.id, s: event.seq, ty: event.type, ms: event.at, b: event });
      if (ic > idCounter) idCounter = ic;
      if (state) {
        const key = `${event.aggregate}\u0000${event.id}`;
        const had = newest.get(key);
        if (!had || had.row.seq < state.seq) newest.set(key, { aggregate: event.aggregate, row: state });
      }
    }
    // Same lock order in every batch (the events statement sorts too), so overlapping batches never deadlock.
    const ordered = [...newest.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
    const rows = ordered.map(({ aggregate, row }) => {
      const endedAt = aggregate === 'order' ? (row as OrderSnapshotRow).endedAt : 0;
      // The order row's seed status and rider, from the same state row (null for riders and restaurants).
      const o = aggregate === 'order' ? (row as OrderSnapshotRow) : undefined;
      return {
        a: aggregate,
        i: row.id,
        s: row.seq,
        l: endedAt === 0,
        e: endedAt,
        r: row,
        w: o ? seedStatus(stateName(o.value) ?? 'placed', o.context.foodReady) : null,
        rd: o ? o.context.riderId : null,
      };
    });
    try {
      const res = await this.#db.query<{ n: number; admitted: boolean; stored: number | string | null }>(
        Statements.appendBatch,
        [JSON.stringify(events), JSON.stringify(rows), idCounter, fence?.partition ?? null, fence?.token ?? null],
      );
      return res.rows[0] ?? { n: 0, admitted: true, stored: null };
    } catch (err) {
      throw wrap(err, fence ? `append (fenced ${fence.partition})` : 'append');
    }
  }

  async readAggregate(aggregate: AggregateKind, id: string, afterSeq = 0): Promise<EngineEvent[]> {
    try {
      const { rows } = await this.#db.query<{ body: EngineEvent }>(Statements.readAggregate, [aggregate, id, afterSeq]);
      return rows.map((r) => r.body);
    } catch (err) {
      throw wrap(err, 'readAggregate');
    }
  }

  async readSince(after: number, limit: number): Promise<{ events: EngineEvent[]; position: number }> {
    try {
      const { rows } = await this.#db.query<{ pos: number | string; body: EngineEvent }>(Statements.readSince, [
        after,
        limit,
      ]);
      return { events: rows.map((r) => r.body), position: rows.length ? Number(rows.at(-1)!.pos) : after };
    } catch (err) {
      throw wrap(err, 'readSince');
    }
  }

  async loadState(endedSince: number): Promise<StoredState> {
    try {
      const { rows } = await this.#db.query<{ aggregate: AggregateKind; row: ActorRow }>(Statements.loadState, [
        endedSince,
      ]);
      const meta = await this.#db.query<{ value: number | string }>(
        `SELECT value FROM engine_meta WHERE key = 'id_counter'`,
      );
      const restaurants: RestaurantSnapshotRow[] = [];
      const riders: RiderSnapshotRow[] = [];
      const orders: OrderSnapshotRow[] = [];
      for (const r of rows) {
        if (r.aggregate === 'restaurant') restaurants.push(r.row as RestaurantSnapshotRow);
        else if (r.aggregate === 'rider') riders.push(r.row as RiderSnapshotRow);
        else orders.push(r.row as OrderSnapshotRow);
      }
      return { restaurants, riders, orders, idCounter: Number(meta.rows[0]?.value ?? 0) };
    } catch (err) {
      throw wrap(err, 'loadState');
    }
  }

  async loadPartition(partition: string, endedSince: number): Promise<PartitionState> {
    try {
      const { rows } = await this.#db.query<{ aggregate: AggregateKind; row: ActorRow; stamped: boolean }>(
        Statements.loadPartition,
        [endedSince, partition],
      );
      const meta = await this.#db.query<{ value: number | string }>(
        `SELECT value FROM engine_meta WHERE key = 'id_counter'`,
      );
      const own = {
        restaurants: [] as RestaurantSnapshotRow[],
        riders: [] as RiderSnapshotRow[],
        orders: [] as OrderSnapshotRow[],
      };
      const unassigned = {
        restaurants: [] as RestaurantSnapshotRow[],
        riders: [] as RiderSnapshotRow[],
        orders: [] as OrderSnapshotRow[],
      };
      for (const r of rows) {
        const into = r.stamped ? own : unassigned;
        if (r.aggregate === 'restaurant') into.restaurants.push(r.row as RestaurantSnapshotRow);
        else if (r.aggregate === 'rider') into.riders.push(r.row as RiderSnapshotRow);
        else into.orders.push(r.row as OrderSnapshotRow);
      }
      return { ...own, unassigned, idCounter: Number(meta.rows[0]?.value ?? 0) };
    } catch (err) {
      throw wrap(err, 'loadPartition');
    }
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}

function wrap(err: unknown, op: string): unknown {
  return isConnectionError(err)
    ? new DependencyUnavailableError(`event store ${op}: the database cannot be reached`, { cause: err })
    : err;
}
