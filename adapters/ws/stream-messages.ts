/**
 * The JSON messages of the stream endpoints, shaped as the seed API's `/ws`
 * documents them (`{"type": ..., "data": {...}}`, snake case, ISO 8601 UTC
 * times) with more fields where the engine knows more. See docs/streams.md.
 */
import type { EngineEvent, ErrorCode, LatLng } from '../../protocol/index.js';
import { seedStatus } from '../../protocol/rest/order-status.js';

/** Every message the server sends on a stream socket. */
export type StreamOut =
  | { type: 'authenticated'; data: { uid: string; role: string; expires_at: string } }
  | { type: 'subscribed' | 'unsubscribed'; data: { order_id: string } }
  | { type: 'order_status_update'; data: { order_id: string; status: string; event: string; at: string; [k: string]: unknown } }
  | { type: 'location_update'; data: { order_id: string; location: { latitude: number; longitude: number }; heading: number | null; speed: number | null; at: string } }
  | { type: 'notification'; data: { order_id: string; message: string; at: string } }
  | { type: 'pong'; data: { at: string } }
  | { type: 'error'; data: { code: ErrorCode; message: string } };

/** Engine event → seed status, for the events a watcher hears about. */
const EVENT_STATUS: Readonly<Partial<Record<EngineEvent['type'], string>>> = {
  order_payment_confirmed: 'placed', order_accepted: 'confirmed', order_food_ready: 'ready',
  order_assigned: 'rider_assigned', order_unassigned: 'preparing', order_picked_up: 'in_transit',
  order_delivered: 'delivered', order_cancelled: 'cancelled',
};

const iso = (ms: number) => new Date(ms).toISOString();
const nanToNull = (x: number | null) => (x === null || Number.isNaN(x) ? null : x);

export const streamMessage = {
  /** The current status, sent right after a subscription. */
  snapshot(orderId: string, state: string, now: number): StreamOut {
    return { type: 'order_status_update', data: { order_id: orderId, status: seedStatus(state), event: 'snapshot', state, at: iso(now) } };
  },

  /** What watchers of the event's order hear about it (usually one message, some none). */
  fromEvent(e: EngineEvent): StreamOut[] {
    const at = iso(e.at);
    const status = EVENT_STATUS[e.type];
    const out: StreamOut[] = [];
    if (status !== undefined) {
      const extra: Record<string, unknown> = {};
      if (e.type === 'order_accepted') extra['estimated_ready_at'] = iso(e.readyAt);
      if (e.type === 'order_cancelled') extra['reason'] = e.reason;
      if ('riderId' in e && e.riderId) extra['delivery_person_id'] = e.riderId;
      out.push({ type: 'order_status_update', data: { order_id: e.id, status, event: e.type, at, ...extra } });
    }
    if (e.type === 'order_sla_breached') out.push({ type: 'notification', data: { order_id: e.id, message: 'Your order is running late', at } });
    // No promise of a refund here: the customer hears it is on its way once the gateway accepted it (refund-relay.ts).
    if (e.type === 'order_cancelled' && e.refundDue) {
      const message = 'Your order was cancelled; if you paid for it, you will be told here when your refund is on its way';
      out.push({ type: 'notification', data: { order_id: e.id, message, at } });
    }
    return out;
  },

  location(orderId: string, p: LatLng & { at: number; heading: number | null; speed: number | null }): StreamOut {
    return {
      type: 'location_update',
      data: { order_id: orderId, location: { latitude: p.lat, longitude: p.lng }, heading: nanToNull(p.heading), speed: nanToNull(p.speed), at: iso(p.at) },
    };
  },
};
