/**
 * Who is told what, as a push and a stored notification, for each engine
 * event: the one table the push worker and the notification store use. Pure:
 * it sees the event and the order's parties as they stood after it, never a
 * clock or a socket.
 *
 * - Restaurant: each paid order it must accept (high priority, until its
 *   accept deadline; reminded until accepted or ended), each cancellation of
 *   an order it knew of.
 * - Rider: an offer while its socket is down (TTL: the offer's expiry), and
 *   changes to its job (food ready, taken off it, cancelled).
 * - Customer: confirmed, rider assigned, picked up, arriving, running late,
 *   delivered, cancelled; a refund once the gateway has accepted it, and when it settles (refundNotice).
 *
 * Texts name no person and no address: an order id and a status are all a
 * lock screen shows.
 */
import type { CustomerId, EngineEvent, OrderId, RestaurantId, RiderId } from '../protocol/index.js';

export type NoticeKind =
  | 'new_order'
  | 'new_order_reminder'
  | 'order_cancelled'
  | 'offer'
  | 'job_food_ready'
  | 'job_removed'
  | 'job_cancelled'
  | 'confirmed'
  | 'rider_assigned'
  | 'picked_up'
  | 'arriving'
  | 'running_late'
  | 'delivered'
  | 'cancelled'
  | 'chat_message'
  | 'refund';

export interface Notice {
  /** Unique per event and recipient: the at-most-once key and the id the apps see. */
  readonly id: string;
  /** `customer:<id>`, `restaurant:<id>` or `rider:<id>`. */
  readonly party: string;
  readonly kind: NoticeKind;
  readonly orderId: OrderId;
  readonly title: string;
  readonly body: string;
  readonly priority: 'high' | 'normal';
  /** How long an undelivered push is worth keeping, ms. */
  readonly ttlMs: number;
  /** A newer notice with the same key replaces an older one not yet shown. */
  readonly collapseKey: string;
  /** Extra fields for the app (strings only). */
  readonly data: Readonly<Record<string, string>>;
}

/** The order an event is about, as it stood after the event (from its stored state). */
export interface OrderFacts {
  readonly id: OrderId;
  readonly customerId: CustomerId;
  readonly restaurantId: RestaurantId;
  readonly riderId: RiderId | null;
  readonly offerId: string | null;
  readonly offerExpiresAt: number;
  /** When the restaurant's time to accept runs out (0 before payment). */
  readonly restaurantAcceptBy: number;
}

/** The rider a rider event is about, as it stood after the event. */
export interface RiderFacts {
  readonly connected: boolean;
  /** The rider machine's state (`online.offered`, `online.to_pickup`...). */
  readonly state: string;
  /** The offer it holds, if any. */
  readonly offerId: string | null;
}

const MIN = 60_000;
const STATUS_TTL_MS = 30 * MIN;
/** States in which the restaurant has not yet heard of an order (it hears once paid). */
const BEFORE_RESTAURANT = new Set(['placed', 'awaiting_payment']);

/** The id of the notice `e` makes for a party of `role`: the stream's `notification` messages carry it too. */
export const noticeIdOf = (
  e: Pick<EngineEvent, 'aggregate' | 'id' | 'seq'>,
  role: 'customer' | 'restaurant' | 'rider',
): string => `${e.aggregate}.${e.id}.${e.seq}.${role}`;

/** Where a refund stands when the customer is told: the gateway accepted it, or it has settled. */
export type RefundStage = 'accepted' | 'completed';

/**
 * The customer's notice of a refund: sent once the gateway has accepted the refund ("on its way") and
 * again when it settles, never before (a cancellation promises nothing). One id per refund and stage.
 */
export function refundNotice(o: {
  readonly refundId: string;
  readonly orderId: OrderId;
  readonly customerId: string;
  readonly stage: RefundStage;
  readonly message: string;
}): Notice {
  return {
    id: `refund.${o.refundId}.${o.stage}`,
    party: `customer:${o.customerId}`,
    kind: 'refund',
    orderId: o.orderId,
    title: o.stage === 'completed' ? 'Refund completed' : 'Refund on its way',
    body: o.message,
    priority: 'normal',
    ttlMs: 7 * 24 * 60 * MIN,
    collapseKey: `refund-${o.orderId}`,
    data: { stage: o.stage },
  };
}

