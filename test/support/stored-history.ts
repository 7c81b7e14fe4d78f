/**
 * The rules of issue 20's failover tests, checked over every process's stored
 * events (Postgres `engine_events`, all partitions): what was placed, to whom
 * each order was assigned, the orders assigned twice with no unassignment
 * between, and the riders that held two jobs at once.
 */
import type { SqlDatabase } from '../../adapters/postgres/sql-database.js';

export interface StoredHistory {
  /** Orders with an `order_placed` event. */
  readonly placed: ReadonlySet<string>;
  /** Each order's riders, in the order of their `order_assigned` events. */
  readonly assignedTo: ReadonlyMap<string, readonly string[]>;
  /** Orders assigned while an assignment stood. */
  readonly doubleOrders: readonly string[];
  /** Riders assigned a job while holding another (capacity 1: no stacking in these tests). */
  readonly twoJobs: readonly string[];
}

type Row = { aggregate: string; aggregate_id: string; type: string; body: { riderId?: string; orderId?: string } };

export async function storedHistory(db: SqlDatabase): Promise<StoredHistory> {
  const rows = (
    await db.query<Row>(
      `SELECT aggregate, aggregate_id, type, body FROM engine_events ORDER BY aggregate, aggregate_id, seq`,
    )
  ).rows;
  const placed = new Set(rows.filter((r) => r.type === 'order_placed').map((r) => r.aggregate_id));
  const assignedTo = new Map<string, string[]>();
  const doubleOrders: string[] = [];
  const open = new Map<string, string | null>();
  const jobs = new Map<string, Set<string>>();
  const twoJobs: string[] = [];
  for (const r of rows) {
    if (r.aggregate === 'order') {
      if (r.type === 'order_assigned') {
        if (open.get(r.aggregate_id)) doubleOrders.push(r.aggregate_id);
        open.set(r.aggregate_id, r.body.riderId!);
        assignedTo.set(r.aggregate_id, [...(assignedTo.get(r.aggregate_id) ?? []), r.body.riderId!]);
      } else if (r.type === 'order_unassigned') open.set(r.aggregate_id, null);
    } else if (r.aggregate === 'rider') {
      const held = jobs.get(r.aggregate_id) ?? new Set<string>();
      jobs.set(r.aggregate_id, held);
      if (r.type === 'rider_assigned') {
        held.add(r.body.orderId!);
        if (held.size > 1) twoJobs.push(r.aggregate_id);
      } else if (r.type === 'rider_released' || r.type === 'rider_delivered') held.delete(r.body.orderId!);
    }
  }
  return { placed, assignedTo, doubleOrders, twoJobs };
}
