import type { H3Cell, OrderId, RestaurantId, RiderId } from '../protocol/index.js';
import { CellIndex } from './cell-index.js';
import type { OrderRecord, RestaurantRecord, RiderRecord } from './records.js';

/**
 * The actors under one H3 parent cell: riders positioned in it, orders whose
 * pickup is in it, its restaurants, and the index of its available riders.
 *
 * In this process the engine routes to shards directly, but everything that
 * crosses a shard boundary is plain data (a rider handed over, a candidate
 * list, an offer reservation), so a shard can later move to a worker thread or
 * another machine with the boundary unchanged.
 */
export class Shard {
  readonly key: H3Cell;
  readonly riders = new Map<RiderId, RiderRecord>();
  readonly orders = new Map<OrderId, OrderRecord>();
  readonly restaurants = new Map<RestaurantId, RestaurantRecord>();
  readonly available = new CellIndex<RiderRecord>();

  constructor(key: H3Cell) {
    this.key = key;
  }

  get empty(): boolean {
    return this.riders.size === 0 && this.orders.size === 0 && this.restaurants.size === 0;
  }
}

/** Orders waiting in one shard's open batch (the batched policy, engine/dispatch/batch.ts). */
export interface Batch {
  /** When the batch closes, engine ms. */
  readonly closesAt: number;
  readonly orders: Set<OrderRecord>;
}
