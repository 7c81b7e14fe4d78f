import {
  type RegisterRestaurant,
  type RestaurantId,
  type RestaurantStatus,
  type Result,
  OK,
  isIdString,
  isLatLng,
  reject,
} from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { cellOf } from '../geo.js';
import type { RestaurantState } from '../machines/restaurant-machine.js';
import { stateKey } from '../machines/step.js';
import { RestaurantRecord } from '../records.js';

/** Rings precomputed around each restaurant: 127 cells, about 1 km at resolution 9. */
const WARM_RINGS = 6;
const STATUS_EVENT = { open: 'OPEN', busy: 'BUSY', closed: 'CLOSE' } as const;

export function registerRestaurant(core: EngineCore, cmd: RegisterRestaurant): Result {
  if (!isIdString(cmd.restaurantId)) return reject('INVALID_ARGUMENT', 'restaurantId must be a UUID or a slug');
  if (!isLatLng(cmd.location))
    return reject('INVALID_ARGUMENT', 'location must have lat in [-90, 90] and lng in [-180, 180]');
  if (!(cmd.prepMinutes > 0 && cmd.prepMinutes <= 240))
    return reject('INVALID_ARGUMENT', 'prepMinutes must be in (0, 240]');
  if (!(Number.isInteger(cmd.capacity) && cmd.capacity >= 1))
    return reject('INVALID_ARGUMENT', 'capacity must be an integer ≥ 1');
  if (cmd.status !== undefined && !Object.hasOwn(STATUS_EVENT, cmd.status)) {
    return reject('INVALID_ARGUMENT', 'status must be open, busy or closed');
  }
  if (core.restaurants.has(cmd.restaurantId))
    return reject('RESTAURANT_EXISTS', `restaurant ${cmd.restaurantId} exists`);
  const cell = cellOf(cmd.location.lat, cmd.location.lng, core.config.indexResolution);
  const r = new RestaurantRecord({
    id: cmd.restaurantId,
    location: { lat: cmd.location.lat, lng: cmd.location.lng },
    cell,
    snap: core.restaurantStep.initial(),
    state: 'open',
    prepMinutes: cmd.prepMinutes,
    capacity: cmd.capacity,
  });
  addRestaurant(core, r);
  core.emit('restaurant', r, {
    type: 'restaurant_registered',
    location: r.location,
    prepMinutes: r.prepMinutes,
    capacity: r.capacity,
  });
  return cmd.status && cmd.status !== 'open' ? setRestaurantStatus(core, r.id, cmd.status) : OK;
}

/** Places a restaurant in its shard and warms the rings around it (registration and restore). */
export function addRestaurant(core: EngineCore, r: RestaurantRecord): void {
  core.space.shardFor(r.cell).restaurants.set(r.id, r);
  core.restaurants.set(r.id, r);
  core.search.warm(r.cell, WARM_RINGS);
  core.stacks.restaurantsChanged();
}

export function setRestaurantStatus(core: EngineCore, id: RestaurantId, status: RestaurantStatus): Result {
  const r = core.restaurants.get(id);
  if (!r) return reject('RESTAURANT_NOT_FOUND', `no restaurant ${id}`);
  const type = Object.hasOwn(STATUS_EVENT, status) ? STATUS_EVENT[status] : undefined;
  if (!type) return reject('INVALID_ARGUMENT', 'status must be open, busy or closed');
  const next = core.restaurantStep.step(r.snap, { type });
  if (!next) return reject('RESTAURANT_INVALID_TRANSITION', `restaurant ${id} is already ${r.state}`);
  r.snap = next;
  r.state = stateKey(next.value) as RestaurantState;
  core.emit('restaurant', r, { type: 'restaurant_status_changed', status });
  return OK;
}
