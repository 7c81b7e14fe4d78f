import type { LatLng } from '../protocol/index.js';
import type { EngineCore } from './core.js';
import type { OrderRecord, RestaurantRecord } from './records.js';

/**
 * Dispatch timed to the kitchen. Two things are learned as orders flow, each
 * an exponentially weighted mean that is trusted once it has
 * {@link LEARN_AFTER} samples:
 * - per restaurant, how many minutes later than it said its food is ready
 *   (the bias of its own estimate), from each order's acceptance to its
 *   food-ready mark;
 * - per restaurant, the pickup ETA of its orders' offers: how far away the
 *   rider that dispatch finds for it tends to be (each order's latest offer
 *   before its food is ready).
 * Both change only with the restaurant's own event at a food-ready mark, so
 * what is learned is written with the restaurant and survives a restart.
 * An accepted order is expected ready at its stated preparation plus the
 * restaurant's bias, and becomes dispatchable the restaurant's pickup ETA
 * before that, so the rider arrives as the food is ready. With
 * `kitchenTiming: 'stated'` the engine trusts the restaurant's estimate and
 * assumes `assumedPickupEtaMs`, as before it learned.
 */
export const LEARN_AFTER = 3;
/** Weight of the newest sample. */
const RATE = 0.2;
/** A food-ready mark this far off the estimate is a forgotten tap, not a kitchen: it teaches nothing. */
const OUTLIER_MIN = 60;

/** Minutes the restaurant's food is expected to take when it states `stated`. */
export function expectedPrepMinutes(core: EngineCore, r: RestaurantRecord | undefined, stated: number): number {
  if (core.config.kitchenTiming === 'stated' || r === undefined || r.prepSamples < LEARN_AFTER) return stated;
  return Math.max(0, stated + r.prepBiasMin);
}

/** How long before its food is ready an order of `r` should start looking for a rider, ms. */
export function dispatchLeadMs(core: EngineCore, r: RestaurantRecord | undefined): number {
  if (core.config.kitchenTiming === 'stated' || r === undefined || r.pickupEtaSamples < LEARN_AFTER)
    return core.config.assumedPickupEtaMs;
  return Math.round(r.pickupEtaS * 1000);
}

/**
 * The food of `o` is ready now: its restaurant learns how far off its estimate
 * was, and how far away the rider of its latest offer was.
 */
export function learnPrep(core: EngineCore, o: OrderRecord, now: number): void {
  const r = core.restaurants.get(o.restaurantId);
  if (r === undefined || o.acceptedAt <= 0) return;
  let learned = false;
  const bias = (now - o.acceptedAt) / 60_000 - o.prepMinutes;
  if (Math.abs(bias) <= OUTLIER_MIN) {
    r.prepBiasMin = r.prepSamples === 0 ? bias : r.prepBiasMin + RATE * (bias - r.prepBiasMin);
    r.prepSamples++;
    learned = true;
  }
  // The order's latest offer, if it has had one: how far away the rider dispatch found was.
  if (o.offerEtaS > 0) {
    r.pickupEtaS = r.pickupEtaSamples === 0 ? o.offerEtaS : r.pickupEtaS + RATE * (o.offerEtaS - r.pickupEtaS);
    r.pickupEtaSamples++;
    learned = true;
  }
  if (!learned) return;
  core.emit('restaurant', r, {
    type: 'restaurant_kitchen_learned',
    prepBiasMinutes: r.prepBiasMin,
    prepSamples: r.prepSamples,
    pickupEtaS: r.pickupEtaS,
    pickupEtaSamples: r.pickupEtaSamples,
  });
}

/**
 * The delivery promise of an order placed now at `r` for `drop`, ms from now:
 * the restaurant's expected preparation, the ride from it to the drop by the
 * travel-time model (leaving when the food should be ready) and
 * `promiseBufferMs`, at most `promiseMs`.
 */
export function promiseMs(core: EngineCore, r: RestaurantRecord, drop: LatLng): number {
  const c = core.config;
  const prepMs = expectedPrepMinutes(core, r, r.prepMinutes) * 60_000;
  const { lat, lng } = r.location;
  const rideMs = core.eta.travelS(lat, lng, drop.lat, drop.lng, null, core.now() + prepMs) * 1000;
  return Math.min(c.promiseMs, Math.round(prepMs + rideMs + c.promiseBufferMs));
}
