import {
  Engine, SimulatedClock, type EngineConfigInput, type EngineEvent, type OrderId, type RestaurantId, type RiderId,
  type CustomerId, offsetM,
} from '../../engine/index.js';

/** Bengaluru, Koramangala: the centre of every test city. */
export const CENTRE = { lat: 12.9352, lng: 77.6245 } as const;

export const rid = (s: string) => s as RiderId;
export const oid = (s: string) => s as OrderId;
export const rest = (s: string) => s as RestaurantId;
export const cust = (s: string) => s as CustomerId;

/** A point `m` metres from the centre along `bearing` degrees. */
export const near = (m: number, bearing = 90) => offsetM(CENTRE.lat, CENTRE.lng, bearing, m);

/** An engine on a simulated clock with its event log, plus shorthands. */
export function world(config: EngineConfigInput = {}, seed = 7) {
  const clock = new SimulatedClock();
  const engine = new Engine({ clock, config, seed });
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  return {
    clock,
    engine,
    events,
    types: () => events.map((e) => e.type),
    /** Events of one aggregate id. */
    of: (id: string) => events.filter((e) => e.id === id),
    restaurant(id = 'r1', at = CENTRE, prepMinutes = 10, capacity = 20) {
      const res = engine.registerRestaurant({ restaurantId: rest(id), location: at, prepMinutes, capacity });
      if (!res.ok) throw new Error(res.detail);
      return rest(id);
    },
    /** A rider online and idle at `at`, with a fresh position. */
    rider(id: string, at: { lat: number; lng: number } = near(300)) {
      const r = rid(id);
      const a = engine.registerRider({ riderId: r });
      if (!a.ok) throw new Error(a.detail);
      engine.riderOnline(r);
      engine.updateRiderPosition(r, at.lat, at.lng, 5, NaN, 0, clock.now());
      return r;
    },
    move(r: RiderId, at: { lat: number; lng: number }) {
      return engine.updateRiderPosition(r, at.lat, at.lng, 5, NaN, 0, clock.now());
    },
    /** A paid order at restaurant `r`, accepted with `prepMinutes` (0 = dispatch now). */
    order(r: RestaurantId, opts: { id?: string; prepMinutes?: number; accept?: boolean; paid?: boolean } = {}) {
      const placed = engine.placeOrder({
        ...(opts.id ? { orderId: oid(opts.id) } : {}), customerId: cust('c1'), restaurantId: r, drop: near(2000, 0),
        paid: opts.paid ?? true,
      });
      if (!placed.ok) throw new Error(placed.detail);
      if (opts.accept !== false && (opts.paid ?? true)) {
        const acc = engine.restaurantAccept(placed.value, { prepMinutes: opts.prepMinutes ?? 0 });
        if (!acc.ok) throw new Error(acc.detail);
      }
      return placed.value;
    },
  };
}
