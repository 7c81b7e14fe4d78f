/**
 * The seed API's order statuses and how the engine's order states map onto
 * them: the one mapping REST answers, stream events and the stored
 * `orders.seed_status` column use (table in docs/rest.md).
 */

/** Every word an answer may show, in the order an order goes through them. */
export const SEED_STATUSES = [
  'placed',
  'confirmed',
  'preparing',
  'ready',
  'in_transit',
  'delivered',
  'cancelled',
] as const;
export type SeedStatus = (typeof SEED_STATUSES)[number];

/** Words a status filter also takes, and the shown word each stands for. */
const SYNONYMS: Readonly<Record<string, SeedStatus>> = { picked_up: 'in_transit' };

/** Engine order state → seed status, before `foodReady` refines it. */
const STATE_STATUS: Readonly<Record<string, SeedStatus>> = {
  placed: 'placed',
  awaiting_payment: 'placed',
  awaiting_restaurant: 'placed',
  // Accepted: the kitchen has it and no rider is sought yet (dispatch waits for its time).
  preparing: 'confirmed',
  // Cooking while a rider is found, offered the job, or on the way to the restaurant.
  'dispatching.searching': 'preparing',
  'dispatching.offered': 'preparing',
  assigned: 'preparing',
  picked_up: 'in_transit',
  delivered: 'delivered',
  cancelled: 'cancelled',
};

/** Accepted and not yet picked up: the states in which food being ready shows as `ready`. */
const KITCHEN_STATES = new Set(['preparing', 'dispatching.searching', 'dispatching.offered', 'assigned']);

/** The seed status of an engine state; `foodReady` turns an accepted, not picked up order into `ready`. */
export function seedStatus(state: string, foodReady = false): SeedStatus {
  if (foodReady && KITCHEN_STATES.has(state)) return 'ready';
  return STATE_STATUS[state] ?? 'placed';
}

/**
 * The stored words a `GET /orders?status=` value selects (comma separated),
 * or the words it does not know.
 */
export function statusFilter(value: string): { ok: true; words: SeedStatus[] } | { ok: false; unknown: string[] } {
  const words = new Set<SeedStatus>();
  const unknown: string[] = [];
  for (const w of value.split(',')) {
    const shown = (SEED_STATUSES as readonly string[]).includes(w) ? (w as SeedStatus) : SYNONYMS[w];
    if (shown === undefined) unknown.push(w);
    else words.add(shown);
  }
  return unknown.length > 0 ? { ok: false, unknown } : { ok: true, words: [...words] };
}

/** The engine's state name from a stored XState value (`{ dispatching: 'offered' }` → `dispatching.offered`). */
export function stateName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [k, v] = Object.entries(value)[0] ?? [];
    if (k !== undefined) return `${k}.${stateName(v) ?? ''}`.replace(/\.$/, '');
  }
  return undefined;
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
