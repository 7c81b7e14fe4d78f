import type { SnapshotFrom } from 'xstate';
import {
  VEHICLE_TYPES,
  type CustomerId,
  type DecisionTrace,
  type H3Cell,
  type LatLng,
  type OrderId,
  type RestaurantId,
  type RiderId,
  type VehicleType,
} from '../protocol/index.js';
import { Row, ROW } from './cell-index.js';
import type { CellShape } from './cell-shape.js';
import type { orderMachine, OrderState } from './machines/order-machine.js';
import type { restaurantMachine, RestaurantState } from './machines/restaurant-machine.js';
import type { riderMachine, RiderState } from './machines/rider-machine.js';
import { Col, type RiderTable } from './rider-table.js';

export type OrderSnapshot = SnapshotFrom<typeof orderMachine>;
export type RiderSnapshot = SnapshotFrom<typeof riderMachine>;
export type RestaurantSnapshot = SnapshotFrom<typeof restaurantMachine>;

/**
 * A rider as the engine holds it. The machine snapshot decides the lifecycle;
 * the numbers beside it (position, cell disc, next stop, idle time) live in the
 * shared {@link RiderTable} at `base`, written in place by the position hot
 * path with no transition and no allocation. The accessors below keep the
 * rest of the engine unaware of the layout.
 */
export class RiderRecord {
  readonly id: RiderId;
  readonly table: RiderTable;
  readonly base: number;
  snap: RiderSnapshot;
  state: RiderState;
  /** Key of the shard that owns the rider's cell; null before its first position. */
  shardKey: H3Cell | null = null;
  seq = 0;
  capacity: number;
  #vehicle: VehicleType | null = null;

  /** Index-resolution cell of the last applied position. */
  cell: H3Cell | null = null;
  /** That cell's shape (its disc is also in the table), null before the first position. */
  shape: CellShape | null = null;

  /** Position in the available index, or null when not available. */
  indexCell: H3Cell | null = null;
  indexSlot = -1;
  /** The rows of the index bucket holding its search row (engine/cell-index.ts), kept current by the setters below. */
  indexRows: Float64Array | null = null;
  /** Key of the shard whose index holds the rider, null when not indexed. */
  indexedIn: H3Cell | null = null;
  /** The coarse cell it counted in while indexed (Space's available counts), null when not indexed. */
  countedIn: H3Cell | null = null;

  /** Onboarding: where its documents stand, and why a rejection was made. */
  review: 'pending' | 'approved' | 'rejected' = 'approved';
  /**
   * The partition this rider was handed over to (a cluster's handover, engine/commands/handover.ts):
   * kept here as a tombstone that takes no command and no offer; null while it is served here.
   */
  away: string | null = null;
  reviewReason = '';

  #offers = 0;
  #accepts = 0;
  declines = 0;
  expiries = 0;
  delivered = 0;

  get lat(): number {
    return this.table.data[this.base + Col.LAT]!;
  }
  set lat(v: number) {
    this.table.data[this.base + Col.LAT] = v;
    if (this.indexRows !== null) this.indexRows[this.indexSlot * ROW + Row.LAT] = v;
  }
  get lng(): number {
    return this.table.data[this.base + Col.LNG]!;
  }
  set lng(v: number) {
    this.table.data[this.base + Col.LNG] = v;
    if (this.indexRows !== null) this.indexRows[this.indexSlot * ROW + Row.LNG] = v;
  }
  get accuracy(): number {
    return this.table.data[this.base + Col.ACCURACY]!;
  }
  set accuracy(v: number) {
    this.table.data[this.base + Col.ACCURACY] = v;
  }
  get heading(): number {
    return this.table.data[this.base + Col.HEADING]!;
  }
  set heading(v: number) {
    this.table.data[this.base + Col.HEADING] = v;
    if (this.indexRows !== null) this.indexRows[this.indexSlot * ROW + Row.HEADING] = v;
  }
  get speed(): number {
    return this.table.data[this.base + Col.SPEED]!;
  }
  set speed(v: number) {
    this.table.data[this.base + Col.SPEED] = v;
    if (this.indexRows !== null) this.indexRows[this.indexSlot * ROW + Row.SPEED] = v;
  }
  /** What it rides, for the travel-time model; null when not known. */
  get vehicle(): VehicleType | null {
    return this.#vehicle;
  }
  set vehicle(v: VehicleType | null) {
    this.#vehicle = v;
    if (this.indexRows !== null) this.indexRows[this.indexSlot * ROW + Row.VEHICLE] = vehicleCode(v);
  }
  /** Device time of the last applied position, epoch ms; -1 before the first. */
  get posAt(): number {
    return this.table.data[this.base + Col.POS_AT]!;
  }
  set posAt(v: number) {
    this.table.data[this.base + Col.POS_AT] = v;
    if (this.indexRows !== null) this.indexRows[this.indexSlot * ROW + Row.POS_AT] = v;
  }
  get discLat(): number {
    return this.table.data[this.base + Col.DISC_LAT]!;
  }
  set discLat(v: number) {
    this.table.data[this.base + Col.DISC_LAT] = v;
  }
  get discLng(): number {
    return this.table.data[this.base + Col.DISC_LNG]!;
  }
  set discLng(v: number) {
    this.table.data[this.base + Col.DISC_LNG] = v;
  }
  get discR(): number {
    return this.table.data[this.base + Col.DISC_R]!;
  }
  set discR(v: number) {
    this.table.data[this.base + Col.DISC_R] = v;
  }
  /** Where the current job takes the rider next (pickup, then drop), NaN when none. */
  get targetLat(): number {
    return this.table.data[this.base + Col.TARGET_LAT]!;
  }
  set targetLat(v: number) {
    this.table.data[this.base + Col.TARGET_LAT] = v;
  }
  get targetLng(): number {
    return this.table.data[this.base + Col.TARGET_LNG]!;
  }
  set targetLng(v: number) {
    this.table.data[this.base + Col.TARGET_LNG] = v;
  }
  get idleSince(): number {
    return this.table.data[this.base + Col.IDLE_SINCE]!;
  }
  set idleSince(v: number) {
    this.table.data[this.base + Col.IDLE_SINCE] = v;
    if (this.indexRows !== null) this.indexRows[this.indexSlot * ROW + Row.IDLE_SINCE] = v;
  }

