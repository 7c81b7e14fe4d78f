import { offsetM, SeededRandom, type LatLng } from '../../engine/index.js';

/** Where the simulated city is: Bengaluru's centre. */
export const CITY_CENTRE: LatLng = { lat: 12.9716, lng: 77.5946 };

export interface CityPlan {
  readonly restaurants: readonly { id: string; at: LatLng; prepMinutes: number; weight: number }[];
  readonly riders: readonly { id: string; at: LatLng; speedMps: number }[];
  readonly radiusM: number;
}

/**
 * A seeded city: restaurants clustered in food streets, riders spread with
 * density falling off from the centre. The same seed gives the same city.
 */
export function planCity(opts: { riders: number; restaurants: number; radiusKm: number; seed: number }): CityPlan {
  const rnd = new SeededRandom(opts.seed);
  const radiusM = opts.radiusKm * 1000;
  // Points whose distance from the centre is half-normal: dense middle, thin edges, clamped to the city.
  const spread = (centre: LatLng, sigma: number, limit: number): LatLng => {
    const d = Math.min(Math.abs(rnd.normal(0, sigma)), limit);
    return offsetM(centre.lat, centre.lng, rnd.next() * 360, d);
  };
  const streets = Math.max(1, Math.round(opts.restaurants / 12));
  const streetCentres = Array.from({ length: streets }, () => spread(CITY_CENTRE, radiusM / 2.5, radiusM * 0.9));
  const restaurants = Array.from({ length: opts.restaurants }, (_, i) => ({
    id: `rest-${i}`,
    at: spread(streetCentres[i % streets]!, 250, 1200),
    prepMinutes: rnd.int(8, 25),
    // A few restaurants are far more popular than the rest.
    weight: 1 / (1 + (i % 17)),
  }));
  const riders = Array.from({ length: opts.riders }, (_, i) => ({
    id: `rider-${i}`,
    at: spread(CITY_CENTRE, radiusM / 2, radiusM),
    speedMps: rnd.normal(6, 1.2) > 3 ? rnd.normal(6, 1.2) : 4,
  }));
  return { restaurants, riders, radiusM };
}

/** Picks an index with probability proportional to its weight. */
export function weightedPicker(weights: readonly number[], rnd: SeededRandom): () => number {
  const cum = new Float64Array(weights.length);
  let total = 0;
  weights.forEach((w, i) => (cum[i] = total += w));
  return () => {
    const x = rnd.next() * total;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
