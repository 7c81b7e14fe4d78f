/**
 * `npm run bench -- memory`: heap per online rider and per active order in
 * the engine, at 100k riders by default, in the benchmark's seeded city. Heap
 * is the JS heap plus ArrayBuffer backing stores (the rider table lives in
 * one), after full collections. Orders are counted in the two states an
 * active order spends most of its life in: waiting in the kitchen
 * (`preparing`) and carried by a rider (`assigned`, rider `to_pickup`).
 */
import {
  Engine,
  SimulatedClock,
  type CustomerId,
  type OrderId,
  type RestaurantId,
  type RiderId,
} from '../engine/index.js';
import { heapUsed } from './stats.js';
import { planWorkload } from './workload.js';

export const defaultMemoryBench = { riders: 100_000, restaurants: 2_000, orders: 20_000, seed: 1, radiusKm: 15 };
export type MemoryFlags = typeof defaultMemoryBench;

export async function runMemoryBench(f: MemoryFlags, progress: (s: string) => void) {
  const { city } = planWorkload({
    riders: f.riders,
    restaurants: f.restaurants,
    rate: 0,
    seconds: 0,
    seed: f.seed,
    radiusKm: f.radiusKm,
  });
  const clock = new SimulatedClock();
  const engine = new Engine({ clock, seed: f.seed, config: { offerTimeoutMs: 3_600_000 } });
  for (const r of city.restaurants) {
    engine.registerRestaurant({
      restaurantId: r.id as RestaurantId,
      location: r.at,
      prepMinutes: r.prepMinutes,
      capacity: 1_000_000,
    });
  }
  const ids = city.riders.map((r) => r.id as RiderId);
  const h0 = heapUsed();
  progress(`${f.riders} riders online in a ${f.radiusKm} km city`);
  city.riders.forEach((r, i) => {
    engine.registerRider({ riderId: ids[i]! });
    engine.riderOnline(ids[i]!);
    engine.updateRiderPosition(ids[i]!, r.at.lat, r.at.lng, 5, 90, 5, clock.now());
  });
  const h1 = heapUsed();
  const order = (n: number, prep: number): OrderId => {
    const rest = city.restaurants[n % city.restaurants.length]!;
    const placed = engine.placeOrder({
      customerId: `c-${n % 5_000}` as CustomerId,
      restaurantId: rest.id as RestaurantId,
      drop: rest.at,
      paid: true,
    });
    if (!placed.ok) throw new Error(placed.detail);
    engine.restaurantAccept(placed.value, { prepMinutes: prep });
    return placed.value;
  };
  progress(`${f.orders} orders preparing`);
  for (let n = 0; n < f.orders; n++) order(n, 60);
  const h2 = heapUsed();
  progress(`${f.orders} orders assigned to riders`);
  const offers = new Map<OrderId, RiderId>();
  const off = engine.subscribe((e) => {
    if (e.type === 'order_offered') offers.set(e.id, e.riderId);
  });
  for (let n = 0; n < f.orders; n++) order(f.orders + n, 0);
  off();
  for (const [o, r] of offers) engine.acceptOffer(r, o);
  const h3 = heapUsed();
  const stats = engine.stats();
  engine.stop();
  const rss = process.memoryUsage().rss;
  return {
    riders: f.riders,
    orders: f.orders,
    restaurants: f.restaurants,
    heap_bytes_per_online_rider: Math.round((h1 - h0) / f.riders),
    heap_bytes_per_preparing_order: Math.round((h2 - h1) / f.orders),
    heap_bytes_per_assigned_order: Math.round((h3 - h2) / f.orders),
    assigned: offers.size,
    heap_total_mib: Math.round((h3 - h0) / 2 ** 20),
    rss_mib: Math.round(rss / 2 ** 20),
    riders_available_at_end: stats.ridersAvailable,
    goals: { heap_bytes_per_online_rider_max: 1536, heap_bytes_per_active_order_max: 8192 },
    met: { rider: (h1 - h0) / f.riders <= 1536, order: Math.max(h2 - h1, h3 - h2) / f.orders <= 8192 },
  };
}
