/**
 * Which live orders each party has, learnt from engine events: the index the
 * stream route uses to give an authenticated socket its feed without a
 * `subscribe` per order (a customer's live orders, a restaurant's orders, a
 * rider's job). Keys are `customer:<id>`, `restaurant:<id>`, `rider:<id>`.
 * It holds ids only; what an order is now comes from the engine.
 */
import type { OrderSnapshotRow } from '../../engine/index.js';
import type { EngineEvent, OrderId, Principal } from '../../protocol/index.js';

/** A socket's party key: customers, restaurants and riders have one; admins watch by `subscribe`. */
export function partyKeyOf(p: Principal): string | undefined {
  if (p.role === 'customer') return `customer:${p.customerId ?? p.uid}`;
  if (p.role === 'restaurant' && p.restaurantId !== undefined) return `restaurant:${p.restaurantId}`;
  if (p.role === 'rider' && p.riderId !== undefined) return `rider:${p.riderId}`;
  return undefined;
}

export interface LiveOrder {
  readonly customer: string;
  readonly restaurant: string;
  /** The assigned rider's key while the order is assigned or picked up. */
  rider: string | null;
  pickedUp: boolean;
  /** Time of the rider position last sent to the party feeds (the sweep skips unchanged ones). */
  lastLocationAt: number;
}

/** Who an order event concerns, decided before the index forgets an ended order. */
export interface EventParties {
  readonly customer: string;
  readonly restaurant: string;
  /** The rider the event names (an offer, an assignment) or the assigned one; null when none. */
  readonly rider: string | null;
}

const ENDING = new Set(['order_delivered', 'order_cancelled']);

export class PartyIndex {
  readonly #orders = new Map<OrderId, LiveOrder>();
  readonly #byParty = new Map<string, Set<OrderId>>();

  /** Fills the index from the engine's orders as they are now (a server that just recovered). */
  seed(rows: Iterable<OrderSnapshotRow>): void {
    for (const row of rows) {
      if (row.endedAt > 0) continue;
      const value = row.value;
      const assigned = value === 'assigned' || value === 'picked_up';
      const rider = assigned && row.context.riderId ? `rider:${row.context.riderId}` : null;
      this.#add(row.id, `customer:${row.customerId}`, `restaurant:${row.restaurantId}`, rider, value === 'picked_up');
    }
  }

  /**
   * Applies an order event and returns who it concerns, or undefined for
   * events of other aggregates and orders the index never saw placed.
   */
  apply(e: EngineEvent): EventParties | undefined {
    if (e.aggregate !== 'order') return undefined;
    const id = e.id;
    if (e.type === 'order_placed') {
      this.#add(id, `customer:${e.customerId}`, `restaurant:${e.restaurantId}`, null, false);
    }
    const o = this.#orders.get(id);
    if (o === undefined) return undefined;
    const named = 'riderId' in e && e.riderId ? `rider:${e.riderId}` : null;
    const parties = { customer: o.customer, restaurant: o.restaurant, rider: named ?? o.rider };
    if (e.type === 'order_assigned') this.#setRider(id, o, named);
    else if (e.type === 'order_unassigned') this.#setRider(id, o, null);
    else if (e.type === 'order_picked_up') o.pickedUp = true;
    if (ENDING.has(e.type)) this.#remove(id, o);
    return parties;
  }

  get(id: OrderId): LiveOrder | undefined {
    return this.#orders.get(id);
  }

  /** The party's live orders, oldest first. */
  ordersOf(key: string): readonly OrderId[] {
    return [...(this.#byParty.get(key) ?? [])];
  }

  /** Live orders with an assigned rider (what the location sweep looks at). */
  *withRider(): IterableIterator<[OrderId, LiveOrder]> {
    for (const entry of this.#orders) if (entry[1].rider !== null) yield entry;
  }

  get size(): number {
    return this.#orders.size;
  }

  #add(id: OrderId, customer: string, restaurant: string, rider: string | null, pickedUp: boolean): void {
    if (this.#orders.has(id)) return;
    const o: LiveOrder = { customer, restaurant, rider: null, pickedUp, lastLocationAt: 0 };
    this.#orders.set(id, o);
    this.#link(customer, id);
    this.#link(restaurant, id);
    this.#setRider(id, o, rider);
  }

  #setRider(id: OrderId, o: LiveOrder, rider: string | null): void {
    if (o.rider === rider) return;
    if (o.rider !== null) this.#unlink(o.rider, id);
    o.rider = rider;
    if (rider !== null) this.#link(rider, id);
  }

  #remove(id: OrderId, o: LiveOrder): void {
    this.#orders.delete(id);
    this.#unlink(o.customer, id);
    this.#unlink(o.restaurant, id);
    if (o.rider !== null) this.#unlink(o.rider, id);
  }

  #link(key: string, id: OrderId): void {
    let s = this.#byParty.get(key);
    if (s === undefined) this.#byParty.set(key, (s = new Set()));
    s.add(id);
  }

  #unlink(key: string, id: OrderId): void {
    const s = this.#byParty.get(key);
    if (s === undefined) return;
    s.delete(id);
    if (s.size === 0) this.#byParty.delete(key);
  }
}
