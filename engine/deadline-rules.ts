import type { EngineCore } from './core.js';
import { TERMINAL_ORDER_STATES } from './machines/order-machine.js';
import type { OrderRecord } from './records.js';

/**
 * Arms exactly the deadlines the order's state calls for, from absolute times
 * in its state (XState's `after` is not restored from a snapshot, so timers
 * live here). Called after every change of an order.
 */
export function syncOrderDeadlines(core: EngineCore, o: OrderRecord): void {
  const c = o.snap.context;
  const s = o.state;
  const d = core.deadlines;
  const live = !TERMINAL_ORDER_STATES.has(s);
  d.set('payment', o.id, s === 'awaiting_payment' ? c.paymentExpiresAt : 0);
  d.set('restaurant', o.id, s === 'awaiting_restaurant' ? c.restaurantAcceptBy : 0);
  d.set('dispatch', o.id, s === 'preparing' ? c.dispatchAt : 0);
  d.set('offer', o.id, s === 'dispatching.offered' ? c.offerExpiresAt : 0);
  d.set('retry', o.id, s === 'dispatching.searching' ? c.retryAt : 0);
  d.set('sla', o.id, live && !o.slaBreached ? o.promisedAt : 0);
  d.set('expire', o.id, live ? o.expiresAt : 0);
  d.set('evict', o.id, live ? 0 : o.endedAt + core.config.retentionMs);
}
