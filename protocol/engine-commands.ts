import type { CancelledBy, RestaurantStatus, RouteStop } from './engine-events.js';
import type { DispatchPolicy, DispatchSettings, DispatchSettingsPatch } from './dispatch-settings.js';
import type { LatLng } from './geo.js';
import type { CustomerId, OrderId, RestaurantId, RiderId } from './ids.js';
import type { VehicleType } from './vehicle.js';

/**
 * The engine's commands as data: one variant of {@link EngineCommand} per
 * command, tagged by `type`, run by `engine.execute(cmd)`. The interfaces
 * below are the fields of the larger ones, shared with the typed methods.
 */
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
  /** Jobs the rider can carry at once (1 by default); above 1, dispatch may stack orders on its route. */
  readonly capacity?: number;
  /** Absent: not known, and travel times use the default `riderSpeedMps`. */
  readonly vehicle?: VehicleType;
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

/** The status a rider asks for. */
export type RiderStatus = 'online' | 'break' | 'offline';

/** Who is acting for a restaurant command: a restaurant may act only on its own orders. */
interface AsRestaurant {
  /** When given, the order must be this restaurant's (RESTAURANT_NOT_OWNER otherwise). */
  readonly restaurantId?: RestaurantId;
}

/** The timers the engine arms; a `fire_deadline` command names one that came due. */
export type DeadlineKind =
  'payment' | 'restaurant' | 'dispatch' | 'offer' | 'retry' | 'grace' | 'sla' | 'expire' | 'evict';

/** Every command the engine takes, as data. */
export type EngineCommand =
  // Restaurants
  | ({ readonly type: 'register_restaurant' } & RegisterRestaurant)
  | { readonly type: 'set_restaurant_status'; readonly restaurantId: RestaurantId; readonly status: RestaurantStatus }
  // Riders
  | ({ readonly type: 'register_rider' } & RegisterRider)
  | { readonly type: 'rider_online'; readonly riderId: RiderId }
  | { readonly type: 'rider_offline'; readonly riderId: RiderId }
  | { readonly type: 'rider_break'; readonly riderId: RiderId }
  | { readonly type: 'rider_resume'; readonly riderId: RiderId }
  /** What a rider asks for: online (resuming a break; no-op when online), break or offline. */
  | { readonly type: 'set_rider_status'; readonly riderId: RiderId; readonly status: RiderStatus }
  /** A rider's connection opened: registers an unknown rider, ends a disconnect's grace period. */
  | { readonly type: 'rider_connected'; readonly riderId: RiderId }
  | { readonly type: 'rider_disconnected'; readonly riderId: RiderId }
  | { readonly type: 'rider_reconnected'; readonly riderId: RiderId }
  /** The position hot path as data (a bus, a replay); in-process callers use the direct method. */
  | {
      readonly type: 'update_rider_position';
      readonly riderId: RiderId;
      readonly lat: number;
      readonly lng: number;
      readonly accuracy: number;
      readonly heading: number;
      readonly speed: number;
      readonly at: number;
    }
  // Orders
  | ({ readonly type: 'place_order' } & PlaceOrder)
  | { readonly type: 'confirm_payment'; readonly orderId: OrderId }
  | { readonly type: 'fail_payment'; readonly orderId: OrderId }
  | ({ readonly type: 'restaurant_accept'; readonly orderId: OrderId; readonly prepMinutes?: number } & AsRestaurant)
  | ({ readonly type: 'restaurant_reject'; readonly orderId: OrderId; readonly reason?: string } & AsRestaurant)
  | ({ readonly type: 'food_ready'; readonly orderId: OrderId } & AsRestaurant)
  | ({ readonly type: 'cancel_order' } & CancelOrder)
  // Offers and jobs
  | { readonly type: 'accept_offer'; readonly riderId: RiderId; readonly orderId: OrderId }
  | { readonly type: 'decline_offer'; readonly riderId: RiderId; readonly orderId: OrderId }
  | { readonly type: 'picked_up'; readonly riderId: RiderId; readonly orderId: OrderId }
  | { readonly type: 'delivered'; readonly riderId: RiderId; readonly orderId: OrderId }
  /** An external candidate source's answer: offer the order to the best of these riders. */
  | { readonly type: 'offer_from_candidates'; readonly orderId: OrderId; readonly riderIds: readonly string[] }
  // Issued by the engine's own clock
  | { readonly type: 'fire_deadline'; readonly kind: DeadlineKind; readonly id: string }
  // Operators (the admin service; engine/commands/admin.ts)
  /** Assigns a dispatching (or preparing) order to an idle, connected rider at once, withdrawing a live offer. */
  | { readonly type: 'force_assign'; readonly orderId: OrderId; readonly riderId: RiderId }
  /** Takes an assigned, not yet picked-up order from its rider: to `riderId` at once, or back to the search. */
  | { readonly type: 'reassign'; readonly orderId: OrderId; readonly riderId?: RiderId }
  /** A drained shard (an H3 cell at the shard resolution) takes no new orders; what it has runs to its end. */
  | { readonly type: 'drain_shard'; readonly shard: string; readonly drained: boolean }
  /** How a shard matches orders: `greedy`, `batched`, or `default` (the engine's `dispatchPolicy`). */
  | { readonly type: 'set_shard_policy'; readonly shard: string; readonly policy: DispatchPolicy | 'default' }
  /** An operator approves or rejects a pending rider's documents (a rejection needs a reason). */
  | { readonly type: 'review_rider'; readonly riderId: RiderId; readonly approve: boolean; readonly reason?: string }
  /** The rider sent its documents again: a rejected rider is pending review once more. */
  | { readonly type: 'submit_rider_documents'; readonly riderId: RiderId }
  /** Changes dispatch settings at once (validated; see protocol/dispatch-settings.ts). */
  | { readonly type: 'set_dispatch_config'; readonly settings: DispatchSettingsPatch }
  /** Cluster handover (docs/scale.md, "Handover"): a free rider leaves this partition for `to`; answers its state row. */
  | { readonly type: 'hand_over_rider'; readonly riderId: RiderId; readonly to: string }
  /**
   * Cluster handover: this partition takes a rider over from `from`, with the row `hand_over_rider`
   * (or `lend_rider`) answered there; given `forOrder`, the rider is offered that order at once if it still searches.
   */
  | {
      readonly type: 'take_over_rider';
      readonly riderId: RiderId;
      readonly from: string;
      readonly row: HandedRider;
      readonly forOrder?: OrderId;
    }
  /**
   * The border search (docs/scale.md): the neighbouring partition `to` has an order at `near` and no
   * rider; this partition hands over its nearest free rider within `withinM`, if any, and answers
   * its row (null: none).
   */
  | {
      readonly type: 'lend_rider';
      readonly near: LatLng;
      readonly withinM: number;
      readonly to: string;
      readonly forOrder: OrderId;
    };