/** Notices for one event; `order` is needed for order events and for rider events that name an order. */
export function noticesFor(e: EngineEvent, order: OrderFacts | null, rider: RiderFacts | null = null): Notice[] {
  if (order === null) return [];
  const out: Notice[] = [];
  const customer = `customer:${order.customerId}`;
  const restaurant = `restaurant:${order.restaurantId}`;
  const to = (party: string, kind: NoticeKind, title: string, body: string, over: Partial<Notice> = {}): void => {
    out.push({
      id: noticeIdOf(e, party.slice(0, party.indexOf(':')) as 'customer'),
      party,
      kind,
      orderId: order.id,
      title,
      body,
      priority: 'normal',
      ttlMs: STATUS_TTL_MS,
      collapseKey: `order-${order.id}`,
      data: {},
      ...over,
    });
  };
  const toCustomer = (kind: NoticeKind, title: string, body: string) => to(customer, kind, title, body);
  switch (e.type) {
    case 'order_placed':
    case 'order_payment_confirmed': {
      // Paid at placement (no payment event follows) or paid now: the restaurant must accept it.
      if (e.type === 'order_placed' && !e.paid) break;
      const acceptBy = e.type === 'order_payment_confirmed' ? e.restaurantAcceptBy : order.restaurantAcceptBy;
      to(restaurant, 'new_order', 'New order', 'A new order is waiting for you to accept it', {
        priority: 'high',
        ttlMs: Math.max(0, acceptBy - e.at),
        collapseKey: `new-${order.id}`,
        data: { accept_by: new Date(acceptBy).toISOString() },
      });
      break;
    }
    case 'order_accepted':
      toCustomer('confirmed', 'Order confirmed', 'The restaurant is preparing your order');
      break;
    case 'order_food_ready':
      if (order.riderId) {
        const rider = `rider:${order.riderId}`;
        to(rider, 'job_food_ready', 'Food ready', 'The order is ready for pickup', { priority: 'high' });
      }
      break;
    case 'order_assigned':
      toCustomer('rider_assigned', 'Rider assigned', 'A rider is on the way to the restaurant');
      break;
    case 'order_unassigned':
      to(`rider:${e.riderId}`, 'job_removed', 'Job removed', 'This order is no longer yours', {
        priority: 'high',
        collapseKey: `job-${order.id}`,
      });
      break;
    case 'order_picked_up':
      toCustomer('picked_up', 'On its way', 'Your order has been picked up');
      break;
    case 'order_delivered':
      toCustomer('delivered', 'Delivered', 'Your order has been delivered');
      break;
    case 'order_cancelled':
      toCustomer(
        'cancelled',
        'Order cancelled',
        // No promise of a refund here: a `refund` notice follows once the gateway has accepted it.
        e.refundDue
          ? 'Your order was cancelled; you will be told when your refund is on its way'
          : 'Your order was cancelled',
      );
      if (!BEFORE_RESTAURANT.has(e.fromState)) {
        to(restaurant, 'order_cancelled', 'Order cancelled', 'An order was cancelled; do not prepare it', {
          priority: 'high',
          collapseKey: `new-${order.id}`,
        });
      }
      if (e.riderId) {
        to(`rider:${e.riderId}`, 'job_cancelled', 'Job cancelled', 'This order was cancelled', {
          priority: 'high',
          collapseKey: `job-${order.id}`,
        });
      }
      break;
    case 'rider_arrived_drop':
      toCustomer('arriving', 'Arriving', 'Your rider is arriving');
      break;
    case 'order_sla_breached':
      toCustomer('running_late', 'Running late', 'Your order is running late');
      break;
    case 'rider_offered':
    case 'rider_disconnected': {
      // Only a rider whose socket is down needs the offer by push; a connected one has it on the socket.
      if (rider === null || rider.connected || order.offerId === null) break;
      const offerId = e.type === 'rider_offered' ? e.offerId : rider.state === 'online.offered' ? rider.offerId : null;
      // The order must still hold this very offer: one declined or expired since is not pushed.
      if (offerId !== order.offerId || order.riderId !== e.id) break;
      const at = e.at;
      if (order.offerExpiresAt <= at) break;
      // One push per offer, whichever event found the socket down first: the id is the offer's.
      to(`rider:${e.id}`, 'offer', 'New job offer', 'Open the app to accept it before it expires', {
        id: `offer.${offerId}.rider`,
        priority: 'high',
        ttlMs: order.offerExpiresAt - at,
        collapseKey: `offer-${order.offerId}`,
        data: { offer_id: order.offerId, expires_at: new Date(order.offerExpiresAt).toISOString() },
      });
      break;
    }
    default:
      break;
  }
  return out;
}

/** The events that can lead to a notice: the push feed queues only these. */
export const NOTICE_EVENTS: ReadonlySet<EngineEvent['type']> = new Set([
  'order_placed',
  'order_payment_confirmed',
  'order_accepted',
  'order_food_ready',
  'order_assigned',
  'order_unassigned',
  'order_picked_up',
  'order_delivered',
  'order_cancelled',
  'order_sla_breached',
  'rider_arrived_drop',
  'rider_offered',
  'rider_disconnected',
]);

/** How often a restaurant is reminded of a paid order it has not accepted. */
export const REMIND_EVERY_MS = 60_000;

/** A paid order waiting for its restaurant, as the reminder sweep reads it from storage. */
export interface WaitingOrder {
  readonly id: OrderId;
  readonly restaurantId: RestaurantId;
  readonly paidAt: number;
  readonly acceptBy: number;
}

/**
 * The reminders due now: one per order for each whole `everyMs` it has waited, named by that
 * count, so sweeps that run twice (two workers, a restart) name the same reminder and it is sent once.
 */
export function remindersDue(orders: readonly WaitingOrder[], now: number, everyMs = REMIND_EVERY_MS): Notice[] {
  const out: Notice[] = [];
  for (const o of orders) {
    const n = Math.floor((now - o.paidAt) / everyMs);
    if (n >= 1 && now < o.acceptBy) out.push(reminderFor(o, n, o.acceptBy, now));
  }
  return out;
}

/** The `n`th reminder of a paid order the restaurant has not accepted. */
export function reminderFor(
  order: Pick<WaitingOrder, 'id' | 'restaurantId'>,
  n: number,
  acceptBy: number,
  now: number,
): Notice {
  return {
    id: `remind.${order.id}.${n}`,
    party: `restaurant:${order.restaurantId}`,
    kind: 'new_order_reminder',
    orderId: order.id,
    title: 'Order waiting',
    body: 'An order is still waiting for you to accept it',
    priority: 'high',
    ttlMs: Math.max(0, acceptBy - now),
    collapseKey: `new-${order.id}`,
    data: { accept_by: new Date(acceptBy).toISOString() },
  };
}
