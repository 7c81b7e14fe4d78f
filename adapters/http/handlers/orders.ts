/**
 * `/orders`: place (priced from the menu), read with live tracking, list,
 * and move on by status. Each call is one engine command or query; the
 * order as placed (address, items, payment method) is kept in the catalog.
 */
import {
  type Engine,
  type OrderSnapshotRow,
  isOpenAt,
  priceOrder,
  statusCommand,
  type OrderLine,
} from '../../../engine/index.js';
import {
  type CustomerId,
  type OrderId,
  type OrderView,
  type Principal,
  type RestaurantId,
  type RiderId,
  reject,
  type Rejection,
  type Result,
} from '../../../protocol/index.js';
import { paymentStatus, seedStatus, stateName, statusFilter } from '../../../protocol/rest/order-status.js';
import type { CreateOrderBody, ListOrdersQueryT, UpdateOrderStatusBody } from '../../../protocol/rest/schemas.js';
import type { CatalogStore, OrderItemRow, OrderRow, OrderStatusNow } from '../../postgres/catalog-store.js';
import type { SqlTx } from '../../postgres/sql-database.js';
import type { Reply } from '../http-io.js';
import type { RestContext } from '../rest-gateway.js';
import { type GatewayDeps, iso, mayAct, refundJson, rupeesOf } from '../gateway-deps.js';

