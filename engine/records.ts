import type { SnapshotFrom } from 'xstate';
import type { CustomerId, H3Cell, LatLng, OrderId, RestaurantId, RiderId } from '../protocol/index.js';
import type { orderMachine, OrderState } from './machines/order-machine.js';
import type { restaurantMachine, RestaurantState } from './machines/restaurant-machine.js';
import type { riderMachine, RiderState } from './machines/rider-machine.js';
import type { Shard } from './shard.js';

export type OrderSnapshot = SnapshotFrom<typeof orderMachine>;
export type RiderSnapshot = SnapshotFrom<typeof riderMachine>;
export type RestaurantSnapshot = SnapshotFrom<typeof restaurantMachine>;

/**
 * A rider as the engine holds it. The machine snapshot decides the lifecycle;
 * the numeric fields beside it are written by the position hot path in place,
 * with no transition and no allocation. Numbers start as doubles (NaN, -1.5)
 * so V8 gives the fields a double representation from the first write.
 */
export class RiderRecord {
  readonly id: RiderId;
  snap: RiderSnapshot;
  state: RiderState;
  shard: Shard | null = null;
  seq = 0;
  capacity: number;

  lat = NaN;
  lng = NaN;
  accuracy = NaN;
  heading = NaN;
  speed = NaN;
  /** Device time of the last applied position, epoch ms. */
  posAt = -1.5;

  /** Index-resolution cell of the last applied position, and the disc inside it. */
  cell: H3Cell | null = null;
  discLat = NaN;
  discLng = NaN;
  discR = -1.5;

  /** Where the rider's current job takes it next (pickup, then drop), NaN when none. */
  targetLat = NaN;
  targetLng = NaN;

  /** Position in the available index, or null when not available. */
  indexCell: H3Cell | null = null;
  indexSlot = -1;
  indexedIn: Shard | null = null;

  idleSince = 0.5;
  offers = 0;
  accepts = 0;
  declines = 0;
  expiries = 0;
  delivered = 0;

  constructor(id: RiderId, snap: RiderSnapshot, state: RiderState, capacity: number) {
    this.id = id;
    this.snap = snap;
    this.state = state;
    this.capacity = capacity;
  }
}

/** Immutable facts of an order, fixed at placement, beside its machine. */
export class OrderRecord {
  readonly id: OrderId;
  readonly customerId: CustomerId;
  readonly restaurantId: RestaurantId;
  readonly pickup: LatLng;
  readonly drop: LatLng;
  readonly pickupCell: H3Cell;
  readonly placedAt: number;
  readonly promisedAt: number;
  readonly expiresAt: number;
  snap: OrderSnapshot;
  state: OrderState;
  shard: Shard | null = null;
  seq = 0;
  slaBreached = false;
  prepMinutes = 0;
  readyAt = 0;
  /** When it reached delivered or cancelled, 0 while live. */
  endedAt = 0;

  constructor(init: {
    id: OrderId; customerId: CustomerId; restaurantId: RestaurantId; pickup: LatLng; drop: LatLng;
    pickupCell: H3Cell; placedAt: number; promisedAt: number; expiresAt: number; snap: OrderSnapshot; state: OrderState;
  }) {
    this.id = init.id;
    this.customerId = init.customerId;
    this.restaurantId = init.restaurantId;
    this.pickup = init.pickup;
    this.drop = init.drop;
    this.pickupCell = init.pickupCell;
    this.placedAt = init.placedAt;
    this.promisedAt = init.promisedAt;
    this.expiresAt = init.expiresAt;
    this.snap = init.snap;
    this.state = init.state;
  }
}

export class RestaurantRecord {
  readonly id: RestaurantId;
  readonly location: LatLng;
  readonly cell: H3Cell;
  snap: RestaurantSnapshot;
  state: RestaurantState;
  shard: Shard | null = null;
  seq = 0;
  prepMinutes: number;
  capacity: number;
  /** Orders accepted or awaiting acceptance and not yet picked up or ended. */
  openOrders = 0;

  constructor(init: {
    id: RestaurantId; location: LatLng; cell: H3Cell; snap: RestaurantSnapshot; state: RestaurantState;
    prepMinutes: number; capacity: number;
  }) {
    this.id = init.id;
    this.location = init.location;
    this.cell = init.cell;
    this.snap = init.snap;
    this.state = init.state;
    this.prepMinutes = init.prepMinutes;
    this.capacity = init.capacity;
  }
}