  get offers(): number {
    return this.#offers;
  }
  set offers(v: number) {
    this.#offers = v;
    if (this.indexRows !== null) this.indexRows[this.indexSlot * ROW + Row.REFUSAL] = this.refusal;
  }
  get accepts(): number {
    return this.#accepts;
  }
  set accepts(v: number) {
    this.#accepts = v;
    if (this.indexRows !== null) this.indexRows[this.indexSlot * ROW + Row.REFUSAL] = this.refusal;
  }
  /** How often it turns offers down, Laplace-smoothed so a new rider starts at one half. */
  get refusal(): number {
    return 1 - (this.#accepts + 1) / (this.#offers + 2);
  }

  /** Its search row, for the available index. */
  writeRow(rows: Float64Array, at: number): void {
    const d = this.table.data;
    rows[at + Row.LAT] = d[this.base + Col.LAT]!;
    rows[at + Row.LNG] = d[this.base + Col.LNG]!;
    rows[at + Row.POS_AT] = d[this.base + Col.POS_AT]!;
    rows[at + Row.IDLE_SINCE] = d[this.base + Col.IDLE_SINCE]!;
    rows[at + Row.REFUSAL] = this.refusal;
    rows[at + Row.KEY] = this.base;
    rows[at + Row.SPEED] = d[this.base + Col.SPEED]!;
    rows[at + Row.HEADING] = d[this.base + Col.HEADING]!;
    rows[at + Row.VEHICLE] = vehicleCode(this.#vehicle);
  }

  constructor(id: RiderId, table: RiderTable, snap: RiderSnapshot, state: RiderState, capacity: number) {
    this.id = id;
    this.table = table;
    this.base = table.allocate();
    this.snap = snap;
    this.state = state;
    this.capacity = capacity;
  }
}

/** A vehicle as a search row holds it (Row.VEHICLE): its index in VEHICLE_TYPES, -1 for none. */
export const vehicleCode = (v: VehicleType | null): number => (v === null ? -1 : VEHICLE_TYPES.indexOf(v));

/** Decisions an order keeps in memory. */
export const MAX_TRACES = 8;

/** Immutable facts of an order, fixed at placement, beside its machine. */
export class OrderRecord {
  readonly id: OrderId;
  readonly customerId: CustomerId;
  readonly restaurantId: RestaurantId;
  readonly pickup: LatLng;
  readonly drop: LatLng;
  readonly pickupCell: H3Cell;
  readonly placedAt: number;
  readonly promisedAt: number;
  readonly expiresAt: number;
  snap: OrderSnapshot;
  state: OrderState;
  seq = 0;
  slaBreached = false;
  /** The restaurant's stated preparation, minutes. */
  prepMinutes = 0;
  /** When the restaurant accepted, engine ms; 0 before. */
  acceptedAt = 0;
  /** When the food is expected ready: stated preparation plus what the restaurant's history teaches. */
  readyAt = 0;
  /** The pickup ETA of its latest offer, seconds; 0 before any (engine/kitchen.ts learns from it). */
  offerEtaS = 0;
  /** When it reached delivered or cancelled, 0 while live. */
  endedAt = 0;
  /** Its latest dispatch decisions, oldest first, at most {@link MAX_TRACES}; storage has them all in its events. */
  traces: DecisionTrace[] = [];

  constructor(init: {
    id: OrderId;
    customerId: CustomerId;
    restaurantId: RestaurantId;
    pickup: LatLng;
    drop: LatLng;
    pickupCell: H3Cell;
    placedAt: number;
    promisedAt: number;
    expiresAt: number;
    snap: OrderSnapshot;
    state: OrderState;
  }) {
    this.id = init.id;
    this.customerId = init.customerId;
    this.restaurantId = init.restaurantId;
    this.pickup = init.pickup;
    this.drop = init.drop;
    this.pickupCell = init.pickupCell;
    this.placedAt = init.placedAt;
    this.promisedAt = init.promisedAt;
    this.expiresAt = init.expiresAt;
    this.snap = init.snap;
    this.state = init.state;
  }
}

export class RestaurantRecord {
  readonly id: RestaurantId;
  readonly location: LatLng;
  readonly cell: H3Cell;
  snap: RestaurantSnapshot;
  state: RestaurantState;
  seq = 0;
  prepMinutes: number;
  capacity: number;
  /** Orders accepted or awaiting acceptance and not yet picked up or ended. */
  openOrders = 0;
  /** Learned (engine/kitchen.ts): how many minutes later than stated its food is ready, and from how many orders. */
  prepBiasMin = 0;
  prepSamples = 0;
  /** Learned: the pickup ETA of its orders' offers, seconds, and from how many offers. */
  pickupEtaS = 0;
  pickupEtaSamples = 0;

  constructor(init: {
    id: RestaurantId;
    location: LatLng;
    cell: H3Cell;
    snap: RestaurantSnapshot;
    state: RestaurantState;
    prepMinutes: number;
    capacity: number;
  }) {
    this.id = init.id;
    this.location = init.location;
    this.cell = init.cell;
    this.snap = init.snap;
    this.state = init.state;
    this.prepMinutes = init.prepMinutes;
    this.capacity = init.capacity;
  }
}
