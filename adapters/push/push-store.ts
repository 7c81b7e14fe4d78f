/**
 * The push rows in Postgres (sql/0006_push.sql): device tokens per party, the
 * at-most-once record of each (notification, token) send, and the stored
 * notifications apps list with `GET /notifications?since=`. Same SQL on a
 * Postgres server and on embedded PGlite.
 */
import type { Notice } from '../../engine/index.js';
import type { OrderFacts, WaitingOrder } from '../../engine/index.js';
import type { CustomerId, OrderId, RestaurantId, RiderId } from '../../protocol/index.js';
import type { SqlDatabase } from '../postgres/sql-database.js';

export type Platform = 'android' | 'ios' | 'web';

export interface TokenRow {
  readonly token: string;
  readonly party: string;
}

export type SendState = 'sent' | 'retry' | 'dropped' | 'failed';

/** What FCM answered for one claimed (notice, token). */
export interface SendResult {
  readonly id: string;
  readonly token: string;
  readonly state: SendState;
  readonly detail: string | null;
}

/** A notification as `GET /notifications` lists it. */
export interface StoredNotice {
  readonly id: string;
  readonly kind: string;
  readonly order_id: string | null;
  readonly title: string;
  readonly body: string;
  readonly data: Record<string, string>;
  readonly created_at: string;
  /** Pass as `since` to list what came after this one. */
  readonly cursor: number;
}

