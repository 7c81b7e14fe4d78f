import type { LatLng } from '../protocol/index.js';
import type { EngineConfig } from './config.js';
import { fastDistanceM } from './geo.js';

type EtaConfig = Pick<EngineConfig, 'detourFactor' | 'riderSpeedMps'>;

/**
 * The one travel-time model, used by dispatch, the rider's offer and the
 * customer's tracking answer alike: straight-line metres times the detour
 * factor, over the rider speed. Seconds. A road router can replace it here.
 */
export function travelS(config: EtaConfig, distanceM: number): number {
  return (distanceM * config.detourFactor) / config.riderSpeedMps;
}

/** Where an order's rider is, for {@link arrivalAt}. */
export interface ArrivalInput {
  /** The order has been picked up (the rider heads to the drop). */
  readonly pickedUp: boolean;
  readonly rider: LatLng;
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
export function arrivalAt(config: EtaConfig, now: number, a: ArrivalInput): number {
  const toDropS = travelS(config, fastDistanceM(a.pickup.lat, a.pickup.lng, a.drop.lat, a.drop.lng));
  if (a.pickedUp) return now + travelS(config, fastDistanceM(a.rider.lat, a.rider.lng, a.drop.lat, a.drop.lng)) * 1000;
  const viaPickup =
    now + (travelS(config, fastDistanceM(a.rider.lat, a.rider.lng, a.pickup.lat, a.pickup.lng)) + toDropS) * 1000;
  return a.readyAt === null ? viaPickup : Math.max(viaPickup, a.readyAt + toDropS * 1000);
}
