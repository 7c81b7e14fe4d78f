import type { OrderId, RestaurantId } from '../../protocol/index.js';
import { fastDistanceM } from '../geo.js';
import type { OrderRecord, RestaurantRecord, RiderRecord } from '../records.js';

/**
 * Riders who could take a stacked order, by the restaurant of their lead job:
 * online, with capacity above one, heading to or waiting at that pickup.
 * Kept in step by {@link StackIndex.sync} after every rider transition (EngineCore.stepRider).
 */
export class StackIndex {
  readonly #byRestaurant = new Map<RestaurantId, Set<RiderRecord>>();
  readonly #at = new Map<RiderRecord, RestaurantId>();
  /** Restaurants within the radius of each, itself first; dropped when a restaurant registers or the radius changes. */
  readonly #near = new Map<RestaurantId, readonly RestaurantId[]>();
  #nearRadius = -1;

  /** Lists `r` under the restaurant of its lead job when it can take a stack, else nowhere. */
  sync(r: RiderRecord, orders: ReadonlyMap<OrderId, OrderRecord>): void {
    let want: RestaurantId | null = null;
    if (r.capacity > 1 && (r.state === 'online.to_pickup' || r.state === 'online.at_pickup')) {
      const lead = orders.get(r.snap.context.orderId!);
      if (lead !== undefined) want = lead.restaurantId;
    }
    const had = this.#at.get(r) ?? null;
    if (had === want) return;
    if (had !== null) {
      const set = this.#byRestaurant.get(had)!;
      set.delete(r);
      if (set.size === 0) this.#byRestaurant.delete(had);
      this.#at.delete(r);
    }
    if (want !== null) {
      let set = this.#byRestaurant.get(want);
      if (set === undefined) this.#byRestaurant.set(want, (set = new Set()));
      set.add(r);
      this.#at.set(r, want);
    }
  }

  /** How many riders could take a stack now: none makes a stacking search free. */
  get size(): number {
    return this.#at.size;
  }

  /** Riders whose lead pickup is at `restaurantId`. */
  headingTo(restaurantId: RestaurantId): ReadonlySet<RiderRecord> | undefined {
    return this.#byRestaurant.get(restaurantId);
  }

  /** Where each listed rider is heading, for the invariant check. */
  entries(): ReadonlyMap<RiderRecord, RestaurantId> {
    return this.#at;
  }

  /** A restaurant registered: neighbourhoods are computed again on need. */
  restaurantsChanged(): void {
    this.#near.clear();
  }

  /** Restaurants within `radiusM` of `id`'s location, `id` first. */
  near(
    restaurants: ReadonlyMap<RestaurantId, RestaurantRecord>,
    id: RestaurantId,
    radiusM: number,
  ): readonly RestaurantId[] {
    if (radiusM !== this.#nearRadius) {
      this.#near.clear();
      this.#nearRadius = radiusM;
    }
    let ids = this.#near.get(id);
    if (ids === undefined) {
      const home = restaurants.get(id);
      const out: RestaurantId[] = [id];
      if (home !== undefined)
        for (const rest of restaurants.values()) {
          if (rest.id === id) continue;
          const { lat, lng } = rest.location;
          if (fastDistanceM(home.location.lat, home.location.lng, lat, lng) <= radiusM) out.push(rest.id);
        }
      ids = out;
      this.#near.set(id, ids);
    }
    return ids;
  }
}
