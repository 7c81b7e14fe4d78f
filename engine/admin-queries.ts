import type {
  DispatchPolicy,
  H3Cell,
  LatLng,
  OrderId,
  OrderView,
  RestaurantId,
  RiderId,
  RiderView,
} from '../protocol/index.js';
import type { EngineCore } from './core.js';
import { fastDistanceM } from './geo.js';
import { TERMINAL_ORDER_STATES } from './machines/order-machine.js';
import { orderView, riderView } from './queries.js';

/**
 * The operators' reads (the admin service): riders and orders filtered and
 * paged, and per-shard counts. Pages run in id order and a page token is the
 * last id of the previous page, so a page stays stable while actors come and go.
 */

/** An area: riders (by last position) or orders (by pickup) within `radiusM` of `center`. */
export interface Area {
  readonly center: LatLng;
  readonly radiusM: number;
}

export interface Page {
  /** At most this many items (1..500). */
  readonly pageSize: number;
  /** The last id of the previous page; empty for the first. */
  readonly after: string;
}

export interface RiderFilter extends Page {
  /** A shard key: riders whose position is in it. */
  readonly shard?: string;
  /** A state as RiderView names it (`online.idle`, `offline`...), or a prefix of it (`online`). */
  readonly state?: string;
  readonly area?: Area;
}

export interface OrderFilter extends Page {
  /** A state as OrderView names it, a prefix (`dispatching`), or `live` for every state that has not ended. */
  readonly state?: string;
  readonly restaurantId?: RestaurantId;
  /** Orders placed at least this long ago (ms). */
  readonly minAgeMs?: number;
  readonly shard?: string;
}

export interface Paged<T> {
  readonly items: readonly T[];
  /** The token of the next page; empty when this was the last. */
  readonly next: string;
}

export interface RiderRow extends RiderView {
  readonly shard: string | null;
}

export interface OrderRow extends OrderView {
  readonly shard: string;
}

/** One shard's counts. */
export interface ShardStat {
  readonly shard: H3Cell;
  readonly drained: boolean;
  /** The shard's dispatch policy: its own, or the engine's when an operator set none. */
  readonly policy: DispatchPolicy;
  readonly riders: number;
  readonly ridersAvailable: number;
  readonly restaurants: number;
  readonly ordersLive: number;
  readonly ordersSearching: number;
  readonly ordersOffered: number;
  readonly ordersAssigned: number;
  readonly ordersPickedUp: number;
}

const stateMatches = (state: string, want: string | undefined): boolean =>
  want === undefined || want === '' || state === want || state.startsWith(`${want}.`);

export function listRiders(core: EngineCore, f: RiderFilter): Paged<RiderRow> {
  const ids: RiderId[] = [];
  for (const r of core.riders.values()) {
    if (f.after !== '' && r.id <= f.after) continue;
    if (!stateMatches(r.state, f.state)) continue;
    if (f.shard !== undefined && f.shard !== '' && r.shardKey !== f.shard) continue;
    if (f.area !== undefined) {
      if (!(r.posAt > 0)) continue;
      if (fastDistanceM(r.lat, r.lng, f.area.center.lat, f.area.center.lng) > f.area.radiusM) continue;
    }
    ids.push(r.id);
  }
  return page(ids, f.pageSize, (id) => {
    const v = riderView(core, id);
    return v.ok ? { ...v.value, shard: core.riders.get(id)!.shardKey } : undefined;
  });
}

export function listOrders(core: EngineCore, f: OrderFilter): Paged<OrderRow> {
  const now = core.now();
  const ids: OrderId[] = [];
  for (const o of core.orders.values()) {
    if (f.after !== '' && o.id <= f.after) continue;
    if (f.state === 'live' ? TERMINAL_ORDER_STATES.has(o.state) : !stateMatches(o.state, f.state)) continue;
    if (f.restaurantId !== undefined && o.restaurantId !== f.restaurantId) continue;
    if (f.minAgeMs !== undefined && now - o.placedAt < f.minAgeMs) continue;
    if (f.shard !== undefined && f.shard !== '' && core.space.parentOf(o.pickupCell) !== f.shard) continue;
    ids.push(o.id);
  }
  return page(ids, f.pageSize, (id) => {
    const v = orderView(core, id);
    return v.ok ? { ...v.value, shard: core.space.parentOf(core.orders.get(id)!.pickupCell) } : undefined;
  });
}

/** A shard's counts, all zero: what a shard holding nothing reports. */
function emptyStat(core: EngineCore, key: H3Cell): { -readonly [K in keyof ShardStat]: ShardStat[K] } {
  return {
    shard: key,
    drained: core.drained.has(key),
    policy: core.policies.get(key) ?? core.config.dispatchPolicy,
    riders: 0,
    ridersAvailable: 0,
    restaurants: 0,
    ordersLive: 0,
    ordersSearching: 0,
    ordersOffered: 0,
    ordersAssigned: 0,
    ordersPickedUp: 0,
  };
}

/** One shard's counts, zero for a shard that holds nothing (one an operator just drained, say). */
export function shardStat(core: EngineCore, key: H3Cell): ShardStat {
  return shardStats(core).find((s) => s.shard === key) ?? emptyStat(core, key);
}

export function shardStats(core: EngineCore): ShardStat[] {
  const out = new Map<H3Cell, { -readonly [K in keyof ShardStat]: ShardStat[K] }>();
  const of = (key: H3Cell) => {
    let s = out.get(key);
    if (s === undefined) {
      s = emptyStat(core, key);
      out.set(key, s);
    }
    return s;
  };
  for (const shard of core.space.shards.values()) {
    const s = of(shard.key);
    s.riders = shard.riders.size;
    s.ridersAvailable = shard.available.size;
    s.restaurants = shard.restaurants.size;
  }
  for (const key of core.drained) of(key);
  for (const key of core.policies.keys()) of(key);
  for (const o of core.orders.values()) {
    if (TERMINAL_ORDER_STATES.has(o.state)) continue;
    const s = of(core.space.parentOf(o.pickupCell));
    s.ordersLive++;
    if (o.state === 'dispatching.searching') s.ordersSearching++;
    else if (o.state === 'dispatching.offered') s.ordersOffered++;
    else if (o.state === 'assigned') s.ordersAssigned++;
    else if (o.state === 'picked_up') s.ordersPickedUp++;
  }
  return [...out.values()].sort((a, b) => (a.shard < b.shard ? -1 : a.shard > b.shard ? 1 : 0));
}

function page<I extends string, T>(ids: I[], pageSize: number, view: (id: I) => T | undefined): Paged<T> {
  ids.sort();
  const size = Math.max(1, Math.min(500, Math.trunc(pageSize) || 50));
  const items: T[] = [];
  for (let i = 0; i < ids.length && items.length < size; i++) {
    const v = view(ids[i]!);
    if (v !== undefined) items.push(v);
  }
  const next = ids.length > size ? ids[size - 1]! : '';
  return { items, next };
}
