import type { EngineEvent, RiderId } from '../protocol/index.js';
import { removeOrder } from './commands/order.js';
import type { EngineCore } from './core.js';
import { keepTrace } from './dispatch/offer.js';
import { MinHeap } from './heap.js';
import { holdsKitchen } from './machines/order-machine.js';
import { isValidFix, placeRider } from './positions.js';
import type { OrderRecord, RiderRecord } from './records.js';
import {
  orderFromRow,
  restaurantFromRow,
  riderFromRow,
  writeOrderRow,
  writeRestaurantRow,
  writeRiderPlace,
  writeRiderRow,
} from './snapshot-codec.js';
import type { OrderSnapshotRow, RestaurantSnapshotRow, RiderSnapshotRow } from './snapshot.js';

/**
 * A read mirror: a copy of engines that run elsewhere (a cluster gateway's
 * view of every partition), fed the state rows their owners relay after each
 * command. It runs no commands and arms no deadlines; it answers the same
 * queries as the owner from the same records and indices, updated in place.
 */

/** State rows a mirror absorbs, each as `Engine.snapshotRow` makes it. */
export interface RelayedRows {
  readonly restaurants?: readonly RestaurantSnapshotRow[];
  readonly riders?: readonly RiderSnapshotRow[];
  readonly orders?: readonly OrderSnapshotRow[];
}

/** What a mirror refused or forgot, for a gateway's metrics. */
export interface MirrorStats {
  /** Rows no newer than the actor held (a late or repeated relay), left unapplied. */
  readonly stale: number;
  /** Order rows naming a restaurant the mirror does not hold, skipped. */
  readonly orphans: number;
  /** Ended orders forgotten past their retention, as their owner forgets them. */
  readonly evicted: number;
}

export const MIRROR_RUNS_NO_COMMANDS = "a read mirror runs no commands: send them to the partition's owner";

interface Ended {
  readonly at: number;
  readonly o: OrderRecord;
}

export class Mirror {
  readonly #core: EngineCore;
  /**
   * Ended orders by end time. The owner forgets one by its evict deadline, with
   * no event; a mirror arms no deadline, so it forgets them when it next absorbs.
   */
  readonly #ended = new MinHeap<Ended>((a, b) => a.at < b.at);
  /** Per order, the seq of the last event whose decision trace it kept: a repeated relay keeps none twice. */
  readonly #traced = new WeakMap<OrderRecord, number>();
  #stale = 0;
  #orphans = 0;
  #evicted = 0;

  constructor(core: EngineCore) {
    this.#core = core;
  }

  get stats(): MirrorStats {
    return { stale: this.#stale, orphans: this.#orphans, evicted: this.#evicted };
  }

  /** After a snapshot load: its ended orders wait to be forgotten like those absorbed later. */
  loaded(): void {
    for (const o of this.#core.orders.values()) if (o.endedAt > 0) this.#ended.push({ at: o.endedAt, o });
  }

  /**
   * Upserts each row newer than the actor held (restaurants, then riders, then
   * orders, which need their restaurant), keeps the decision traces the events
   * carry, and forgets ended orders past retention. Delivering the events is
   * the engine's (its mailbox).
   */
  absorb(rows: RelayedRows, events: readonly EngineEvent[]): void {
    const core = this.#core;
    for (const row of rows.restaurants ?? []) {
      const r = core.restaurants.get(row.id);
      if (r === undefined) {
        // Counted from the orders the mirror holds (none yet), like every count after it.
        restaurantFromRow(core, row).openOrders = 0;
      } else if (row.seq > r.seq) writeRestaurantRow(core, r, row);
      else this.#stale++;
    }
    /** Riders whose stacking listing may change: it reads their lead order, so after the orders. */
    const restack: RiderRecord[] = [];
    for (const row of rows.riders ?? []) {
      const r = core.riders.get(row.id);
      if (r === undefined) restack.push(riderFromRow(core, row));
      else if (row.seq > r.seq) {
        writeRiderRow(core, r, row);
        restack.push(r);
      } else if (row.position !== null && row.position[5] > r.posAt) {
        // The same state with a newer position: what the owner's hot path changed without an event.
        writeRiderPlace(core, r, row);
      } else this.#stale++;
    }
    for (const row of rows.orders ?? []) this.#order(row, restack);
    for (const r of restack) core.stacks.sync(r, core.orders);
    this.#keepTraces(events);
    this.#forget();
  }

  #order(row: OrderSnapshotRow, restack: RiderRecord[]): void {
    const core = this.#core;
    let o = core.orders.get(row.id);
    let held = false;
    let ended = false;
    if (o === undefined) {
      const rest = core.restaurants.get(row.restaurantId);
      if (rest === undefined) {
        this.#orphans++;
        return;
      }
      o = orderFromRow(core, row, rest);
      // Its rider may have come first, listed nowhere for want of it.
      const riderId = o.snap.context.riderId;
      const r = riderId === null ? undefined : core.riders.get(riderId);
      if (r !== undefined) restack.push(r);
    } else if (row.seq > o.seq) {
      held = holdsKitchen(o.state);
      ended = o.endedAt > 0;
      writeOrderRow(core, o, row);
    } else {
      this.#stale++;
      return;
    }
    // The owner counts a restaurant's open orders as they are placed, picked up and cancelled, with no
    // restaurant event (the restaurant's seq stays): the mirror counts them the same way from its orders.
    const holds = holdsKitchen(o.state);
    const rest = core.restaurants.get(o.restaurantId);
    if (rest !== undefined && holds !== held) rest.openOrders += holds ? 1 : -1;
    if (!ended && o.endedAt > 0) this.#ended.push({ at: o.endedAt, o });
  }

  /** Decisions ride in events (`order_offered`, `order_no_rider`), not in rows. */
  #keepTraces(events: readonly EngineEvent[]): void {
    const core = this.#core;
    for (const e of events) {
      if ((e.type !== 'order_offered' && e.type !== 'order_no_rider') || e.trace === undefined) continue;
      const o = core.orders.get(e.id);
      if (o === undefined || e.seq <= (this.#traced.get(o) ?? 0)) continue;
      keepTrace(o, e.trace);
      this.#traced.set(o, e.seq);
    }
  }

  /** Forgets ended orders past retention, as the owner's evict deadlines do. */
  #forget(): void {
    const core = this.#core;
    const until = core.now() - core.config.retentionMs;
    for (let e = this.#ended.peek(); e !== undefined && e.at <= until; e = this.#ended.peek()) {
      this.#ended.pop();
      const o = e.o;
      if (core.orders.get(o.id) !== o) continue;
      if (o.endedAt !== e.at) {
        // A newer row moved its end (or unended it): it waits by the new time.
        if (o.endedAt > 0) this.#ended.push({ at: o.endedAt, o });
        continue;
      }
      removeOrder(core, o);
      this.#evicted++;
    }
  }

  /**
   * Shows a rider's fix (one its owner applied): position, cell, shard and
   * index slot, with no geofence and no event. False for an unknown rider, a
   * fix no newer than the one held, or numbers that make no position.
   */
  position(
    id: RiderId,
    lat: number,
    lng: number,
    accuracy: number,
    heading: number,
    speed: number,
    at: number,
  ): boolean {
    const r = this.#core.riders.get(id);
    if (r === undefined || !isValidFix(lat, lng, accuracy, heading, speed, at) || !(at > r.posAt)) return false;
    placeRider(this.#core, r, lat, lng, accuracy, heading, speed, at);
    return true;
  }
}
