/**
 * Pruning what the product no longer needs, run hourly by the server:
 * - `idempotency_keys` older than a day (a client retries within minutes);
 * - the sampled position trail beyond its retention (30 days by default);
 * - `engine_state` rows of orders that ended longer ago than the engine's
 *   retention (recovery skips them anyway), after copying their final state
 *   into `orders.status`, so reads of an old order still say how it ended.
 * - stored notifications and the record of pushes sent, after 30 days (an app
 *   lists what it missed for days, not months).
 * The event log (`engine_events`) is the record and is never pruned here.
 */
import type { SqlDatabase } from '../postgres/sql-database.js';

export interface RetentionPolicy {
  /** Ended orders' actor state, ms after they ended (the engine's `retentionMs`). */
  readonly endedStateMs: number;
  readonly idempotencyMs: number;
  readonly trailMs: number;
  /** `notifications` and `push_sends` rows, ms after they were made. */
  readonly noticeMs: number;
}

export const defaultRetention = {
  idempotencyMs: 24 * 3_600_000,
  trailMs: 30 * 24 * 3_600_000,
  noticeMs: 30 * 24 * 3_600_000,
} as const;

export interface PruneReport {
  readonly idempotencyKeys: number;
  readonly trailRows: number;
  readonly endedStates: number;
  readonly notices: number;
}

/** Deletes what is past `policy` at engine time `now` (epoch ms); one transaction per table. */
export async function pruneRetention(db: SqlDatabase, now: number, policy: RetentionPolicy): Promise<PruneReport> {
  const idem = await db.query<{ n: number }>(
    'WITH d AS (DELETE FROM idempotency_keys WHERE created_at < $1 RETURNING 1) SELECT count(*)::int AS n FROM d',
    [new Date(now - policy.idempotencyMs)],
  );
  const trail = await db.query<{ n: number }>(
    'WITH d AS (DELETE FROM rider_positions WHERE at < $1 RETURNING 1) SELECT count(*)::int AS n FROM d',
    [new Date(now - policy.trailMs)],
  );
  const noticeCutoff = new Date(now - policy.noticeMs);
  const notices = await db.query<{ n: number }>(
    'WITH d AS (DELETE FROM notifications WHERE created_at < $1 RETURNING 1) SELECT count(*)::int AS n FROM d',
    [noticeCutoff],
  );
  await db.query('DELETE FROM push_sends WHERE updated_at < $1', [noticeCutoff]);
  const ended = await db.transaction(async (tx) => {
    const cutoff = now - policy.endedStateMs;
    // Final states are plain strings (delivered, cancelled); keep them on the order row.
    await tx.query(
      `UPDATE orders o SET status = s.row->>'value', rider_id = COALESCE(s.row->'context'->>'riderId', o.rider_id), ended_at = to_timestamp(s.ended_at / 1000.0)
       FROM engine_state s WHERE s.aggregate = 'order' AND s.aggregate_id = o.id AND NOT s.live AND s.ended_at > 0 AND s.ended_at < $1`,
      [cutoff],
    );
    return tx.query<{ n: number }>(
      `WITH d AS (DELETE FROM engine_state WHERE aggregate = 'order' AND NOT live AND ended_at > 0 AND ended_at < $1 RETURNING 1) SELECT count(*)::int AS n FROM d`,
      [cutoff],
    );
  });
  return {
    idempotencyKeys: idem.rows[0]?.n ?? 0,
    trailRows: trail.rows[0]?.n ?? 0,
    endedStates: ended.rows[0]?.n ?? 0,
    notices: notices.rows[0]?.n ?? 0,
  };
}
