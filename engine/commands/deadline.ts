import { CancelReason, type DeadlineKind, type OrderId, type RiderId } from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { startDispatch, tryOffer } from '../dispatch/dispatch.js';
import { cancelVia } from '../release.js';
import { offerExpired } from './offer.js';
import { removeOrder } from './order.js';
import { graceExpired } from './rider.js';

/**
 * A deadline came due (the engine's clock issues `fire_deadline`): what each
 * kind does. Which deadlines are armed, and when, is decided in
 * deadline-rules.ts; an actor that has moved on has its deadlines disarmed.
 */
export function fireDeadline(core: EngineCore, kind: DeadlineKind, id: string): void {
  if (kind === 'grace') {
    graceExpired(core, id as RiderId);
    return;
  }
  const o = core.orders.get(id as OrderId);
  if (!o) return;
  switch (kind) {
    case 'payment':
      cancelVia(core, o.id, { type: 'PAYMENT_EXPIRED' }, 'system', CancelReason.PAYMENT_EXPIRED);
      break;
    case 'restaurant':
      cancelVia(core, o.id, { type: 'RESTAURANT_TIMEOUT' }, 'system', CancelReason.RESTAURANT_TIMEOUT);
      break;
    case 'dispatch':
      startDispatch(core, o);
      break;
    case 'retry':
      if (o.state === 'dispatching.searching') tryOffer(core, o);
      break;
    case 'offer':
      offerExpired(core, o);
      break;
    case 'sla':
      o.slaBreached = true;
      core.emit('order', o, { type: 'order_sla_breached', promisedAt: o.promisedAt });
      break;
    case 'expire':
      cancelVia(core, o.id, { type: 'EXPIRE' }, 'system', CancelReason.ORDER_EXPIRED);
      break;
    case 'evict':
      removeOrder(core, o);
      break;
  }
}
