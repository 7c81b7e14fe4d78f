/**
 * What the REST gateway keeps in Postgres (or PGlite) beside the engine's own
 * log: profiles, restaurant details and menus, orders as placed (address,
 * priced items, payment method) and Idempotency-Key results (sql/0001_init.sql,
 * sql/0003_gateway.sql); payments and refunds are the MoneyStore's
 * (money-store.ts). Written synchronously: the client is answered after the
 * row is committed. Connection failures surface as DependencyUnavailableError
 * (guarded.ts; 503 at the edge).
 */
import type { MenuItem, OperatingHours } from '../../engine/catalog.js';
import { guarded } from './guarded.js';
import type { RefundView } from './money-store.js';
import type { SqlDatabase, SqlTx } from './sql-database.js';

export interface UserRow {
  readonly id: string;
  readonly role: string;
  readonly email: string | null;
  readonly phone: string | null;
  readonly display_name: string | null;
  readonly address: Record<string, unknown> | null;
  readonly preferences: Record<string, unknown> | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export interface RestaurantRow {
  readonly id: string;
  readonly owner_user_id: string | null;
  readonly name: string;
  readonly description: string | null;
  readonly lat: number;
  readonly lng: number;
  readonly address: Record<string, unknown>;
  readonly cuisine_types: string[];
  readonly operating_hours: OperatingHours | null;
  readonly contact: Record<string, unknown> | null;
  readonly prep_minutes: number;
  readonly capacity: number;
  readonly created_at: Date;
}

export interface MenuItemRow {
  readonly id: string;
  readonly category: string;
  readonly name: string;
  readonly description: string | null;
  readonly price_paise: number;
  readonly image_url: string | null;
  readonly available: boolean;
  readonly preparation_time: number | null;
  readonly dietary_info: string[];
}

export interface OrderRow {
  readonly id: string;
  readonly customer_id: string;
  readonly restaurant_id: string;
  readonly total_paise: number;
  readonly drop_lat: number;
  readonly drop_lng: number;
  readonly delivery_address: Record<string, unknown>;
  readonly payment_method: 'UPI' | 'CASH';
  readonly tracking_id: string;
  readonly placed_at: Date;
  readonly estimated_delivery_at: Date;
  /** The engine's latest stored state of the order (engine_state), when written behind. */
  readonly state_row: { value: unknown; context?: Record<string, unknown> } | null;
  /** The final state, copied here when the engine's state row is pruned (persistence/retention.ts). */
  readonly status: string;
  readonly rider_id: string | null;
  /** The word REST shows (protocol/rest/order-status.ts), kept current by the write-behind. */
  readonly seed_status: string;
  readonly restaurant_address: Record<string, unknown> | null;
  /** The order's latest refund, if any. */
  readonly refund: RefundView | null;
}

/** An order's seed status, event seq and rider as the live engine has them. */
export interface OrderStatusNow {
  readonly status: string;
  readonly seq: number;
  readonly riderId: string | null;
}

export interface OrderItemRow {
  readonly menu_item_id: string;
  readonly name: string;
  readonly unit_paise: number;
  readonly quantity: number;
  readonly special_instructions: string | null;
}

export interface StoredReply {
  readonly route: string;
  readonly request_hash: string;
  readonly status: number;
  readonly response: unknown;
}

const json = (x: unknown): string | null => (x === undefined || x === null ? null : JSON.stringify(x));

export class CatalogStore {
  constructor(readonly db: SqlDatabase) {}

  /** Runs `fn` in one transaction; a lost connection becomes DependencyUnavailableError ({@link guarded}). */
  transaction<T>(what: string, fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    return guarded(what, () => this.db.transaction(fn));
  }

  /**
   * Runs `fn` without a transaction of its own: each statement commits alone.
   * For writes that are one statement anyway, which saves the BEGIN and
   * COMMIT round trips.
   */
  autocommit<T>(what: string, fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    return guarded(what, () => fn(this.db));
  }

