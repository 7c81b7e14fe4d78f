import type { CancelledBy, RestaurantStatus } from './engine-events.js';
import type { LatLng } from './geo.js';
import type { CustomerId, OrderId, RestaurantId, RiderId } from './ids.js';

/** Inputs of the engine's commands (see `Engine` in engine/index.ts). */
export interface RegisterRestaurant {
  readonly restaurantId: RestaurantId;
  readonly location: LatLng;
  /** Typical preparation time, minutes. */
  readonly prepMinutes: number;
  /** Orders it can have open at once. */
  readonly capacity: number;
  readonly status?: RestaurantStatus;
}

export interface RegisterRider {
  readonly riderId: RiderId;
  /** Jobs the rider can carry at once. Only 1 is dispatched today. */
  readonly capacity?: number;
}

export interface PlaceOrder {
  /** Given by the caller (the REST gateway makes a UUID), or generated. */
  readonly orderId?: OrderId;
  readonly customerId: CustomerId;
  readonly restaurantId: RestaurantId;
  readonly drop: LatLng;
  /** True when payment needs no confirmation (already captured). */
  readonly paid?: boolean;
}

export interface CancelOrder {
  readonly orderId: OrderId;
  readonly by: CancelledBy;
  readonly reason?: string;
}

/** Order as a query answers it. */
export interface OrderView {
  readonly id: OrderId;
  readonly state: string;
  readonly customerId: CustomerId;
  readonly restaurantId: RestaurantId;
  readonly riderId: RiderId | null;
  readonly pickup: LatLng;
  readonly drop: LatLng;
  readonly paid: boolean;
  readonly foodReady: boolean;
  readonly placedAt: number;
  readonly promisedAt: number;
  readonly readyAt: number | null;
  readonly offer: { readonly riderId: RiderId; readonly offerId: string; readonly expiresAt: number; readonly payout: number | null } | null;
  /** The rider's pay for the job, integer paise: set from the offer until delivery; null with no rider. */
  readonly payout: number | null;
  readonly offersMade: number;
}

export interface RiderView {
  readonly id: RiderId;
  readonly state: string;
  readonly connected: boolean;
  readonly position: (LatLng & { readonly at: number; readonly heading: number | null; readonly speed: number | null }) | null;
  readonly cell: string | null;
  readonly orderId: OrderId | null;
  readonly available: boolean;
  readonly stats: {
    readonly offers: number; readonly accepts: number; readonly declines: number; readonly expiries: number;
    readonly delivered: number;
  };
}

/**
 * The rider's current offer or job, as a reconnecting rider app must learn it
 * again: what the OFFER, ASSIGNED and ORDER_UPDATE frames said.
 */
export interface RiderJobView {
  readonly orderId: OrderId;
  readonly offerId: string;
  /** `offered`: a live offer awaiting an answer; `assigned` / `picked_up`: the job. */
  readonly stage: 'offered' | 'assigned' | 'picked_up';
  /** When the live offer expires (epoch ms); null once accepted. */
  readonly expiresAt: number | null;
  readonly pickup: LatLng;
  readonly drop: LatLng;
  /** From the rider's last position to the pickup, now (metres, rounded); null with no position. */
  readonly pickupDistanceM: number | null;
  /** Pickup ETA from that distance with the engine's speed model, seconds (rounded); null with no position. */
  readonly pickupEtaS: number | null;
  /** Integer paise, fixed at the offer; null for an offer made before pricing. */
  readonly payout: number | null;
  readonly foodReady: boolean;
  /** When the rider picked the food up (epoch ms); null before. */
  readonly pickedUpAt: number | null;
}

export interface RestaurantView {
  readonly id: RestaurantId;
  readonly state: RestaurantStatus;
  readonly location: LatLng;
  readonly prepMinutes: number;
  readonly capacity: number;
  readonly openOrders: number;
}

/** What the position hot path answers: a small integer, so nothing is allocated. */
export const PositionStatus = {
  APPLIED: 0,
  UNKNOWN_RIDER: 1,
  INVALID: 2,
  OUT_OF_ORDER: 3,
  /** Older than the freshness bound: keep it for the trail, not for matching. */
  STALE: 4,
  /** Stamped later than the engine's clock plus the allowed skew: a device clock that runs ahead. */
  FUTURE: 5,
} as const;
export type PositionStatus = (typeof PositionStatus)[keyof typeof PositionStatus];
