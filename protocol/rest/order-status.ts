/**
 * The seed API's order statuses and how the engine's order states map onto
 * them. The seed names placed, confirmed, in_transit and delivered; a real
 * system also needs preparing, ready, rider_assigned, picked_up and cancelled.
 * REST answers and stream events use this one mapping (docs/rest.md).
 */

/** Engine order state → seed status. */
const STATE_STATUS: Readonly<Record<string, string>> = {
  placed: 'placed', awaiting_payment: 'placed', awaiting_restaurant: 'placed', preparing: 'preparing',
  'dispatching.searching': 'preparing', 'dispatching.offered': 'preparing', assigned: 'rider_assigned',
  picked_up: 'in_transit', delivered: 'delivered', cancelled: 'cancelled',
};

/** Cooking is done but no rider has picked up yet. */
const READY_STATES = new Set(['preparing', 'dispatching.searching', 'dispatching.offered', 'assigned']);

/**
 * The seed status of an engine state. `foodReady` refines a cooking order into
 * `ready`; an order whose rider is on the way keeps `rider_assigned` until
 * the food is ready.
 */
export function seedStatus(state: string, foodReady = false): string {
  if (foodReady && READY_STATES.has(state) && state !== 'assigned') return 'ready';
  return STATE_STATUS[state] ?? state;
}

/** The engine states a seed status filter (`GET /orders?status=`) selects. */
export function statesOfStatus(status: string): readonly string[] {
  return Object.entries(STATE_STATUS).filter(([, s]) => s === status).map(([state]) => state);
}

/**
 * What the order's payment looks like to the customer. `refund` is the status
 * of its refund row, if any: owed until the gateway says it is processed (a
 * failed one is an operator's to redo, still owed to the customer).
 */
export function paymentStatus(state: string, paid: boolean, cash: boolean, refund: string | null = null): string {
  if (cash) return 'cash_on_delivery';
  if (refund === 'processed') return 'refunded';
  if (refund !== null) return 'refund_pending';
  if (paid) return 'paid';
  if (state === 'cancelled') return 'failed';
  return 'pending';
}
