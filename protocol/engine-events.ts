import type { CustomerId, OrderId, RestaurantId, RiderId } from './ids.js';
import type { VehicleType } from './vehicle.js';
import type { LatLng } from './geo.js';

/**
 * Engine events. Each names the one aggregate whose state it changes and
 * carries that aggregate's sequence number: (aggregate, id, seq) is unique and
 * gap-free, which is what makes write-behind idempotent.
 */
export type AggregateKind = 'order' | 'rider' | 'restaurant';

/** The id type of each aggregate kind. */
export interface AggregateIds {
  readonly order: OrderId;
  readonly rider: RiderId;
  readonly restaurant: RestaurantId;
}

interface Envelope<K extends AggregateKind, T extends string> {
  readonly type: T;
  readonly aggregate: K;
  readonly id: AggregateIds[K];
  /** 1-based, per aggregate. */
  readonly seq: number;
  /** Engine clock, epoch ms. */
  readonly at: number;
}

/** Who ended an order early. */
export type CancelledBy = 'customer' | 'restaurant' | 'admin' | 'system';

export const CancelReason = {
  CUSTOMER_REQUEST: 'customer_request',
  RESTAURANT_REQUEST: 'restaurant_request',
  SYSTEM: 'system',
  RESTAURANT_REJECTED: 'restaurant_rejected',
  RESTAURANT_TIMEOUT: 'restaurant_timeout',
  PAYMENT_FAILED: 'payment_failed',
  PAYMENT_EXPIRED: 'payment_expired',
  NO_RIDER: 'no_rider',
  RIDER_LOST: 'rider_lost',
  ORDER_EXPIRED: 'order_expired',
  ADMIN: 'admin',
} as const;
export type CancelReason = (typeof CancelReason)[keyof typeof CancelReason] | (string & {});

export type OfferOutcome = 'declined' | 'expired' | 'withdrawn';

/** One candidate of a dispatch decision, with each term of its score (seconds; lower is better). */
export interface TraceCandidate {
  readonly riderId: RiderId;
  readonly distanceM: number;
  /** Pickup ETA, the first term. */
  readonly etaS: number;
  /** Subtracted: time idle × idle weight, capped. */
  readonly idleBonusS: number;
  /** Added: a low acceptance rate. */
  readonly acceptancePenaltyS: number;
  /** Added: moving away from the pickup. */
  readonly headingPenaltyS: number;
  /** etaS − idleBonusS + acceptancePenaltyS + headingPenaltyS. */
  readonly score: number;
}

/** One stop of a rider's route: a pickup or a drop of one of its orders. */
export interface RouteStop {
  readonly kind: 'pickup' | 'drop';
  readonly orderId: OrderId;
  readonly at: LatLng;
}

/**
 * Why dispatch chose whom it chose (or no one): the best candidates it
 * scored, best first (at most five: the trace is cheap), how many it
 * considered, and how many riders it passed over and why. Carried by
 * `order_offered` and `order_no_rider`, so it is stored with the order's events.
 */
export interface DecisionTrace {
  /**
   * `best_score`: the lowest score won (greedy); `stacked`: the order joins the route of a rider
   * already heading to a nearby restaurant, at less added time than a free rider's pickup and
   * ride (engine/dispatch/stacking.ts); `batch_optimal`: the rider of this order in
   * the least-cost assignment of its shard's batch (the candidates are this order's own, the
   * choice the batch's); `forced`: an operator chose; `none`: no candidate, or none left to it
   * in its batch.
   */
  readonly why: 'best_score' | 'batch_optimal' | 'stacked' | 'forced' | 'none';
  readonly chosen: RiderId | null;
  /** The ring the search stopped at; -1 for an external source's candidates or an operator's choice. */
  readonly ring: number;
  readonly considered: number;
  readonly skipped: {
    /** Position older than `positionStaleMs`. */
    readonly stale: number;
    /** Declined, let expire or left this order before. */
    readonly passedBefore: number;
    /** Beyond `maxPickupDistanceM`. */
    readonly tooFar: number;
    /** Named by an external source but not available (offline, busy, disconnected). */
    readonly unavailable: number;
  };
  readonly candidates: readonly TraceCandidate[];
}

type OrderEvent<T extends string, P = unknown> = Envelope<'order', T> & P;
type RiderEvent<T extends string, P = unknown> = Envelope<'rider', T> & P;
type RestaurantEvent<T extends string, P = unknown> = Envelope<'restaurant', T> & P;

export type OrderPlaced = OrderEvent<
  'order_placed',
  {
    customerId: CustomerId;
    restaurantId: RestaurantId;
    pickup: LatLng;
    drop: LatLng;
    paid: boolean;
    paymentExpiresAt: number;
    promisedAt: number;
  }
>;
export type OrderPaymentConfirmed = OrderEvent<'order_payment_confirmed', { restaurantAcceptBy: number }>;
export type OrderAccepted = OrderEvent<'order_accepted', { prepMinutes: number; readyAt: number; dispatchAt: number }>;
export type OrderFoodReady = OrderEvent<'order_food_ready'>;
export type OrderDispatchable = OrderEvent<'order_dispatchable', { giveUpAt: number }>;
export type OrderNoRider = OrderEvent<
  'order_no_rider',
  { candidates: number; retryAt: number; /** Why no one. */ trace?: DecisionTrace }
