import type { LatLng, VehicleType } from '../protocol/index.js';
import type { EngineConfig } from './config.js';
import { fastDistanceM } from './geo.js';
import type { EtaModel } from './ports/eta-model.js';

type EtaSettings = Pick<
  EngineConfig,
  'detourFactor' | 'riderSpeedMps' | 'vehicleSpeedMps' | 'speedByHour' | 'utcOffsetMinutes'
>;

/** The hour of the day (0..23) at `at` (epoch ms) in a city `utcOffsetMinutes` from UTC. */
export function localHour(at: number, utcOffsetMinutes: number): number {
  const minuteOfDay = (((Math.floor(at / 60_000) + utcOffsetMinutes) % 1440) + 1440) % 1440;
  return Math.floor(minuteOfDay / 60);
}

/**
 * The engine's default travel-time model: straight-line metres times the
 * detour factor, over the vehicle's speed (`vehicleSpeedMps`, or
 * `riderSpeedMps` when the vehicle is not known) times the local hour's
 * traffic factor (`speedByHour`). It reads the settings at each call, so it
 * follows the engine's configuration.
 */
export class StraightLineEta implements EtaModel {
  readonly #settings: () => EtaSettings;

  constructor(settings: () => EtaSettings) {
    this.#settings = settings;
  }

  travelS(fromLat: number, fromLng: number, toLat: number, toLng: number, vehicle: VehicleType | null, at: number) {
    const c = this.#settings();
    const speed = vehicle === null ? c.riderSpeedMps : c.vehicleSpeedMps[vehicle];
    const traffic = c.speedByHour[localHour(at, c.utcOffsetMinutes)]!;
    return (fastDistanceM(fromLat, fromLng, toLat, toLng) * c.detourFactor) / (speed * traffic);
  }

  /** The detour over the fastest vehicle's speed in the hour's traffic, a hair under (rounding). */
  minSecondsPerMetre(at: number): number {
    const c = this.#settings();
    let fastest = c.riderSpeedMps;
    for (const v of Object.values(c.vehicleSpeedMps)) fastest = Math.max(fastest, v);
    const traffic = c.speedByHour[localHour(at, c.utcOffsetMinutes)]!;
    return (c.detourFactor / (fastest * traffic)) * (1 - 1e-9);
  }
}

/** Where an order's rider is, for {@link arrivalAt}. */
export interface ArrivalInput {
  /** The order has been picked up (the rider heads to the drop). */
  readonly pickedUp: boolean;
  readonly rider: LatLng;
  readonly vehicle: VehicleType | null;
  readonly pickup: LatLng;
  readonly drop: LatLng;
  /** When the food is ready, epoch ms, or null when unknown. */
  readonly readyAt: number | null;
}

/**
 * When the rider should reach the customer, epoch ms: straight to the drop
 * once picked up; before that by the pickup, and no earlier than the food
 * being ready plus the ride from the pickup.
 */
export function arrivalAt(eta: EtaModel, now: number, a: ArrivalInput): number {
  const { rider: r, pickup: p, drop: d, vehicle: v } = a;
  if (a.pickedUp) return now + eta.travelS(r.lat, r.lng, d.lat, d.lng, v, now) * 1000;
  const atPickup = now + eta.travelS(r.lat, r.lng, p.lat, p.lng, v, now) * 1000;
  const leaves = a.readyAt === null ? atPickup : Math.max(atPickup, a.readyAt);
  return leaves + eta.travelS(p.lat, p.lng, d.lat, d.lng, v, leaves) * 1000;
}
