/**
 * The benchmark's workload, the same for every system compared: a seeded
 * city (bench/sim/city.ts: restaurants clustered in food streets, riders
 * thinning out from the centre) and orders arriving as a non-homogeneous
 * Poisson process with a lunch and a dinner peak.
 */
import { offsetM, SeededRandom, type LatLng } from '../engine/index.js';
import { planCity, weightedPicker, type CityPlan } from './sim/city.js';

export interface WorkloadOptions {
  riders: number;
  restaurants: number;
  /** Orders per second at the lunch and dinner peaks. */
  rate: number;
  /** Seconds of ordering. */
  seconds: number;
  seed: number;
  radiusKm: number;
}

export interface PlannedOrder {
  /** Seconds from the start of ordering. */
  readonly at: number;
  readonly restaurant: number;
  readonly drop: LatLng;
}

/** Off-peak demand as a share of the peak. */
export const OFF_PEAK = 0.3;

/**
 * Demand over the run as a share of the peak rate, 0..1: the run stands for
 * a day's service, with lunch at a quarter of it and dinner at three
 * quarters (dinner the wider peak), and off-peak demand at {@link OFF_PEAK}.
 */
export function demandShape(fraction: number): number {
  const bump = (centre: number, width: number) => Math.exp(-0.5 * ((fraction - centre) / width) ** 2);
  return Math.min(1, OFF_PEAK + (1 - OFF_PEAK) * Math.max(bump(0.25, 0.06), bump(0.75, 0.08)));
}

/**
 * Order arrivals by thinning (Lewis and Shedler): candidates at the peak rate,
 * each kept with probability {@link demandShape}. Restaurants are picked by
 * popularity; drops lie 0.5 to 6 km from the restaurant. Same options, same orders.
 */
export function planOrders(o: WorkloadOptions, city: CityPlan): PlannedOrder[] {
  const rnd = new SeededRandom(o.seed ^ 0x5eed);
  const pick = weightedPicker(
    city.restaurants.map((r) => r.weight),
    rnd,
  );
  const out: PlannedOrder[] = [];
  if (o.rate <= 0) return out;
  for (let t = rnd.exponential(1 / o.rate); t < o.seconds; t += rnd.exponential(1 / o.rate)) {
    if (rnd.next() >= demandShape(t / o.seconds)) continue;
    const restaurant = pick();
    const at = city.restaurants[restaurant]!.at;
    out.push({ at: t, restaurant, drop: offsetM(at.lat, at.lng, rnd.next() * 360, 500 + rnd.next() * 5_500) });
  }
  return out;
}

/** The city and its orders. */
export function planWorkload(o: WorkloadOptions): { city: CityPlan; orders: PlannedOrder[] } {
  const city = planCity({ riders: o.riders, restaurants: o.restaurants, radiusKm: o.radiusKm, seed: o.seed });
  return { city, orders: planOrders(o, city) };
}
