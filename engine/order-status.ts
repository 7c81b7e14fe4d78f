import {
  type CancelledBy,
  type EngineCommand,
  type OrderView,
  type Principal,
  type Result,
  type RiderId,
  ok,
  reject,
} from '../protocol/index.js';

/** A status change an edge was asked for (REST `PUT /orders/{id}/status`). */
export interface StatusRequest {
  readonly status: string;
  readonly reason?: string | undefined;
  readonly estimatedPreparationTime?: number | undefined;
}

/**
 * The one engine command a requested status means for the caller's role:
 * restaurants confirm (or prepare), mark ready and cancel (a rejection while
 * the order awaits them); riders mark picked up (or in transit) and delivered;
 * customers cancel; admins may do either side. Who may touch the order at all
 * is `authorize`'s call, before this.
 */
export function statusCommand(p: Principal, o: OrderView, req: StatusRequest): Result<EngineCommand> {
  const restaurantSide = p.role === 'restaurant' || p.role === 'admin';
  const riderSide = p.role === 'rider' || p.role === 'admin';
  const asRestaurant = p.role === 'restaurant' && p.restaurantId ? { restaurantId: p.restaurantId } : {};
  const holder = (p.role === 'rider' ? p.riderId : o.riderId) ?? ('' as RiderId);
  const reason = req.reason === undefined ? {} : { reason: req.reason };
  switch (req.status) {
    case 'cancelled':
      if (p.role === 'restaurant' && o.state === 'awaiting_restaurant') {
        return ok({ type: 'restaurant_reject', orderId: o.id, ...asRestaurant, ...reason });
      }
      return ok({ type: 'cancel_order', orderId: o.id, by: p.role as CancelledBy, ...reason });
    case 'confirmed':
    case 'preparing': {
      if (!restaurantSide)
        return reject(
          'AUTH_ROLE_FORBIDDEN',
          `a ${p.role} may not set ${req.status}; riders set picked_up, in_transit and delivered`,
        );
      const prep = req.estimatedPreparationTime === undefined ? {} : { prepMinutes: req.estimatedPreparationTime };
      return ok({ type: 'restaurant_accept', orderId: o.id, ...asRestaurant, ...prep });
    }
    case 'ready':
      if (!restaurantSide) return reject('AUTH_ROLE_FORBIDDEN', `a ${p.role} may not set ready`);
      return ok({ type: 'food_ready', orderId: o.id, ...asRestaurant });
    case 'picked_up':
    case 'in_transit':
      if (!riderSide)
        return reject(
          'AUTH_ROLE_FORBIDDEN',
          `a ${p.role} may not set ${req.status}; restaurants set confirmed, preparing, ready and cancelled`,
        );
      return ok({ type: 'picked_up', riderId: holder, orderId: o.id });
    case 'delivered':
      if (!riderSide) return reject('AUTH_ROLE_FORBIDDEN', `a ${p.role} may not set delivered`);
      return ok({ type: 'delivered', riderId: holder, orderId: o.id });
  }
  return reject('INVALID_ARGUMENT', `status ${req.status} cannot be set`);
}