export class PushStore {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  /**
   * Registers a device token for a user and party. A token is one device: registered again by
   * another user (a shared phone, a new login), it moves to them and leaves the first.
   */
  async register(t: {
    token: string;
    userId: string;
    party: string;
    platform: Platform;
    appVersion: string | null;
  }): Promise<void> {
    await this.#db.query(
      `INSERT INTO push_tokens (token, user_id, party, platform, app_version) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (token) DO UPDATE SET user_id = EXCLUDED.user_id, party = EXCLUDED.party,
         platform = EXCLUDED.platform, app_version = EXCLUDED.app_version, last_seen_at = now()`,
      [t.token, t.userId, t.party, t.platform, t.appVersion],
    );
  }

  /** Removes the user's token; false when the user has no such token. */
  async remove(userId: string, token: string): Promise<boolean> {
    const r = await this.#db.query('DELETE FROM push_tokens WHERE token = $1 AND user_id = $2 RETURNING token', [
      token,
      userId,
    ]);
    return r.rows.length > 0;
  }

  async tokensOfUser(userId: string): Promise<{ token: string; platform: string; app_version: string | null }[]> {
    const r = await this.#db.query<{ token: string; platform: string; app_version: string | null }>(
      'SELECT token, platform, app_version FROM push_tokens WHERE user_id = $1 ORDER BY created_at, token',
      [userId],
    );
    return r.rows;
  }

  async tokensOf(parties: readonly string[]): Promise<TokenRow[]> {
    if (parties.length === 0) return [];
    const r = await this.#db.query<TokenRow>('SELECT token, party FROM push_tokens WHERE party = ANY($1::text[])', [
      parties,
    ]);
    return r.rows;
  }

  /** FCM says these tokens are gone or invalid. */
  async deleteTokens(tokens: readonly string[]): Promise<void> {
    if (tokens.length > 0) await this.#db.query('DELETE FROM push_tokens WHERE token = ANY($1::text[])', [tokens]);
  }

  /** Stores notices once each (by id); the ones already stored are left as they are. */
  async storeNotices(notices: readonly Notice[]): Promise<void> {
    if (notices.length === 0) return;
    await this.#db.query(
      `INSERT INTO notifications (id, party, order_id, kind, title, body, data)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])
       ON CONFLICT (id) DO NOTHING`,
      [
        notices.map((n) => n.id),
        notices.map((n) => n.party),
        notices.map((n) => n.orderId),
        notices.map((n) => n.kind),
        notices.map((n) => n.title),
        notices.map((n) => n.body),
        notices.map((n) => JSON.stringify(n.data)),
      ],
    );
  }

  /** A party's notifications after `since` (a cursor from an earlier page; 0: from the start), oldest first. */
  async noticesOf(party: string, since: number, limit: number): Promise<StoredNotice[]> {
    type NoticeRow = Omit<StoredNotice, 'created_at' | 'cursor'> & { pos: number; created_at: Date };
    const r = await this.#db.query<NoticeRow>(
      `SELECT pos, id, kind, order_id, title, body, data, created_at FROM notifications
       WHERE party = $1 AND pos > $2 ORDER BY pos LIMIT $3`,
      [party, since, limit],
    );
    return r.rows.map((x) => ({
      id: x.id,
      kind: x.kind,
      order_id: x.order_id,
      title: x.title,
      body: x.body,
      data: x.data,
      created_at: new Date(x.created_at).toISOString(),
      cursor: Number(x.pos),
    }));
  }

  /**
   * Claims (notification, token) pairs before sending: new pairs, and pairs FCM asked to retry.
   * Returns the pairs claimed; a pair sent, being sent, dropped or failed is never claimed again.
   */
  async claim(pairs: readonly { id: string; token: string }[]): Promise<Set<string>> {
    if (pairs.length === 0) return new Set();
    const ids = pairs.map((p) => p.id);
    const tokens = pairs.map((p) => p.token);
    const fresh = await this.#db.query<{ notification_id: string; token: string }>(
      `INSERT INTO push_sends (notification_id, token, state)
       SELECT n, t, 'claimed' FROM unnest($1::text[], $2::text[]) AS u(n, t)
       ON CONFLICT (notification_id, token) DO NOTHING RETURNING notification_id, token`,
      [ids, tokens],
    );
    const again = await this.#db.query<{ notification_id: string; token: string }>(
      `UPDATE push_sends s SET state = 'claimed', attempts = s.attempts + 1, updated_at = now()
       FROM unnest($1::text[], $2::text[]) AS u(n, t)
       WHERE s.notification_id = u.n AND s.token = u.t AND s.state = 'retry' RETURNING s.notification_id, s.token`,
      [ids, tokens],
    );
    return new Set([...fresh.rows, ...again.rows].map((r) => pairKey(r.notification_id, r.token)));
  }

  /** Records what FCM answered for claimed pairs. */
  async settle(results: readonly SendResult[]): Promise<void> {
    if (results.length === 0) return;
    await this.#db.query(
      `UPDATE push_sends s SET state = u.st, detail = u.d, updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(n, t, st, d)
       WHERE s.notification_id = u.n AND s.token = u.t`,
      [
        results.map((r) => r.id),
        results.map((r) => r.token),
        results.map((r) => r.state),
        results.map((r) => r.detail),
      ],
    );
  }

  /** Counts of sends per state (tests, metrics). */
  async sendCounts(): Promise<Record<string, number>> {
    const r = await this.#db.query<{ state: string; n: number }>(
      'SELECT state, count(*)::int AS n FROM push_sends GROUP BY state',
    );
    return Object.fromEntries(r.rows.map((x) => [x.state, x.n]));
  }

  /** Paid orders still waiting for their restaurant to accept, with when they were paid (engine ms). */
  async waitingOrders(): Promise<WaitingOrder[]> {
    const r = await this.#db.query<{ id: string; restaurant_id: string; paid_at: Date; accept_by: string }>(
      // Paid when placed (order_placed) or later (order_payment_confirmed): the later of the two.
      `SELECT s.aggregate_id AS id, min(s.row->>'restaurantId') AS restaurant_id, max(e.at) AS paid_at,
              min(s.row->'context'->>'restaurantAcceptBy') AS accept_by
       FROM engine_state s
       JOIN engine_events e ON e.aggregate = 'order' AND e.aggregate_id = s.aggregate_id
         AND e.type IN ('order_placed', 'order_payment_confirmed')
       WHERE s.aggregate = 'order' AND s.live AND s.row->>'value' = 'awaiting_restaurant'
       GROUP BY s.aggregate_id`,
    );
    return r.rows.map((x) => ({
      id: x.id as OrderId,
      restaurantId: x.restaurant_id as RestaurantId,
      paidAt: new Date(x.paid_at).getTime(),
      acceptBy: Number(x.accept_by),
    }));
  }

  /** The orders' parties and live offer, from their latest stored state (rider events name no parties). */
  async orderFacts(ids: readonly string[]): Promise<Map<string, OrderFacts>> {
    const out = new Map<string, OrderFacts>();
    if (ids.length === 0) return out;
    const r = await this.#db.query<{ aggregate_id: string; row: unknown }>(
      `SELECT aggregate_id, row FROM engine_state WHERE aggregate = 'order' AND aggregate_id = ANY($1::text[])`,
      [ids],
    );
    for (const x of r.rows) {
      const row = (typeof x.row === 'string' ? JSON.parse(x.row) : x.row) as OrderRowLike;
      out.set(x.aggregate_id, orderFactsOf(row));
    }
    return out;
  }
}

export const pairKey = (id: string, token: string) => `${id}\u0000${token}`;

/** The part of an order's snapshot row the rules need. */
export interface OrderRowLike {
  readonly id: string;
  readonly customerId: string;
  readonly restaurantId: string;
  readonly context: {
    readonly riderId: string | null;
    readonly offerId: string | null;
    readonly offerExpiresAt: number;
    readonly restaurantAcceptBy: number;
  };
}

export function orderFactsOf(row: OrderRowLike): OrderFacts {
  return {
    id: row.id as OrderId,
    customerId: row.customerId as CustomerId,
    restaurantId: row.restaurantId as RestaurantId,
    riderId: row.context.riderId as RiderId | null,
    offerId: row.context.offerId,
    offerExpiresAt: row.context.offerExpiresAt,
    restaurantAcceptBy: row.context.restaurantAcceptBy,
  };
}