  /** True when the database answers. */
  async ping(): Promise<boolean> {
    try {
      await this.db.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  // ─── Users ───────────────────────────────────────────────────────────────

  /** Makes sure the caller has a users row (restaurants and riders reference it). */
  async ensureUser(tx: SqlTx, u: { uid: string; role: string; email: string; phone: string }): Promise<void> {
    await tx.query(
      `INSERT INTO users (id, role, email, phone) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, email = EXCLUDED.email, phone = COALESCE(users.phone, EXCLUDED.phone)`,
      [u.uid, u.role, u.email, u.phone],
    );
  }

  getUser(uid: string): Promise<UserRow | undefined> {
    return guarded(
      'read profile',
      async () => (await this.db.query<UserRow>('SELECT * FROM users WHERE id = $1', [uid])).rows[0],
    );
  }

  /** Writes the fields given; fields left out keep their stored value. */
  async updateProfile(
    tx: SqlTx,
    uid: string,
    p: { name?: string | undefined; phone?: string | undefined; address?: unknown; preferences?: unknown },
  ): Promise<void> {
    await tx.query(
      `UPDATE users SET display_name = COALESCE($2, display_name), phone = COALESCE($3, phone),
         address = COALESCE($4::jsonb, address), preferences = COALESCE($5::jsonb, preferences), updated_at = now()
       WHERE id = $1`,
      [uid, p.name ?? null, p.phone ?? null, json(p.address), json(p.preferences)],
    );
  }

  // ─── Restaurants and menus ───────────────────────────────────────────────

  async insertRestaurant(tx: SqlTx, r: Omit<RestaurantRow, 'created_at'> & { h3_cell: string }): Promise<boolean> {
    const res = await tx.query(
      `INSERT INTO restaurants (id, owner_user_id, name, description, lat, lng, h3_cell, address, cuisine_types, operating_hours, contact, prep_minutes, capacity)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10::jsonb, $11::jsonb, $12, $13)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        r.id,
        r.owner_user_id,
        r.name,
        r.description,
        r.lat,
        r.lng,
        r.h3_cell,
        json(r.address),
        r.cuisine_types,
        json(r.operating_hours),
        json(r.contact),
        r.prep_minutes,
        r.capacity,
      ],
    );
    return res.rows.length === 1;
  }

  getRestaurant(id: string): Promise<RestaurantRow | undefined> {
    return guarded(
      'read restaurant',
      async () => (await this.db.query<RestaurantRow>('SELECT * FROM restaurants WHERE id = $1', [id])).rows[0],
    );
  }

  /** Restaurants inside a bounding box (the caller sorts by exact distance). */
  restaurantsIn(
    box: { minLat: number; maxLat: number; minLng: number; maxLng: number },
    limit: number,
  ): Promise<RestaurantRow[]> {
    return guarded(
      'list restaurants',
      async () =>
        (
          await this.db.query<RestaurantRow>(
            'SELECT * FROM restaurants WHERE lat BETWEEN $1 AND $2 AND lng BETWEEN $3 AND $4 LIMIT $5',
            [box.minLat, box.maxLat, box.minLng, box.maxLng, limit],
          )
        ).rows,
    );
  }

  async setRestaurantStatus(tx: SqlTx, id: string, status: string): Promise<void> {
    await tx.query('UPDATE restaurants SET status = $2 WHERE id = $1', [id, status]);
  }

  /** Replaces the whole menu of a restaurant. */
  async replaceMenu(tx: SqlTx, restaurantId: string, items: readonly MenuItemRow[]): Promise<void> {
    await tx.query('DELETE FROM menu_items WHERE restaurant_id = $1', [restaurantId]);
    if (items.length === 0) return;
    await tx.query(
      `INSERT INTO menu_items (id, restaurant_id, category, name, description, price_paise, image_url, available, preparation_time, dietary_info, position)
       SELECT m.id, $1, m.category, m.name, m.description, m.price_paise, m.image_url, m.available, m.preparation_time,
              ARRAY(SELECT json_array_elements_text(m.dietary_info)), m.position
       FROM json_to_recordset($2::json) AS m(id text, category text, name text, description text, price_paise integer, image_url text,
            available boolean, preparation_time integer, dietary_info json, position integer)`,
      [restaurantId, JSON.stringify(items.map((m, position) => ({ ...m, position })))],
    );
  }

  menuOf(restaurantId: string): Promise<MenuItemRow[]> {
    return guarded(
      'read menu',
      async () =>
        (
          await this.db.query<MenuItemRow>(
            `SELECT id, category, name, description, price_paise, image_url, available, preparation_time, dietary_info
       FROM menu_items WHERE restaurant_id = $1 ORDER BY position`,
            [restaurantId],
          )
        ).rows,
    );
  }

  /** A restaurant and its menu as the pricing rule reads it, in one round trip (placing an order). */
  restaurantWithPrices(id: string): Promise<{ restaurant: RestaurantRow; prices: Map<string, MenuItem> } | undefined> {
    return guarded('read restaurant', async () => {
      const row = (
        await this.db.query<
          RestaurantRow & { price_list: { id: string; name: string; price_paise: number; available: boolean }[] }
        >(
          `SELECT r.*, COALESCE((SELECT json_agg(json_build_object('id', m.id, 'name', m.name, 'price_paise', m.price_paise, 'available', m.available))
                               FROM menu_items m WHERE m.restaurant_id = r.id), '[]'::json) AS price_list
         FROM restaurants r WHERE r.id = $1`,
          [id],
        )
      ).rows[0];
      if (!row) return undefined;
      const { price_list: list, ...restaurant } = row;
      return {
        restaurant,
        prices: new Map(
          list.map((m) => [m.id, { id: m.id, name: m.name, pricePaise: m.price_paise, available: m.available }]),
        ),
      };
    });
  }

  // ─── Riders ──────────────────────────────────────────────────────────────

  async insertRider(
    tx: SqlTx,
    r: {
      id: string;
      user_id: string | null;
      name: string;
      phone: string | null;
      vehicle: string;
      license_number: string;
      documents: unknown;
      bank_details_enc: Buffer | null;
    },
  ): Promise<boolean> {
    const res = await tx.query(
      `INSERT INTO riders (id, user_id, name, phone, vehicle, license_number, documents, bank_details_enc)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [r.id, r.user_id, r.name, r.phone, r.vehicle, r.license_number, json(r.documents) ?? '{}', r.bank_details_enc],
    );
    if (res.rows.length === 0) return false;
    const docs = Object.entries((r.documents ?? {}) as Record<string, string>);
    for (const [kind, url] of docs) {
      await tx.query('INSERT INTO rider_documents (rider_id, kind, storage_url) VALUES ($1, $2, $3)', [
        r.id,
        kind,
        url,
      ]);
    }
    return true;
  }

  /**
   * A rider's documents sent again: each kind's URL replaces the one on the
   * rider's row and joins the verification queue as pending. False when the
   * rider has no row.
   */
  async resubmitRiderDocuments(
    tx: SqlTx,
    id: string,
    documents: Readonly<Record<string, string>>,
    licenseNumber: string | undefined,
  ): Promise<boolean> {
    const res = await tx.query(
      `UPDATE riders SET documents = documents || $2::jsonb, license_number = coalesce($3, license_number)
       WHERE id = $1 RETURNING id`,
      [id, json(documents) ?? '{}', licenseNumber ?? null],
    );
    if (res.rows.length === 0) return false;
    for (const [kind, url] of Object.entries(documents)) {
      await tx.query('INSERT INTO rider_documents (rider_id, kind, storage_url) VALUES ($1, $2, $3)', [id, kind, url]);
    }
    return true;
  }

  // ─── Orders ──────────────────────────────────────────────────────────────

  /**
   * The order row and its items, in one statement (one round trip). `now` is the order's seed status
   * as the live engine has it (status_seq: the order's event seq).
   */
  async insertOrder(
    tx: SqlTx,
    o: Omit<OrderRow, 'state_row' | 'restaurant_address' | 'status' | 'rider_id' | 'seed_status' | 'refund'> & {
      payer_vpa: string | null;
    },
    items: readonly OrderItemRow[],
    now: OrderStatusNow,
  ): Promise<void> {
    await tx.query(
      `WITH o AS (
         INSERT INTO orders (id, customer_id, restaurant_id, status, drop_lat, drop_lng, total_paise, placed_at, delivery_address, payment_method, payer_vpa, tracking_id, estimated_delivery_at,
                             seed_status, status_seq, rider_id)
         VALUES ($1, $2, $3, 'placed', $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $14, $15, $16)
         RETURNING id
       )
       INSERT INTO order_items (order_id, line, menu_item_id, name, unit_paise, quantity, special_instructions)
       SELECT o.id, i.line, i.menu_item_id, i.name, i.unit_paise, i.quantity, i.special_instructions
       FROM o, json_to_recordset($13::json) AS i(line integer, menu_item_id text, name text, unit_paise integer, quantity integer, special_instructions text)`,
      [
        o.id,
        o.customer_id,
        o.restaurant_id,
        o.drop_lat,
        o.drop_lng,
        o.total_paise,
        o.placed_at,
        json(o.delivery_address),
        o.payment_method,
        o.payer_vpa,
        o.tracking_id,
        o.estimated_delivery_at,
        JSON.stringify(items.map((i, line) => ({ ...i, line }))),
        now.status,
        now.seq,
        now.riderId,
      ],
    );
  }

  /**
   * Brings order rows' seed status and rider up to the live engine's, only forward by seq, or
   * back to it where a row is ahead of the durable state (a crash lost events the row had seen).
   * Answers how many rows changed.
   */
  setOrderStatuses(orders: readonly (OrderStatusNow & { id: string })[]): Promise<number> {
    if (orders.length === 0) return Promise.resolve(0);
    const sorted = [...orders].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return guarded(
      'update order status',
      async () =>
        (
          await this.db.query<{ n: number }>(`WITH u AS (${CATCH_UP}) SELECT count(*)::int AS n FROM u`, [
            sorted.map((o) => o.id),
            sorted.map((o) => o.status),
            sorted.map((o) => o.seq),
            sorted.map((o) => o.riderId),
          ])
        ).rows[0]?.n ?? 0,
    );
  }

  /** Which of `ids` have an order row. */
  existingOrders(ids: readonly string[]): Promise<string[]> {
    return guarded('read orders', async () =>
      (await this.db.query<{ id: string }>('SELECT id FROM orders WHERE id = ANY($1::text[])', [ids])).rows.map(
        (r) => r.id,
      ),
    );
  }

  getOrder(id: string): Promise<OrderRow | undefined> {
    return guarded(
      'read order',
      async () => (await this.db.query<OrderRow>(`${ORDER_SELECT} WHERE o.id = $1`, [id])).rows[0],
    );
  }

  /** An order row with its items, in one round trip (showing one order). */
  orderWithItems(id: string): Promise<{ row: OrderRow; items: OrderItemRow[] } | undefined> {
    return guarded('read order', async () => {
      const found = (
        await this.db.query<OrderRow & { items: OrderItemRow[] }>(`${ORDER_SELECT_WITH_ITEMS} WHERE o.id = $1`, [id])
      ).rows[0];
      if (!found) return undefined;
      const { items, ...row } = found;
      return { row, items };
    });
  }

  /**
   * {@link setOrderStatuses} for one order, then the order with its items as
   * {@link orderWithItems} reads it, in one statement (one round trip): the
   * answer to a status change. The read shows the row as the update left it.
   */
  catchUpAndRead(id: string, now: OrderStatusNow): Promise<{ row: OrderRow; items: OrderItemRow[] } | undefined> {
    return guarded('update and read order', async () => {
      const found = (
        await this.db.query<OrderRow & { items: OrderItemRow[] }>(
          `WITH u AS (${CATCH_UP_ONE}) ${ORDER_SELECT_AFTER_CATCH_UP} WHERE o.id = $1::text`,
          [id, now.status, now.seq, now.riderId],
        )
      ).rows[0];
      if (!found) return undefined;
      const { items, ...row } = found;
      return { row, items };
    });
  }

  itemsOf(orderIds: readonly string[]): Promise<Map<string, OrderItemRow[]>> {
    return guarded('read order items', async () => {
      const rows = (
        await this.db.query<OrderItemRow & { order_id: string }>(
          'SELECT order_id, menu_item_id, name, unit_paise, quantity, special_instructions FROM order_items WHERE order_id = ANY($1) ORDER BY order_id, line',
          [orderIds],
        )
      ).rows;
      const out = new Map<string, OrderItemRow[]>();
      for (const r of rows) {
        const list = out.get(r.order_id) ?? [];
        list.push(r);
        out.set(r.order_id, list);
      }
      return out;
    });
  }

  /** A page of orders, newest first, with the total count of the filter. */
  listOrders(f: {
    customerId?: string;
    restaurantId?: string;
    riderId?: string;
    statuses?: readonly string[];
    from?: Date;
    to?: Date;
    ids?: readonly string[];
    limit: number;
    offset: number;
  }): Promise<{ rows: OrderRow[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.customerId !== undefined) add('o.customer_id = ?', f.customerId);
    if (f.restaurantId !== undefined) add('o.restaurant_id = ?', f.restaurantId);
    if (f.riderId !== undefined) add('o.rider_id = ?', f.riderId);
    // On the (who, seed_status, placed_at) indexes of sql/0005_order_status.sql. One word is an equality, so
    // the index gives the rows newest first; several (= ANY) are read from the index and sorted.
    if (f.statuses?.length === 1) add('o.seed_status = ?', f.statuses[0]);
    else if (f.statuses !== undefined) add('o.seed_status = ANY(?::text[])', f.statuses);
    if (f.from !== undefined) add('o.placed_at >= ?', f.from);
    if (f.to !== undefined) add('o.placed_at < ?', f.to);
    if (f.ids !== undefined) add('o.id = ANY(?)', f.ids);
    const cond = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    return guarded('list orders', async () => {
      const total =
        (await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM orders o ${cond}`, params)).rows[0]?.n ?? 0;
      const rows = (
        await this.db.query<OrderRow>(
          `${ORDER_SELECT} ${cond} ORDER BY o.placed_at DESC, o.id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
          [...params, f.limit, f.offset],
        )
      ).rows;
      return { rows, total };
    });
  }

  // ─── Idempotency keys ────────────────────────────────────────────────────

  storedReply(principal: string, key: string): Promise<StoredReply | undefined> {
    return guarded(
      'read idempotency key',
      async () =>
        (
          await this.db.query<StoredReply>(
            'SELECT route, request_hash, status, response FROM idempotency_keys WHERE principal = $1 AND key = $2',
            [principal, key],
          )
        ).rows[0],
    );
  }

  async storeReply(tx: SqlTx, principal: string, key: string, r: StoredReply): Promise<void> {
    await tx.query(
      'INSERT INTO idempotency_keys (principal, key, route, request_hash, status, response) VALUES ($1, $2, $3, $4, $5, $6::jsonb)',
      [principal, key, r.route, r.request_hash, r.status, JSON.stringify(r.response)],
    );
  }
}

const ORDER_COLUMNS = `o.id, o.customer_id, o.restaurant_id, o.status, o.seed_status, o.rider_id, o.total_paise, o.drop_lat, o.drop_lng, o.delivery_address, o.payment_method,
  o.tracking_id, o.placed_at, o.estimated_delivery_at, s.row AS state_row, r.address AS restaurant_address,
  (SELECT json_build_object('id', rf.id, 'status', rf.status, 'amount_paise', rf.amount_paise, 'reason', rf.reason, 'requested_at', rf.created_at,
                            'accepted_at', rf.accepted_at, 'settled_at', rf.settled_at)
   FROM refunds rf WHERE rf.order_id = o.id ORDER BY rf.created_at DESC LIMIT 1) AS refund`;
const ORDER_FROM = `FROM orders o
  LEFT JOIN engine_state s ON s.aggregate = 'order' AND s.aggregate_id = o.id
  LEFT JOIN restaurants r ON r.id = o.restaurant_id`;
const ORDER_SELECT = `SELECT ${ORDER_COLUMNS} ${ORDER_FROM}`;
/** The order's items as a JSON array in line order (the columns {@link OrderItemRow} names). */
const ORDER_ITEMS = `COALESCE((SELECT json_agg(json_build_object('menu_item_id', i.menu_item_id, 'name', i.name, 'unit_paise', i.unit_paise,
                                              'quantity', i.quantity, 'special_instructions', i.special_instructions) ORDER BY i.line)
            FROM order_items i WHERE i.order_id = o.id), '[]'::json) AS items`;
/** {@link ORDER_SELECT} with the order's items. */
const ORDER_SELECT_WITH_ITEMS = `SELECT ${ORDER_COLUMNS}, ${ORDER_ITEMS} ${ORDER_FROM}`;
/**
 * Moves order rows' seed status, seq and rider forward to the live engine's ($1..$4: ids, words,
 * seqs, riders), or back where a row is ahead of the durable state; returns what it wrote as (i, w, r).
 */
const CATCH_UP = `UPDATE orders o SET seed_status = u.w, status_seq = u.s, rider_id = u.r
         FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS u(i, w, s, r)
         LEFT JOIN engine_state es ON es.aggregate = 'order' AND es.aggregate_id = u.i
         WHERE o.id = u.i AND (o.status_seq < u.s OR o.status_seq > COALESCE(es.seq, 0))
           AND (o.seed_status, o.status_seq, o.rider_id) IS DISTINCT FROM (u.w, u.s, u.r)
         RETURNING u.i, u.w, u.r`;
/**
 * {@link CATCH_UP} for one order ($1..$4: id, word, seq, rider), by the same rules. Not the same
 * statement over one-element arrays: the planner sizes `unnest` of a parameter at 10 rows in a
 * generic plan and at the array's length in a custom one, so a statement over `unnest($1)` never
 * settles on its generic plan and is planned again at every call. Over scalars it is planned once
 * per connection (`npx tsx bench/catch-up-statement.ts` prints what that is worth).
 */
const CATCH_UP_ONE = `UPDATE orders o SET seed_status = $2::text, status_seq = $3::int, rider_id = $4::text
         WHERE o.id = $1::text
           AND (o.status_seq < $3::int OR o.status_seq > COALESCE(
                 (SELECT es.seq FROM engine_state es WHERE es.aggregate = 'order' AND es.aggregate_id = $1::text), 0))
           AND (o.seed_status, o.status_seq, o.rider_id) IS DISTINCT FROM ($2::text, $3::int, $4::text)
         RETURNING o.id AS i, o.seed_status AS w, o.rider_id AS r`;
/**
 * {@link ORDER_SELECT_WITH_ITEMS} after `WITH u AS (CATCH_UP_ONE)`: a statement's query does not see
 * what its own WITH updated, so the columns the update wrote are taken from what it returned.
 */
const ORDER_SELECT_AFTER_CATCH_UP = `SELECT ${ORDER_COLUMNS.replace(
  'o.seed_status, o.rider_id,',
  'CASE WHEN u.i IS NULL THEN o.seed_status ELSE u.w END AS seed_status, CASE WHEN u.i IS NULL THEN o.rider_id ELSE u.r END AS rider_id,',
)}, ${ORDER_ITEMS} ${ORDER_FROM} LEFT JOIN u ON u.i = o.id`;
