/**
 * The JSON messages of the stream endpoints, shaped as the seed API's `/ws`
 * documents them (`{"type": ..., "data": {...}}`, snake case, ISO 8601 UTC
 * times) with more fields where the engine knows more. See docs/streams.md.
 */
import type { EngineEvent, ErrorCode, LatLng, RouteStop } from '../../protocol/index.js';
import { seedStatus } from '../../protocol/rest/order-status.js';
import { noticeIdOf } from '../../engine/index.js';

/** Every message the server sends on a stream socket. */
export type StreamOut =
  | { type: 'authenticated'; data: { uid: string; role: string; expires_at: string } }
  | { type: 'subscribed' | 'unsubscribed'; data: { order_id: string } }
  | {
      type: 'order_status_update';
      data: { order_id: string; status: string; event: string; at: string; [k: string]: unknown };
    }
  | {
      type: 'location_update';
      data: {
        order_id: string;
        location: { latitude: number; longitude: number };
        heading: number | null;
        speed: number | null;
        at: string;
      };
    }
  | { type: 'notification'; data: { id: string; order_id: string; message: string; at: string } }
  | { type: 'offer'; data: OfferData }
  | { type: 'offer_ended'; data: { order_id: string; offer_id: string; outcome: string; at: string } }
  | { type: 'pong'; data: { at: string } }
  | { type: 'chat_message'; data: Record<string, unknown> }
  | { type: 'error'; data: { code: ErrorCode; message: string } };

/** A job offered to the rider who hears it: where from, where to, until when, for how much. */
export interface OfferData {
  order_id: string;
  offer_id: string;
  expires_at: string;
  pickup: { latitude: number; longitude: number };
  drop: { latitude: number; longitude: number };
  pickup_distance_m: number | null;
  payout_paise: number | null;
  /** A stacked offer: the rider's whole route if it accepts, this order's stops among the others. */
  stops?: { kind: 'pickup' | 'drop'; order_id: string; latitude: number; longitude: number }[];
  at: string;
}

/** Who of an order's parties hears a message of its feed. */
export type Audience = 'parties' | 'customer' | 'rider';

/** Engine event → seed status, for the events a watcher hears about (the words REST shows). */
const EVENT_STATUS: Readonly<Partial<Record<EngineEvent['type'], string>>> = {
  order_payment_confirmed: 'placed',
  order_accepted: 'confirmed',
  order_food_ready: 'ready',
  order_picked_up: 'in_transit',
  order_delivered: 'delivered',
  order_cancelled: 'cancelled',
};
/** A rider taking or dropping the job leaves the word to the food: `preparing` or `ready`, as the order is now. */
const RIDER_EVENTS = new Set<EngineEvent['type']>(['order_assigned', 'order_unassigned']);

const iso = (ms: number) => new Date(ms).toISOString();
const nanToNull = (x: number | null) => (x === null || Number.isNaN(x) ? null : x);

export const streamMessage = {
  /** The current status, sent right after a subscription. */
  snapshot(orderId: string, state: string, foodReady: boolean, now: number): StreamOut {
    return {
      type: 'order_status_update',
      data: { order_id: orderId, status: seedStatus(state, foodReady), event: 'snapshot', state, at: iso(now) },
    };
  },

  /**
   * What watchers of the event's order hear about it (usually one message, some none); `statusNow`
   * answers the order's word after the event's command (assignment does not change it by itself).
   */
  fromEvent(e: EngineEvent, statusNow: (orderId: string) => string | undefined = () => undefined): StreamOut[] {
    const at = iso(e.at);
    // An order paid when placed has no payment event: its placing is what its restaurant must hear.
    const status =
      e.type === 'order_placed'
        ? e.paid
          ? 'placed'
          : undefined
        : RIDER_EVENTS.has(e.type)
          ? (statusNow(e.id) ?? 'preparing')
          : EVENT_STATUS[e.type];
    const out: StreamOut[] = [];
    if (status !== undefined) {
      const extra: Record<string, unknown> = {};
      if (e.type === 'order_payment_confirmed') extra['accept_by'] = iso(e.restaurantAcceptBy);
      if (e.type === 'order_accepted') extra['estimated_ready_at'] = iso(e.readyAt);
      if (e.type === 'order_cancelled') extra['reason'] = e.reason;
      if ('riderId' in e && e.riderId) extra['delivery_person_id'] = e.riderId;
      out.push({ type: 'order_status_update', data: { order_id: e.id, status, event: e.type, at, ...extra } });
    }
    // The id is the stored notice's (GET /notifications) and the push's: an app shows each once.
    const id = noticeIdOf(e, 'customer');
    const notify = (message: string) => out.push({ type: 'notification', data: { id, order_id: e.id, message, at } });
    if (e.type === 'order_sla_breached') notify('Your order is running late');
    // No promise of a refund here: the customer is told one is on its way once the gateway accepted it (refund-relay.ts).
    if (e.type === 'order_cancelled' && e.refundDue) {
      notify('Your order was cancelled; if you paid for it, you will be told here when your refund is on its way');
    }
    return out;
  },

  /**
   * What the order's parties hear of the event on their feeds: status updates
   * to all of them, notifications (written for the customer) to the customer,
   * offers to the rider offered.
   */
  forParties(e: EngineEvent, statusNow?: (orderId: string) => string | undefined): { to: Audience; m: StreamOut }[] {
    const out = streamMessage
      .fromEvent(e, statusNow)
      .map((m): { to: Audience; m: StreamOut } => ({ to: m.type === 'notification' ? 'customer' : 'parties', m }));
    if (e.type === 'order_offered') {
      out.push({
        to: 'rider',
        m: streamMessage.offer({
          orderId: e.id,
          offerId: e.offerId,
          expiresAt: e.expiresAt,
          pickup: e.pickup,
          drop: e.drop,
          pickupDistanceM: e.pickupDistanceM,
          payout: e.payout ?? null,
          stops: e.stops,
          at: e.at,
        }),
      });
    }
    if (e.type === 'order_offer_ended') {
      const data = { order_id: e.id, offer_id: e.offerId, outcome: e.outcome, at: iso(e.at) };
      out.push({ to: 'rider', m: { type: 'offer_ended', data } });
    }
    return out;
  },

  offer(o: {
    orderId: string;
    offerId: string;
    expiresAt: number;
    pickup: LatLng;
    drop: LatLng;
    pickupDistanceM: number | null;
    payout: number | null;
    stops?: readonly RouteStop[] | undefined;
    at: number;
  }): StreamOut {
    return {
      type: 'offer',
      data: {
        order_id: o.orderId,
        offer_id: o.offerId,
        expires_at: iso(o.expiresAt),
        pickup: { latitude: o.pickup.lat, longitude: o.pickup.lng },
        drop: { latitude: o.drop.lat, longitude: o.drop.lng },
        pickup_distance_m: o.pickupDistanceM,
        payout_paise: o.payout,
        ...(o.stops === undefined
          ? {}
          : {
              stops: o.stops.map((x) => ({
                kind: x.kind,
                order_id: x.orderId,
                latitude: x.at.lat,
                longitude: x.at.lng,
              })),
            }),
        at: iso(o.at),
      },
    };
  },

  location(orderId: string, p: LatLng & { at: number; heading: number | null; speed: number | null }): StreamOut {
    return {
      type: 'location_update',
      data: {
        order_id: orderId,
        location: { latitude: p.lat, longitude: p.lng },
        heading: nanToNull(p.heading),
        speed: nanToNull(p.speed),
        at: iso(p.at),
      },
    };
  },
};