/**
 * A rider's state row as one partition hands it to another (the engine's own row format, opaque
 * here: only engines of the same build read it).
 */
export interface HandedRider {
  readonly id: string;
  readonly seq: number;
  readonly [field: string]: unknown;
}

export type EngineCommandType = EngineCommand['type'];

/** What a command answers when it succeeds: most answer nothing. */
export interface CommandValues {
  readonly place_order: OrderId;
  readonly offer_from_candidates: RiderId | null;
  readonly update_rider_position: PositionStatus;
  /** The settings after the change. */
  readonly set_dispatch_config: DispatchSettings;
  readonly hand_over_rider: HandedRider;
  readonly lend_rider: HandedRider | null;
}
export type CommandValue<C extends EngineCommand> = C['type'] extends keyof CommandValues
  ? CommandValues[C['type']]
  : null;

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
  readonly offer: {
    readonly riderId: RiderId;
    readonly offerId: string;
    readonly expiresAt: number;
    readonly payout: number | null;
  } | null;
  /** The rider's pay for the job, integer paise: set from the offer until delivery; null with no rider. */
  readonly payout: number | null;
  readonly offersMade: number;
}

/** Where a rider's documents stand; `reason` says why a rejection was made (empty otherwise). */
export interface RiderReview {
  readonly status: 'pending' | 'approved' | 'rejected';
  readonly reason: string;
}

export interface RiderView {
  readonly id: RiderId;
  readonly state: string;
  readonly connected: boolean;
  readonly position:
    (LatLng & { readonly at: number; readonly heading: number | null; readonly speed: number | null }) | null;
  readonly cell: string | null;
  readonly orderId: OrderId | null;
  readonly available: boolean;
  /** What it rides, null when not known (the travel-time model then uses `riderSpeedMps`). */
  readonly vehicle: VehicleType | null;
  /** Onboarding: only an approved rider goes online (engine config `riderReview`; approved when review is off). */
  readonly review: RiderReview;
  readonly stats: {
    readonly offers: number;
    readonly accepts: number;
    readonly declines: number;
    readonly expiries: number;
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
  /**
   * A stacked job or stack offer (a rider holding several orders): the rider's whole route, this
   * order's stops among the others, in the order to make them; absent for a rider's only job.
   */
  readonly stops?: readonly RouteStop[];
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
