/**
 * What the operators' console shows, computed from the engine: the riders
 * and live orders it knows of (their ids followed from the engine's events,
 * so a snapshot never walks the engine's tables or copies its state), each
 * read through the engine's queries once per snapshot; supply and demand
 * per H3 cell; and match latency, the time from an order becoming
 * dispatchable to a rider accepting it, taken from the events' own times.
 *
 * Nothing here runs per event beyond a set insert or delete and, for an
 * assignment, one subtraction: the engine's command path stays as it was.
 */
import { latLngToCell } from 'h3-js';
import type { CommandBatch, Engine } from '../../engine/index.js';
import type { CitySnapshot, LatencyPoint, OrderId, RiderId } from '../../protocol/index.js';

/** H3 resolution of the console's hexagons: res 9 cells are about 0.1 km² (a city block or two). */
export const CONSOLE_H3_RES = 9;
/** Latency points kept (one per snapshot with at least one assignment). */
const LATENCY_POINTS = 120;
/** Pickup cells remembered (pickups are restaurants: few places, many orders). */
const PICKUP_CELLS = 10_000;
/**
 * `cell` when it is an H3 cell of the console's resolution, read from the
 * string (mode 1 cells are 15 hex digits, `8` then the resolution) rather than
 * by an H3 call; undefined otherwise.
 */
const sameRes = (cell: string): string | undefined =>
  cell.length === 15 && cell[0] === '8' && cell[1] === CONSOLE_H3_RES.toString(16) ? cell : undefined;
/** Coordinates go out with 5 decimals (about a metre): smaller and quicker JSON. */
const round5 = (x: number) => Math.round(x * 1e5) / 1e5;

/** Order states in which an order still waits for a rider (demand). */
const WAITING_STATES: ReadonlySet<string> = new Set([
  'placed',
  'awaiting_payment',
  'awaiting_restaurant',
  'preparing',
  'dispatching.searching',
  'dispatching.offered',
]);

export class CityView {
  readonly #engine: Engine;
  readonly #riders = new Set<RiderId>();
  readonly #orders = new Set<OrderId>();
  /** When each order waiting for a rider became dispatchable (the latest time, after a rider dropped it). */
  readonly #dispatchableAt = new Map<OrderId, number>();
  #pending: number[] = [];
  readonly #latency: LatencyPoint[] = [];
  readonly #pickupCells = new Map<string, string>();
  #delivered = 0;
  #cancelled = 0;
  #seq = 0;
  readonly #unsubscribe: () => void;

  constructor(engine: Engine) {
    this.#engine = engine;
    const snap = engine.toSnapshot();
    for (const r of snap.riders) this.#riders.add(r.id);
    for (const o of snap.orders) this.#orders.add(o.id);
    this.#unsubscribe = engine.subscribeBatches((b) => this.#apply(b));
  }

  #apply(b: CommandBatch): void {
    for (const e of b.events) {
      if (e.aggregate === 'rider') {
        if (e.type === 'rider_registered') this.#riders.add(e.id);
        continue;
      }
      if (e.aggregate !== 'order') continue;
      switch (e.type) {
        case 'order_placed':
          this.#orders.add(e.id);
          break;
        case 'order_dispatchable':
          this.#dispatchableAt.set(e.id, e.at);
          break;
        case 'order_assigned': {
          const from = this.#dispatchableAt.get(e.id);
          if (from !== undefined) this.#pending.push(Math.max(0, e.at - from));
          this.#dispatchableAt.delete(e.id);
          break;
        }
        case 'order_delivered':
        case 'order_cancelled':
          if (e.type === 'order_delivered') this.#delivered++;
          else this.#cancelled++;
          this.#orders.delete(e.id);
          this.#dispatchableAt.delete(e.id);
          break;
        default:
          break;
      }
    }
  }

  /** The city now. `at` is the snapshot's time (the server clock). */
  snapshot(at: number): CitySnapshot {
    const supply = new Map<string, [number, number]>();
    const counts = (h: string): [number, number] => {
      let c = supply.get(h);
      if (c === undefined) supply.set(h, (c = [0, 0]));
      return c;
    };
    // A rider's cell is the engine's own (its rider index is at this resolution by default); only
    // another resolution costs an H3 call per rider.
    const riderCell = (cell: string | null, lat: number, lng: number): string =>
      cell !== null && cell === sameRes(cell) ? cell : latLngToCell(lat, lng, CONSOLE_H3_RES);
    const pickupCell = (lat: number, lng: number): string => {
      const key = `${lat},${lng}`;
      let h = this.#pickupCells.get(key);
      if (h === undefined) {
        if (this.#pickupCells.size >= PICKUP_CELLS) this.#pickupCells.clear();
        this.#pickupCells.set(key, (h = latLngToCell(lat, lng, CONSOLE_H3_RES)));
      }
      return h;
    };
    const riders: [string, number, number, string][] = [];
    let busy = 0;
    let onBreak = 0;
    for (const id of this.#riders) {
      const v = this.#engine.getRider(id);
      if (!v.ok) continue;
      const r = v.value;
      if (r.state === 'offline') continue;
      if (r.state === 'on_break') onBreak++;
      else if (r.state !== 'online.idle') busy++;
      if (r.position === null) continue;
      riders.push([r.id, round5(r.position.lat), round5(r.position.lng), r.state]);
      const c = counts(riderCell(r.cell, r.position.lat, r.position.lng));
      if (r.available) c[0]++;
    }
    let waiting = 0;
    let enRoute = 0;
    for (const id of this.#orders) {
      const v = this.#engine.getOrder(id);
      if (!v.ok || v.value.state === 'delivered' || v.value.state === 'cancelled') {
        this.#orders.delete(id);
        continue;
      }
      const o = v.value;
      const c = counts(pickupCell(o.pickup.lat, o.pickup.lng));
      if (WAITING_STATES.has(o.state)) {
        waiting++;
        c[1]++;
      } else enRoute++;
    }
    const stats = this.#engine.stats();
    if (this.#pending.length > 0) {
      const ms = this.#pending.sort((a, b) => a - b);
      this.#latency.push({
        at,
        count: ms.length,
        p50Ms: ms[Math.floor((ms.length - 1) / 2)]!,
        maxMs: ms[ms.length - 1]!,
      });
      if (this.#latency.length > LATENCY_POINTS) this.#latency.shift();
      this.#pending = [];
    }
    return {
      at,
      seq: ++this.#seq,
      res: CONSOLE_H3_RES,
      counters: {
        ridersOnline: stats.ridersOnline,
        ridersIdle: stats.ridersAvailable,
        ridersBusy: busy,
        ridersOnBreak: onBreak,
        ordersLive: stats.ordersLive,
        ordersWaiting: waiting,
        ordersEnRoute: enRoute,
        delivered: this.#delivered,
        cancelled: this.#cancelled,
      },
      cells: [...supply].map(([h, [idle, demand]]) => [h, idle, demand] as const),
      riders,
      latency: [...this.#latency],
    };
  }

  close(): void {
    this.#unsubscribe();
  }
}