export function orderHandlers(d: GatewayDeps) {
  const { engine, catalog } = d;

  /** The order as the API shows it, from the engine when live and the stored row otherwise. */
  const orderJson = (
    viewer: Principal,
    id: string,
    row: OrderRow | undefined,
    items: readonly OrderItemRow[],
    live: OrderView | undefined,
  ): Record<string, unknown> => {
    const stored = row?.state_row ?? null;
    const state = live?.state ?? stateName(stored?.value) ?? row?.status ?? 'placed';
    const ctx = stored?.context as
      { paid?: boolean; foodReady?: boolean; riderId?: string | null; payout?: number | null } | undefined;
    const paid = live?.paid ?? ctx?.paid ?? false;
    const foodReady = live?.foodReady ?? ctx?.foodReady ?? false;
    const riderId = live
      ? live.offer
        ? null
        : live.riderId
      : state === 'assigned' || state === 'picked_up' || state === 'delivered'
        ? (ctx?.riderId ?? row?.rider_id ?? null)
        : null;
    const cash = row?.payment_method === 'CASH';
    const total = row?.total_paise ?? 0;
    // What the rider is paid is between the rider and the platform: its own rider and admins see it.
    const payout = riderId === null ? null : live ? live.payout : (ctx?.payout ?? null);
    const seesPay = viewer.role === 'admin' || (viewer.role === 'rider' && viewer.riderId === riderId);
    return {
      id,
      customer_id: live?.customerId ?? row?.customer_id,
      restaurant_id: live?.restaurantId ?? row?.restaurant_id,
      delivery_person_id: riderId,
      status: seedStatus(state, foodReady),
      engine_state: state,
      items: items.map((i) => ({
        menu_item_id: i.menu_item_id,
        name: i.name,
        quantity: i.quantity,
        unit_price: rupeesOf(i.unit_paise),
        total_price: rupeesOf(i.unit_paise * i.quantity),
        ...(i.special_instructions ? { special_instructions: i.special_instructions } : {}),
      })),
      total_amount: rupeesOf(total),
      delivery_address: row?.delivery_address ?? (live ? { latitude: live.drop.lat, longitude: live.drop.lng } : {}),
      restaurant_address:
        row?.restaurant_address ?? (live ? { latitude: live.pickup.lat, longitude: live.pickup.lng } : {}),
      payment_method: row?.payment_method ?? null,
      payment_status: paymentStatus(state, paid, cash, row?.refund?.status ?? null),
      ...(row?.refund ? { refund: refundJson(row.refund) } : {}),
      tracking_id: row?.tracking_id ?? null,
      created_at: iso(live?.placedAt ?? row?.placed_at ?? 0),
      estimated_delivery_time: iso(live?.promisedAt ?? row?.estimated_delivery_at ?? 0),
      tracking: live && riderId ? tracking(riderId as RiderId, live) : null,
      ...(seesPay && payout !== null ? { rider_payout: rupeesOf(payout) } : {}),
    };
  };

  /** Where the rider is and when it should arrive: at the pickup, then at the drop. */
  const tracking = (riderId: RiderId, o: OrderView): Record<string, unknown> | null => {
    const r = engine.getRider(riderId);
    if (!r.ok || r.value.position === null) return { current_location: null, estimated_arrival: null };
    const p = r.value.position;
    const eta = engine.estimatedArrival(o.id);
    return {
      current_location: { latitude: p.lat, longitude: p.lng },
      heading: p.heading,
      speed: p.speed,
      location_at: iso(p.at),
      estimated_arrival: eta === null ? null : iso(eta),
    };
  };

  const targetOf = (o: {
    customerId?: string | undefined;
    restaurantId?: string | undefined;
    riderId?: string | null | undefined;
  }) => ({
    ...(o.customerId ? { customerId: o.customerId as CustomerId } : {}),
    ...(o.restaurantId ? { restaurantId: o.restaurantId as RestaurantId } : {}),
    ...(o.riderId ? { riderId: o.riderId as RiderId } : {}),
  });

  /**
   * Reads an order the caller may see, or ORDER_NOT_FOUND. With `moved`, the row's status is
   * first brought up to it in the same statement (the answer to a status change).
   */
  const readOrder = async (
    p: Principal,
    id: string,
    moved?: OrderStatusNow,
  ): Promise<Result<{ row: OrderRow | undefined; items: OrderItemRow[]; live: OrderView | undefined }>> => {
    const liveR = engine.getOrder(id as OrderId);
    const live = liveR.ok ? liveR.value : undefined;
    const stored = await (moved ? catalog.catchUpAndRead(id, moved) : catalog.orderWithItems(id));
    const row = stored?.row;
    if (!live && !row) return reject('ORDER_NOT_FOUND', `no order ${id}`);
    const ctx = row?.state_row?.context as { riderId?: string | null } | undefined;
    const target = targetOf({
      customerId: live?.customerId ?? row?.customer_id,
      restaurantId: live?.restaurantId ?? row?.restaurant_id,
      riderId: live ? live.riderId : (ctx?.riderId ?? row?.rider_id ?? null),
    });
    const denied = mayAct(p, 'order.read', target, 'ORDER_NOT_FOUND', `order ${id}`);
    return denied ?? { ok: true, value: { row, items: stored?.items ?? [], live } };
  };

  const show = async (p: Principal, id: string, moved?: OrderStatusNow): Promise<Reply | Rejection> => {
    const r = await readOrder(p, id, moved);
    if (!r.ok) return r;
    return { status: 200, body: orderJson(p, id, r.value.row, r.value.items, r.value.live) };
  };

  return {
    async createOrder(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const b = ctx.body as CreateOrderBody;
      const denied = mayAct(
        p,
        'order.create',
        p.customerId ? { customerId: p.customerId } : {},
        'ORDER_NOT_FOUND',
        'order',
      );
      if (denied) return denied;
      const found = await catalog.restaurantWithPrices(b.restaurant_id);
      if (!found) return reject('RESTAURANT_NOT_FOUND', `no restaurant ${b.restaurant_id}`);
      const rest = found.restaurant;
      const now = d.clock.now();
      if (!isOpenAt(rest.operating_hours ?? undefined, now, d.config.timeZone)) {
        return reject('RESTAURANT_CLOSED', `${rest.name} is outside its operating hours now (${d.config.timeZone})`);
      }
      const lines: OrderLine[] = b.items.map((i) => ({
        menuItemId: i.menu_item_id,
        quantity: i.quantity,
        specialInstructions: i.special_instructions,
      }));
      const priced = priceOrder(found.prices, lines);
      if (!priced.ok) return priced;
      const orderId = d.newId() as OrderId;
      const trackingId = `DEL${orderId.replace(/-/g, '').slice(0, 10).toUpperCase()}`;
      const cash = b.payment_method.type === 'CASH';
      const placed = await d.commands.placeOrder({
        orderId,
        customerId: p.customerId!,
        restaurantId: rest.id as RestaurantId,
        drop: { lat: b.delivery_address.latitude, lng: b.delivery_address.longitude },
        paid: cash,
      });
      if (!placed.ok) return placed;
      const viewed = engine.getOrder(orderId);
      if (!viewed.ok) {
        // Placed, but not in what this server reads: a cluster gateway whose mirror missed the owner's
        // relay (at most once). Nothing is recorded for it, so it is taken back, and the client asked again.
        await d.commands.cancelOrder({ orderId, by: 'system', reason: 'storage_failed' });
        return reject('DEPENDENCY_UNAVAILABLE', 'the order could not be confirmed; send it again');
      }
      const view = viewed.value;
      try {
        // Durable before the row and the remembered answer commit: a crash after the commit must not
        // leave a row (and an Idempotency-Key replaying 201) for an order the engine never kept.
        await d.durable();
        const reply: Reply = {
          status: 201,
          body: {
            id: orderId,
            status: seedStatus(view.state),
            total_amount: rupeesOf(priced.value.totalPaise),
            estimated_delivery_time: iso(view.promisedAt),
            tracking_id: trackingId,
            payment_status: paymentStatus(view.state, view.paid, cash),
            engine_state: view.state,
            payment_method: b.payment_method.type,
            ...(cash ? {} : { payment_expires_at: iso(now + engine.config.paymentTimeoutMs) }),
          },
          headers: { location: `/orders/${orderId}` },
        };
        let written: OrderStatusNow | undefined;
        const record = async (tx: SqlTx) => {
          written = orderStatusNow(engine, orderId) ?? { status: seedStatus(view.state), seq: 0, riderId: null };
          await catalog.insertOrder(
            tx,
            {
              id: orderId,
              customer_id: p.customerId!,
              restaurant_id: rest.id,
              total_paise: priced.value.totalPaise,
              drop_lat: b.delivery_address.latitude,
              drop_lng: b.delivery_address.longitude,
              delivery_address: b.delivery_address,
              payment_method: b.payment_method.type,
              payer_vpa: b.payment_method.type === 'UPI' ? b.payment_method.vpa : null,
              tracking_id: trackingId,
              placed_at: new Date(view.placedAt),
              estimated_delivery_at: new Date(view.promisedAt),
            },
            priced.value.lines.map((l) => ({
              menu_item_id: l.menuItemId,
              name: l.name,
              unit_paise: l.unitPaise,
              quantity: l.quantity,
              special_instructions: l.specialInstructions ?? null,
            })),
            written,
          );
          await ctx.remember(tx, reply);
        };
        // The row with its items is one statement; only a remembered answer needs a transaction around it.
        await (ctx.remembers ? catalog.transaction('place order', record) : catalog.autocommit('place order', record));
        // A batch written while the row was uncommitted could not update it: catch up, only if the order moved.
        // Failing that, the row stays a step behind until the order's next batch or the next start's sync:
        // the order is placed and its answer true, so a failed catch-up does not fail the request.
        const moved = orderStatusNow(engine, orderId);
        if (moved && written && moved.seq > written.seq)
          await catalog.setOrderStatuses([{ id: orderId, ...moved }]).catch(() => 0);
        return reply;
      } catch (err) {
        // Nothing was stored: take the order back out of the engine's hands.
        await d.commands.cancelOrder({ orderId, by: 'system', reason: 'storage_failed' });
        throw err;
      }
    },

    getOrder: (ctx: RestContext) => show(ctx.principal, ctx.req.params['order_id']!),

    async listOrders(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const q = ctx.query as ListOrdersQueryT;
      const denied = mayAct(
        p,
        'order.list',
        targetOf({ customerId: p.customerId, restaurantId: p.restaurantId, riderId: p.riderId }),
        'ORDER_NOT_FOUND',
        'orders',
      );
      if (denied) return denied;
      const limit = q.limit ?? 20;
      const offset = q.offset ?? 0;
      const filter = {
        ...(p.role === 'customer' ? { customerId: p.customerId! } : {}),
        ...(p.role === 'restaurant'
          ? { restaurantId: p.restaurantId! }
          : p.role === 'admin' && q.restaurant_id
            ? { restaurantId: q.restaurant_id }
            : {}),
        ...(p.role === 'rider' ? { riderId: p.riderId! } : {}),
        ...(q.from ? { from: new Date(q.from) } : {}),
        ...(q.to ? { to: new Date(q.to) } : {}),
      };
      if (p.role === 'restaurant' && q.restaurant_id !== undefined && q.restaurant_id !== p.restaurantId) {
        return { status: 200, body: { orders: [], total: 0, limit, offset } };
      }
      const wanted = q.status === undefined ? undefined : statusFilter(q.status);
      if (wanted && !wanted.ok)
        return reject('INVALID_ARGUMENT', `status: unknown status ${wanted.unknown.join(', ')}`);
      // The stored word, kept by the write-behind: a live order shows its engine state, which may be a few ms ahead.
      const page = await catalog.listOrders({
        ...filter,
        ...(wanted ? { statuses: wanted.words } : {}),
        limit,
        offset,
      });
      const items = await catalog.itemsOf(page.rows.map((r) => r.id));
      const orders = page.rows.map((row) => {
        const live = engine.getOrder(row.id as OrderId);
        return orderJson(p, row.id, row, items.get(row.id) ?? [], live.ok ? live.value : undefined);
      });
      return { status: 200, body: { orders, total: page.total, limit, offset } };
    },

    async updateOrderStatus(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const id = ctx.req.params['order_id']! as OrderId;
      const b = ctx.body as UpdateOrderStatusBody;
      const liveR = engine.getOrder(id);
      if (!liveR.ok) {
        // Ended and evicted, or never existed: either way nothing can move it on.
        const r = await readOrder(p, id);
        return r.ok ? reject('ORDER_INVALID_TRANSITION', `order ${id} has ended`) : r;
      }
      const o = liveR.value;
      const target = targetOf(o);
      const cancelling = b.status === 'cancelled';
      const denied = mayAct(
        p,
        cancelling ? 'order.cancel' : 'order.status.update',
        target,
        'ORDER_NOT_FOUND',
        `order ${id}`,
      );
      if (denied) return denied;
      const cmd = statusCommand(p, o, {
        status: b.status,
        reason: b.reason,
        estimatedPreparationTime: b.estimated_preparation_time,
      });
      if (!cmd.ok) return cmd;
      const out = await d.commands.execute(cmd.value);
      if (out.queued) return reject('INTERNAL', 'the engine queued a REST command');
      if (!out.result.ok) return out.result;
      await d.durable();
      // The row's word now, not when the write-behind gets there: a list right after this answer agrees with it.
      // One statement moves it and reads the order back for the answer.
      return show(p, id, orderStatusNow(engine, id));
    },
  };
}

