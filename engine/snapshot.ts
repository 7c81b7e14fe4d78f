import type { CustomerId, LatLng, OrderId, RestaurantId, RiderId, VehicleType } from '../protocol/index.js';
import type { OrderContext } from './machines/order-machine.js';
import type { RestaurantState } from './machines/restaurant-machine.js';
import type { RiderContext } from './machines/rider-machine.js';

/**
 * The whole engine as JSON. Machine state is kept as XState's persisted
 * `{ value, context }`; deadlines are not stored separately because every one
 * of them is an absolute time inside an actor's state, re-armed on restore.
 * Bump `format` when a machine changes shape.
 */
export interface EngineSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly at: number;
  readonly seed: number;
  readonly idCounter: number;
  readonly restaurants: readonly RestaurantSnapshotRow[];
  readonly riders: readonly RiderSnapshotRow[];
  readonly orders: readonly OrderSnapshotRow[];
}

export const SNAPSHOT_FORMAT = 'dispatch-engine.snapshot/1';

export interface RestaurantSnapshotRow {
  readonly id: RestaurantId;
  readonly seq: number;
  readonly state: RestaurantState;
  readonly location: LatLng;
  readonly prepMinutes: number;
  readonly capacity: number;
  readonly openOrders: number;
  /**
   * What engine/kitchen.ts learned: the bias of its estimates (minutes) and its samples, its
   * orders' pickup ETA (seconds) and its samples. Absent: nothing yet.
   */
  readonly kitchen?: readonly [number, number, number, number];
}

export interface RiderSnapshotRow {
  readonly id: RiderId;
  readonly seq: number;
  readonly value: unknown;
  readonly context: RiderContext;
  readonly capacity: number;
  /** What it rides; absent: not known. */
  readonly vehicle?: VehicleType;
  /** lat, lng, accuracy, heading, speed, device time; null before the first position. */
  readonly position: readonly [number, number, number, number | null, number | null, number] | null;
  readonly target: readonly [number, number] | null;
  readonly idleSince: number;
  /** offers, accepts, declines, expiries, delivered. */
  readonly stats: readonly [number, number, number, number, number];
  /** Onboarding, when not approved: the review status and a rejection's reason. Absent: approved. */
  readonly review?: readonly ['pending' | 'rejected', string];
  /** Handed over to this partition (docs/scale.md, "Handover"); absent: served here. */
  readonly away?: string;
}

export interface OrderSnapshotRow {
  readonly id: OrderId;
  readonly seq: number;
  readonly value: unknown;
  readonly context: OrderContext;
  readonly customerId: CustomerId;
  readonly restaurantId: RestaurantId;
  readonly drop: LatLng;
  readonly placedAt: number;
  readonly promisedAt: number;
  readonly expiresAt: number;
  readonly slaBreached: boolean;
  readonly prepMinutes: number;
  /** Absent in snapshots from before it was kept: then `readyAt` less `prepMinutes`. */
  readonly acceptedAt?: number;
  readonly readyAt: number;
  /** The pickup ETA of its latest offer, seconds; absent: none. */
  readonly offerEtaS?: number;
  readonly endedAt: number;
}
