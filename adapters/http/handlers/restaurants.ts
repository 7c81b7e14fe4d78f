/**
 * `/restaurants`: register (the restaurant becomes an engine actor), browse
 * nearby, open or close, and menus. Menu item ids are kept when given and
 * otherwise derived from the restaurant, category and name, so putting the
 * same menu twice keeps every id that orders refer to.
 */
import { createHash } from 'node:crypto';
import { latLngToCell } from 'h3-js';
import { distanceM, isOpenAt, isWholePaise, toPaise } from '../../../engine/index.js';
import { type RestaurantId, reject, type Rejection } from '../../../protocol/index.js';
import type {
  CreateRestaurantBody,
  NearbyQueryT,
  PutMenuBody,
  UpdateRestaurantStatusBody,
} from '../../../protocol/rest/schemas.js';
import type { MenuItemRow, RestaurantRow } from '../../postgres/catalog-store.js';
import type { Reply } from '../http-io.js';
import type { RestContext } from '../rest-gateway.js';
import { type GatewayDeps, iso, mayAct, must, refusing, rupeesOf } from '../gateway-deps.js';

/** A UUID (version 8, "custom") from a hash: stable for the same inputs. */
export function stableUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export function restaurantHandlers(d: GatewayDeps) {
  const { engine, catalog } = d;

  const restaurantJson = (r: RestaurantRow, extra: Record<string, unknown> = {}): Record<string, unknown> => {
    const live = engine.getRestaurant(r.id as RestaurantId);
    return {
      id: r.id,
      name: r.name,
      description: r.description,
      address: r.address,
      cuisine_types: r.cuisine_types,
      operating_hours: r.operating_hours ?? {},
      contact: r.contact ?? {},
      status: live.ok ? live.value.state : 'unknown',
      is_open:
        live.ok &&
        live.value.state === 'open' &&
        isOpenAt(r.operating_hours ?? undefined, d.clock.now(), d.config.timeZone),
      preparation_time: live.ok ? live.value.prepMinutes : r.prep_minutes,
      capacity: r.capacity,
      open_orders: live.ok ? live.value.openOrders : 0,
      created_at: iso(r.created_at),
      ...extra,
    };
  };

  const menuJson = (restaurantId: string, rows: readonly MenuItemRow[]) => {
    const categories: { name: string; items: Record<string, unknown>[] }[] = [];
    for (const m of rows) {
      let c = categories.at(-1);
      if (c?.name !== m.category) {
        c = { name: m.category, items: [] };
        categories.push(c);
      }
      c.items.push({
        id: m.id,
        name: m.name,
        description: m.description,
        price: rupeesOf(m.price_paise),
        image_url: m.image_url,
        available: m.available,
        preparation_time: m.preparation_time,
        dietary_info: m.dietary_info,
      });
    }
    return { restaurant_id: restaurantId, categories };
  };

  const find = async (ctx: RestContext): Promise<RestaurantRow | Rejection> => {
    const id = ctx.req.params['restaurant_id']!;
    return (await catalog.getRestaurant(id)) ?? reject('RESTAURANT_NOT_FOUND', `no restaurant ${id}`);
  };

  return {
    async createRestaurant(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const b = ctx.body as CreateRestaurantBody;
      // A restaurant account registers the restaurant its claim names; an admin registers a new one.
      const id = p.role === 'restaurant' ? p.restaurantId! : (d.newId() as RestaurantId);
      const denied = mayAct(p, 'restaurant.register', { restaurantId: id }, 'RESTAURANT_NOT_FOUND', 'restaurant');
      if (denied) return denied;
      const prep = b.preparation_time ?? d.config.defaultPrepMinutes;
      const capacity = b.capacity ?? d.config.defaultCapacity;
      return refusing(() =>
        catalog.transaction('register restaurant', async (tx) => {
          await catalog.ensureUser(tx, p);
          const row = {
            id,
            owner_user_id: p.role === 'restaurant' ? p.uid : null,
            name: b.name,
            description: b.description ?? null,
            lat: b.address.latitude,
            lng: b.address.longitude,
            h3_cell: latLngToCell(b.address.latitude, b.address.longitude, engine.config.indexResolution),
            address: b.address,
            cuisine_types: b.cuisine_types ?? [],
            operating_hours: b.operating_hours ?? null,
            contact: b.contact ?? null,
            prep_minutes: prep,
            capacity,
          };
          if (!(await catalog.insertRestaurant(tx, row)))
            return reject('RESTAURANT_EXISTS', `restaurant ${id} is already registered`);
          const registered = await d.commands.registerRestaurant({
            restaurantId: id,
            location: { lat: row.lat, lng: row.lng },
            prepMinutes: prep,
            capacity,
          });
          // RESTAURANT_EXISTS here means an earlier attempt reached the engine but not the database: carry on.
          if (!registered.ok && registered.code !== 'RESTAURANT_EXISTS') must(registered);
          await d.durable();
          const reply: Reply = {
            status: 201,
            body: restaurantJson({ ...row, created_at: new Date(d.clock.now()) }),
            headers: { location: `/restaurants/${id}` },
          };
          await ctx.remember(tx, reply);
          return reply;
        }),
      );
    },

    async listRestaurants(ctx: RestContext): Promise<Reply | Rejection> {
      const q = ctx.query as NearbyQueryT;
      const radiusM = (q.radius_km ?? 5) * 1000;
      const dLat = radiusM / 111_320;
      const dLng = radiusM / (111_320 * Math.max(0.01, Math.cos((q.latitude * Math.PI) / 180)));
      const rows = await catalog.restaurantsIn(
        {
          minLat: q.latitude - dLat,
          maxLat: q.latitude + dLat,
          minLng: q.longitude - dLng,
          maxLng: q.longitude + dLng,
        },
        2_000,
      );
      const near = rows
        .map((r) => ({ r, m: distanceM(q.latitude, q.longitude, r.lat, r.lng) }))
        .filter((x) => x.m <= radiusM)
        .sort((a, b) => a.m - b.m)
        .slice(0, q.limit ?? 20);
      return {
        status: 200,
        body: { restaurants: near.map((x) => restaurantJson(x.r, { distance_km: Math.round(x.m) / 1000 })) },
      };
    },

    async getRestaurant(ctx: RestContext): Promise<Reply | Rejection> {
      const r = await find(ctx);
      return 'ok' in r ? r : { status: 200, body: restaurantJson(r) };
    },

    async putRestaurantStatus(ctx: RestContext): Promise<Reply | Rejection> {
      const r = await find(ctx);
      if ('ok' in r) return r;
      const denied = mayAct(
        ctx.principal,
        'restaurant.update',
        { restaurantId: r.id as RestaurantId },
        'RESTAURANT_NOT_FOUND',
        `restaurant ${r.id}`,
      );
      if (denied) return denied;
      const status = (ctx.body as UpdateRestaurantStatusBody).status;
      const live = engine.getRestaurant(r.id as RestaurantId);
      if (!(live.ok && live.value.state === status)) {
        const res = await d.commands.setRestaurantStatus(r.id as RestaurantId, status);
        if (!res.ok) return res;
      }
      await catalog.transaction('restaurant status', (tx) => catalog.setRestaurantStatus(tx, r.id, status));
      await d.durable();
      return { status: 200, body: restaurantJson(r) };
    },

    async getMenu(ctx: RestContext): Promise<Reply | Rejection> {
      const r = await find(ctx);
      if ('ok' in r) return r;
      const denied = mayAct(
        ctx.principal,
        'menu.read',
        { restaurantId: r.id as RestaurantId },
        'RESTAURANT_NOT_FOUND',
        `restaurant ${r.id}`,
      );
      if (denied) return denied;
      return { status: 200, body: menuJson(r.id, await catalog.menuOf(r.id)) };
    },

    async putMenu(ctx: RestContext): Promise<Reply | Rejection> {
      const r = await find(ctx);
      if ('ok' in r) return r;
      const denied = mayAct(
        ctx.principal,
        'menu.write',
        { restaurantId: r.id as RestaurantId },
        'RESTAURANT_NOT_FOUND',
        `restaurant ${r.id}`,
      );
      if (denied) return denied;
      const b = ctx.body as PutMenuBody;
      const rows: MenuItemRow[] = [];
      const seen = new Set<string>();
      for (const [ci, c] of b.categories.entries()) {
        for (const [ii, m] of c.items.entries()) {
          if (!isWholePaise(m.price))
            return reject('INVALID_ARGUMENT', `categories/${ci}/items/${ii}/price: at most two decimals`);
          const id = m.id ?? stableUuid(r.id, c.name, m.name);
          if (seen.has(id))
            return reject(
              'INVALID_ARGUMENT',
              `categories/${ci}/items/${ii}: item ${m.id ? `id ${id}` : `"${m.name}" in "${c.name}"`} appears twice`,
            );
          seen.add(id);
          rows.push({
            id,
            category: c.name,
            name: m.name,
            description: m.description ?? null,
            price_paise: toPaise(m.price),
            image_url: m.image_url ?? null,
            available: m.available ?? true,
            preparation_time: m.preparation_time ?? null,
            dietary_info: m.dietary_info ?? [],
          });
        }
      }
      try {
        await catalog.transaction('replace menu', (tx) => catalog.replaceMenu(tx, r.id, rows));
      } catch (err) {
        // An id given by the client that another restaurant's menu already uses.
        if ((err as { code?: unknown }).code === '23505')
          return reject(
            'INVALID_ARGUMENT',
            'an item id is already used by another restaurant; leave id out to have one made',
          );
        throw err;
      }
      return { status: 200, body: menuJson(r.id, rows) };
    },
  };
}