/**
 * At start, before serving: cancels every live order that has no row in the
 * catalog. Placing an order makes its events durable, then commits its row
 * (createOrder); a crash between the two leaves an order the engine recovered
 * but whose client was never answered, with no items or price on record. It
 * is cancelled (`system`, reason `not_recorded`) rather than cooked and
 * delivered; a retry with the same Idempotency-Key places it again. Answers
 * the ids cancelled.
 */
export async function cancelUnrecordedOrders(engine: Engine, catalog: CatalogStore): Promise<string[]> {
  const live = engine
    .toSnapshot()
    .orders.map((o) => o.id)
    .filter((id) => {
      const v = engine.getOrder(id);
      return v.ok && v.value.state !== 'delivered' && v.value.state !== 'cancelled';
    });
  if (live.length === 0) return [];
  const recorded = new Set(await catalog.existingOrders(live));
  const missing = live.filter((id) => !recorded.has(id));
  for (const id of missing) engine.cancelOrder({ orderId: id, by: 'system', reason: 'not_recorded' });
  return missing;
}

/** The order's seed status, seq and rider as the live engine has them; undefined once evicted. */
export function orderStatusNow(engine: Engine, id: OrderId): OrderStatusNow | undefined {
  const row = engine.snapshotRow('order', id) as OrderSnapshotRow | undefined;
  if (!row) return undefined;
  return {
    status: seedStatus(stateName(row.value) ?? 'placed', row.context.foodReady),
    seq: row.seq,
    riderId: row.context.riderId,
  };
}

/**
 * At start, before serving: sets every recovered order's row to the recovered engine's status
 * (a row written ahead of events a crash lost goes back). Answers how many rows changed.
 */
export async function syncOrderStatuses(engine: Engine, catalog: CatalogStore): Promise<number> {
  const now = engine.toSnapshot().orders.flatMap((o) => {
    const s = orderStatusNow(engine, o.id);
    return s ? [{ id: o.id, ...s }] : [];
  });
  return catalog.setOrderStatuses(now);
}