>;
export type OrderOffered = OrderEvent<
  'order_offered',
  {
    riderId: RiderId;
    offerId: string;
    expiresAt: number;
    pickupDistanceM: number;
    pickupEtaS: number;
    pickup: LatLng;
    drop: LatLng;
    /** The rider's pay for the job, integer paise (engine config `payout`); absent in events older than pricing. */
    payout?: number;
    /** Why this rider: absent for external candidates sources' offers and in events older than traces. */
    trace?: DecisionTrace;
    /**
     * Present when the order joins the route of a rider already holding a job (stacking): the
     * rider's stops after accepting, this order's among them, in the order to make them.
     */
    stops?: RouteStop[];
  }
>;
export type OrderOfferEnded = OrderEvent<
  'order_offer_ended',
  { riderId: RiderId; offerId: string; outcome: OfferOutcome }
>;
export type OrderAssigned = OrderEvent<'order_assigned', { riderId: RiderId; offerId: string }>;
export type OrderUnassigned = OrderEvent<'order_unassigned', { riderId: RiderId; reason: string }>;
export type OrderPickedUp = OrderEvent<'order_picked_up', { riderId: RiderId }>;
export type OrderDelivered = OrderEvent<'order_delivered', { riderId: RiderId }>;
export type OrderSlaBreached = OrderEvent<'order_sla_breached', { promisedAt: number }>;
export type OrderCancelled = OrderEvent<
  'order_cancelled',
  {
    by: CancelledBy;
    reason: CancelReason;
    fromState: string;
    refundDue: boolean;
    riderId: RiderId | null;
  }
>;

export type RiderRegistered = RiderEvent<'rider_registered', { capacity: number; vehicle: VehicleType | null }>;
export type RiderOnline = RiderEvent<'rider_online'>;
export type RiderReviewed = RiderEvent<'rider_reviewed', { decision: 'approved' | 'rejected'; reason: string }>;
export type RiderDocumentsSubmitted = RiderEvent<'rider_documents_submitted'>;
export type RiderOffline = RiderEvent<'rider_offline', { reason: 'requested' | 'grace_expired' }>;
export type RiderBreakStarted = RiderEvent<'rider_break_started'>;
export type RiderBreakEnded = RiderEvent<'rider_break_ended'>;
export type RiderDisconnected = RiderEvent<'rider_disconnected', { graceUntil: number }>;
export type RiderReconnected = RiderEvent<'rider_reconnected'>;
export type RiderOffered = RiderEvent<'rider_offered', { orderId: OrderId; offerId: string; expiresAt: number }>;
export type RiderOfferEnded = RiderEvent<
  'rider_offer_ended',
  { orderId: OrderId; offerId: string; outcome: OfferOutcome }
>;
export type RiderAssigned = RiderEvent<'rider_assigned', { orderId: OrderId }>;
export type RiderArrivedPickup = RiderEvent<'rider_arrived_pickup', { orderId: OrderId }>;
export type RiderPickedUp = RiderEvent<'rider_picked_up', { orderId: OrderId }>;
export type RiderArrivedDrop = RiderEvent<'rider_arrived_drop', { orderId: OrderId }>;
export type RiderDelivered = RiderEvent<'rider_delivered', { orderId: OrderId }>;
export type RiderReleased = RiderEvent<'rider_released', { orderId: OrderId; reason: string }>;
/** The rider left this partition for another (docs/scale.md, "Handover"); this partition no longer serves it. */
export type RiderHandedOver = RiderEvent<'rider_handed_over', { to: string }>;
/** This partition took the rider over from another, with its state there. */
export type RiderTakenOver = RiderEvent<'rider_taken_over', { from: string }>;

export type RestaurantRegistered = RestaurantEvent<
  'restaurant_registered',
  { location: LatLng; prepMinutes: number; capacity: number }
>;
export type RestaurantStatusChanged = RestaurantEvent<'restaurant_status_changed', { status: RestaurantStatus }>;
/**
 * A food-ready mark taught the engine how far off the restaurant's own estimates run, and this is
 * what it knows of the restaurant's kitchen and pickups now (engine/kitchen.ts).
 */
export type RestaurantKitchenLearned = RestaurantEvent<
  'restaurant_kitchen_learned',
  { prepBiasMinutes: number; prepSamples: number; pickupEtaS: number; pickupEtaSamples: number }
>;

export type RestaurantStatus = 'open' | 'busy' | 'closed';

export type OrderEngineEvent =
  | OrderPlaced
  | OrderPaymentConfirmed
  | OrderAccepted
  | OrderFoodReady
  | OrderDispatchable
  | OrderNoRider
  | OrderOffered
  | OrderOfferEnded
  | OrderAssigned
  | OrderUnassigned
  | OrderPickedUp
  | OrderDelivered
  | OrderSlaBreached
  | OrderCancelled;
export type RiderEngineEvent =
  | RiderRegistered
  | RiderOnline
  | RiderReviewed
  | RiderDocumentsSubmitted
  | RiderOffline
  | RiderBreakStarted
  | RiderBreakEnded
  | RiderDisconnected
  | RiderReconnected
  | RiderOffered
  | RiderOfferEnded
  | RiderAssigned
  | RiderArrivedPickup
  | RiderPickedUp
  | RiderArrivedDrop
  | RiderDelivered
  | RiderReleased
  | RiderHandedOver
  | RiderTakenOver;
export type RestaurantEngineEvent = RestaurantRegistered | RestaurantStatusChanged | RestaurantKitchenLearned;

export type EngineEvent = OrderEngineEvent | RiderEngineEvent | RestaurantEngineEvent;
export type EngineEventType = EngineEvent['type'];

/** Distributes Omit over a union, keeping each member's own fields. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An event before the engine stamps its envelope. */
export type EventBody = DistributiveOmit<EngineEvent, 'aggregate' | 'id' | 'seq' | 'at'>;
