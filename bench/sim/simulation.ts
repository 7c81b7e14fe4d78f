import {
  checkInvariants,
  defaultEngineConfig,
  Engine,
  FORBIDDEN_PAIR,
  minCostAssignment,
  fastDistanceM,
  offsetM,
  SeededRandom,
  bearingDeg,
  type Clock,
  type CustomerId,
  type EngineEvent,
  type LatLng,
  type OrderId,
  type RestaurantId,
  type RiderId,
  type RouteStop,
  type Stopwatch,
} from '../../engine/index.js';
import { Sample } from '../stats.js';
import type { GcWatch } from '../gc-watch.js';
import { planCity, weightedPicker } from './city.js';

export interface SimOptions {
  riders: number;
  restaurants: number;
  ordersPerSec: number;
  /** Simulated seconds of ordering; the run then drains until every order has ended. */
  duration: number;
  seed: number;
  /** Probability a rider accepts an offer; the rest decline or let it expire, half each. */
  acceptProbability: number;
  radiusKm: number;
  /** Each rider reports its position every this many seconds. */
  positionIntervalS: number;
  /** Cap on draining after ordering stops, simulated seconds. */
  drainS: number;
  /** The engine's dispatch policy: greedy or batched. */
  policy: string;
  /** The batched policy's window, and the window of the offline-optimum comparison, seconds. */
  batchWindowS: number;
  /** The batched policy's cost per second past the promise (`scoring.latenessWeight`). */
  latenessWeight: number;
  /** The engine's `kitchenTiming`: learned (the default) or stated. */
  kitchen: string;
  /**
   * Restaurants' kitchens run late against their own estimates: each restaurant's food takes this
   * many minutes longer than it states, on average over restaurants (normal, sd 4, in -5..15).
   */
  kitchenBiasMin: number;
  /**
   * Stacking: riders register with capacity `stackCapacity` instead of 1, so the engine may add
   * an order to the route of a rider heading to a restaurant within `stackRadiusM` of its own
   * (engine/dispatch/stacking.ts).
   */
  stacking: boolean;
  stackCapacity: number;
  stackRadiusM: number;
  /** The engine's `stackSlackS`: margin a stack leaves before every promise on its route, s. */
  stackSlackS: number;
  /** The engine's `stackSpareShare`: the free share of a shard's riders from which a free rider in time goes before a stack. */
  stackSpareShare: number;
  /**
   * Seconds of ordering before the figures start: the engine learns the city (its kitchens) first.
   * The counts cover the whole run; the samples and the quality figures only what follows.
   */
  warmupS: number;
}

export const defaultSimOptions: SimOptions = {
  riders: 2000,
  restaurants: 200,
  ordersPerSec: 2,
  duration: 1800,
  seed: 1,
  acceptProbability: 0.8,
  radiusKm: 8,
  positionIntervalS: 4,
  drainS: 4 * 3600,
  policy: 'greedy',
  batchWindowS: 2,
  latenessWeight: 1,
  kitchen: 'learned',
  kitchenBiasMin: 3,
  stacking: false,
  stackCapacity: 2,
  stackRadiusM: 500,
  stackSlackS: 420,
  stackSpareShare: 0.2,
  warmupS: 0,
};

/** `busy`: riding its route to the next stop; `at_pickup` and `handing_over`: at a stop. */
type Mode = 'offline' | 'break' | 'idle' | 'busy' | 'at_pickup' | 'handing_over';

interface Agent {
  readonly id: RiderId;
  readonly speedMps: number;
  lat: number;
  lng: number;
  heading: number;
  mode: Mode;
  connected: boolean;
  /** The stops of the jobs it holds, next first: as the engine's offer said, or pickup then drop. */
  route: RouteStop[];
  waypoint: LatLng;
}

interface OrderInfo {
  readonly pickup: LatLng;
  readonly drop: LatLng;
  foodReady: boolean;
  /** When the food was ready and when its rider reached the pickup, sim ms; 0 until then. */
  readyAt: number;
  arrivedAt: number;
}

/**
 * A city of riders, restaurants and customers driving one engine through its
 * public commands, on whatever clock it is given. Every random choice comes
 * from one seeded source, so a simulated run is repeatable.
 */
export class Simulation {
  readonly engine: Engine;
  readonly matchMicros = new Sample();
  readonly pickupDistance = new Sample();
  readonly deliveryMinutes = new Sample();
  /** From assignment to the rider reaching the pickup, seconds. */
  readonly pickupSeconds = new Sample();
  /** Dispatch quality: see {@link quality}. */
  readonly #q = {
    late: 0,
    lateShared: 0,
    delivered: 0,
    cohortPlaced: 0,
    cohortDelivered: 0,
    cohortLate: 0,
    cohortNoRider: 0,
    onlineRiderS: 0,
    idleRiderS: 0,
    payoutPaise: 0,
    windows: 0,
    windowOrders: 0,
    policyEtaS: 0,
    optimumEtaS: 0,
    riderWaitS: 0,
    foodWaitS: 0,
    pickups: 0,
  };
  /** Idle riders' positions at the open window's start, and the first offer of each order in it. */
  #window: { riders: Map<string, LatLng>; offers: Map<string, { pickup: LatLng; riderId: string }> } = {
    riders: new Map(),
    offers: new Map(),
  };
  readonly #payout = new Map<string, number>();
  /** Riders holding an offer: not free for another order. */
  readonly #holding = new Set<string>();
  /** When each held order was assigned, until its rider reaches its pickup. */
  readonly #assignedAt = new Map<string, number>();
  /** The route a stacked offer would make, by offer id, until it is answered. */
  readonly #offerStops = new Map<string, RouteStop[]>();
  /** Orders that shared a rider with another job at some point (stacked, or the job a stack joined). */
  readonly #shared = new Set<string>();
  /** Orders placed in the measured ordering period, until they end: the cohort whose fate {@link quality} counts whenever it comes. */
  readonly #cohort = new Set<string>();
  /** Offers that join a rider's route: left out of the offline-optimum comparison, which pairs free riders. */
  stackedOffers = 0;
  readonly counts = {
    orders_placed: 0,
    orders_delivered: 0,
    orders_cancelled: 0,
    orders_refused: 0,
    offers_sent: 0,
    offers_accepted: 0,
    offers_declined: 0,
    offers_expired: 0,
    offers_withdrawn: 0,
    sla_breaches: 0,
    reassignments: 0,
    events: 0,
    invariant_violations: 0,
  };
  readonly cancelReasons: Record<string, number> = {};
  readonly firstViolations: string[] = [];

  readonly #opts: SimOptions;
  readonly #clock: Clock;
  /** Customers, restaurants and the city: the demand, the same whatever the dispatch policy does. */
  readonly #rnd: SeededRandom;
  /** Riders' choices, moves, breaks and dropped connections. */
  readonly #riderRnd: SeededRandom;
  readonly #agents: Agent[] = [];
  readonly #byId = new Map<string, Agent>();
  readonly #orders = new Map<OrderId, OrderInfo>();
  readonly #offerDistance = new Map<string, number>();
  readonly #restaurantIds: RestaurantId[] = [];
  readonly #pickRestaurant: () => number;
  readonly #restaurantAt: LatLng[] = [];
  /** Minutes each restaurant's food takes beyond what it says (hidden from the engine). */
  readonly #kitchenBias: number[] = [];
  #tick = 0;
  #ordering = true;
  readonly #measureFrom: number;
  #customer = 0;

  /** Splits the measured matches by whether a collection paused inside them (the simulate command's). */
  readonly #gcWatch: GcWatch | undefined;

  constructor(opts: SimOptions, clock: Clock, stopwatch: Stopwatch, gcWatch?: GcWatch) {
    this.#gcWatch = gcWatch;
    this.#opts = opts;
    this.#clock = clock;
    this.#measureFrom = clock.now() + opts.warmupS * 1000;
    this.#rnd = new SeededRandom(opts.seed);
    this.#riderRnd = new SeededRandom(opts.seed + 0x9e3779b9);
    if (opts.policy !== 'greedy' && opts.policy !== 'batched')
      throw new RangeError(`policy must be greedy or batched, got ${opts.policy}`);
    if (!(Number.isInteger(opts.stackCapacity) && opts.stackCapacity >= 2 && opts.stackCapacity <= 8))
      throw new RangeError(`stackCapacity must be an integer in 2..8, got ${opts.stackCapacity}`);
    if (opts.kitchen !== 'learned' && opts.kitchen !== 'stated')
      throw new RangeError(`kitchen must be learned or stated, got ${opts.kitchen}`);
    this.engine = new Engine({
      clock,
      seed: opts.seed,
      stopwatch,
      onMatch: (m) => {
        if (!this.#measuring) return;
        this.matchMicros.add(m.micros);
        this.#gcWatch?.endedNow(m.micros);
      },
      config: {
        dispatchPolicy: opts.policy,
        batchWindowMs: Math.round(opts.batchWindowS * 1000),
        scoring: { latenessWeight: opts.latenessWeight },
        kitchenTiming: opts.kitchen,
        stackRadiusM: opts.stackRadiusM,
        stackSlackS: opts.stackSlackS,
        stackSpareShare: opts.stackSpareShare,
      },
    });
    this.engine.subscribe((e) => this.#onEvent(e));
    const city = planCity({
      riders: opts.riders,
      restaurants: opts.restaurants,
      radiusKm: opts.radiusKm,
      seed: opts.seed,
    });
    // Its own random stream, so that the city and the demand are those of a run without it.
    const kitchens = new SeededRandom(opts.seed + 0x85ebca6b);
    for (const r of city.restaurants) {
      const id = r.id as RestaurantId;
      this.#kitchenBias.push(Math.min(15, Math.max(-5, kitchens.normal(opts.kitchenBiasMin, 4))));
      this.engine.registerRestaurant({ restaurantId: id, location: r.at, prepMinutes: r.prepMinutes, capacity: 40 });
      this.#restaurantIds.push(id);
      this.#restaurantAt.push(r.at);
    }
    this.#pickRestaurant = weightedPicker(
      city.restaurants.map((r) => r.weight),
      this.#rnd,
    );
    for (const r of city.riders) {
      const a: Agent = {
        id: r.id as RiderId,
        speedMps: r.speedMps,
        lat: r.at.lat,
        lng: r.at.lng,
        heading: 0,
        mode: 'idle',
        connected: true,
        route: [],
        waypoint: r.at,
      };
      this.#agents.push(a);
      this.#byId.set(a.id, a);
      this.engine.registerRider({ riderId: a.id, capacity: opts.stacking ? opts.stackCapacity : 1 });
      this.engine.riderOnline(a.id);
      this.engine.updateRiderPosition(a.id, a.lat, a.lng, 5, NaN, 0, clock.now());
    }
  }

  /** Arms the arrival process and the movement tick; the clock does the rest. */
  start(): void {
    this.#scheduleArrival();
    const every = (ms: number, fn: () => void) => {
      const loop = () => {
        fn();
        this.#clock.setTimeout(loop, ms);
      };
      this.#clock.setTimeout(loop, ms);
    };
    every(1000, () => {
      this.#moveTick();
      this.#countRiders();
    });
    // Windows of the offline-optimum comparison, offset by half a window from the batch closes,
    // so that each window holds one close.
    const w = Math.round(this.#opts.batchWindowS * 1000);
    this.#clock.setTimeout(
      () => {
        this.#closeWindow();
        every(w, () => this.#closeWindow());
      },
      w - (this.#clock.now() % w) + w / 2,
    );
    every(60_000, () => this.#churn());
    const checkEvery = this.#opts.riders > 20_000 ? 300_000 : 30_000;
    every(checkEvery, () => this.checkInvariants());
  }

  /** Past the warm-up: the figures count. */
  get #measuring(): boolean {
    return this.#clock.now() >= this.#measureFrom;
  }

  /** Stops placing new orders; the run drains from here. */
  stopOrdering(): void {
    this.#ordering = false;
  }

  checkInvariants(): void {
    const v = checkInvariants(this.engine);
    this.counts.invariant_violations += v.length;
    for (const line of v) if (this.firstViolations.length < 10) this.firstViolations.push(line);
  }

  get liveOrders(): number {
    return this.#orders.size;
  }

  // ─── Customers, payments, restaurants ────────────────────────────────────

  #scheduleArrival(): void {
    if (this.#opts.ordersPerSec <= 0) return;
    this.#clock.setTimeout(
      () => {
        if (!this.#ordering) return;
        this.#placeOrder();
        this.#scheduleArrival();
      },
      this.#rnd.exponential(1000 / this.#opts.ordersPerSec),
    );
  }

  #placeOrder(): void {
    // Every draw of this order first, so that the demand stream does not depend on dispatch
    // (a refusal, say): two policies on the same seed see the same customers.
    const d = this.#rnd;
    const i = this.#pickRestaurant();
    const restaurantId = this.#restaurantIds[i]!;
    const at = this.#restaurantAt[i]!;
    const drop = offsetM(at.lat, at.lng, d.next() * 360, 500 + d.next() * 4500);
    const paid = d.next() < 0.7;
    const fails = d.next() < 0.03;
    const payS = 5 + d.next() * 35;
    const rejects = d.next() < 0.03;
    const prepNoise = d.normal(0, 3);
    const acceptS = paid ? 10 + d.next() * 80 : 45 + d.next() * 85;
    const readyS = d.next() * 120;
    const cancels = d.next() < 0.02;
    const cancelS = 20 + d.next() * 100;
    const res = this.engine.placeOrder({
      customerId: `cust-${this.#customer++ % 50_000}` as CustomerId,
      restaurantId,
      drop,
      paid,
    });
    if (!res.ok) {
      this.counts.orders_refused++;
      return;
    }
    const id = res.value;
    this.#orders.set(id, { pickup: at, drop, foodReady: false, readyAt: 0, arrivedAt: 0 });
    const after = (s: number, fn: () => void) => this.#clock.setTimeout(fn, s * 1000);
    if (!paid) after(payS, () => (fails ? this.engine.failPayment(id) : this.engine.confirmPayment(id)));
    const prep = this.engine.getRestaurant(restaurantId);
    const prepMinutes = Math.max(3, (prep.ok ? prep.value.prepMinutes : 15) + prepNoise);
    const cooksMinutes = Math.max(2, prepMinutes + this.#kitchenBias[i]!);
    after(acceptS, () => {
      if (rejects) {
        this.engine.restaurantReject(id, { restaurantId });
        return;
      }
      if (this.engine.restaurantAccept(id, { restaurantId, prepMinutes: Math.round(prepMinutes) }).ok) {
        after(cooksMinutes * 60 + readyS, () => this.engine.foodReady(id, { restaurantId }));
      }
    });
    if (cancels) after(cancelS, () => this.engine.cancelOrder({ orderId: id, by: 'customer' }));
  }

  // ─── Riders ──────────────────────────────────────────────────────────────

  #onEvent(e: EngineEvent): void {
    this.counts.events++;
    switch (e.type) {
      case 'order_offered':
        this.counts.offers_sent++;
        this.#offerDistance.set(e.offerId, e.pickupDistanceM);
        this.#payout.set(e.offerId, e.payout ?? 0);
        if (e.stops !== undefined) {
          this.stackedOffers++;
          this.#offerStops.set(e.offerId, e.stops);
        } else if (!this.#window.offers.has(e.id)) {
          this.#window.offers.set(e.id, { pickup: e.pickup, riderId: e.riderId });
          const a = this.#byId.get(e.riderId);
          if (a && !this.#window.riders.has(a.id)) this.#window.riders.set(a.id, { lat: a.lat, lng: a.lng });
        }
        break;
      case 'order_offer_ended':
        this.#offerStops.delete(e.offerId);
        this.#offerDistance.delete(e.offerId);
        this.#payout.delete(e.offerId);
        if (e.outcome === 'declined') this.counts.offers_declined++;
        else if (e.outcome === 'expired') this.counts.offers_expired++;
        else this.counts.offers_withdrawn++;
        break;
      case 'order_assigned': {
        this.counts.offers_accepted++;
        const d = this.#offerDistance.get(e.offerId);
        if (d !== undefined && this.#measuring) this.pickupDistance.add(d);
        this.#offerDistance.delete(e.offerId);
        this.#payout.set(e.id, this.#payout.get(e.offerId) ?? 0);
        this.#payout.delete(e.offerId);
        const a = this.#byId.get(e.riderId)!;
        const o = this.#orders.get(e.id);
        const stacked = this.#offerStops.delete(e.offerId);
        // A stacked job: the route as the engine has it now (the lead may have moved on since the offer).
        const jobs = stacked ? this.engine.getRiderJobs(a.id) : undefined;
        const stops = jobs?.ok ? jobs.value[0]?.stops : undefined;
        if (stops !== undefined) {
          a.route = [...stops];
          for (const s of stops) this.#shared.add(s.orderId);
        } else if (o !== undefined)
          a.route = [
            { kind: 'pickup', orderId: e.id, at: o.pickup },
            { kind: 'drop', orderId: e.id, at: o.drop },
          ];
        if (a.mode === 'idle') a.mode = 'busy';
        this.#assignedAt.set(e.id, e.at);
        break;
      }
      case 'order_unassigned':
        this.counts.reassignments++;
        break;
      case 'order_placed':
        this.counts.orders_placed++;
        if (this.#ordering && this.#measuring) {
          this.#cohort.add(e.id);
          this.#q.cohortPlaced++;
        }
        break;
      case 'order_food_ready': {
        const o = this.#orders.get(e.id);
        if (o) {
          o.foodReady = true;
          o.readyAt = e.at;
          if (o.arrivedAt > 0) this.#countPickupWait(o);
        }
        break;
      }
      case 'order_sla_breached':
        this.counts.sla_breaches++;
        break;
      case 'order_delivered': {
        this.counts.orders_delivered++;
        const v = this.engine.getOrder(e.id);
        if (this.#measuring) {
          this.deliveryMinutes.add((e.at - (v.ok ? v.value.placedAt : e.at)) / 60_000);
          if (v.ok && e.at > v.value.promisedAt) {
            this.#q.late++;
            if (this.#shared.has(e.id)) this.#q.lateShared++;
          }
        }
        if (this.#cohort.delete(e.id)) {
          this.#q.cohortDelivered++;
          if (v.ok && e.at > v.value.promisedAt) this.#q.cohortLate++;
        }
        // Per rider-hour figures count the ordering period only, not the drain's tail.
        if (this.#ordering && this.#measuring) {
          this.#q.payoutPaise += this.#payout.get(e.id) ?? 0;
          this.#q.delivered++;
        }
        this.#payout.delete(e.id);
        this.#orders.delete(e.id);
        this.#shared.delete(e.id);
        break;
      }
      case 'order_cancelled':
        this.#payout.delete(e.id);
        this.counts.orders_cancelled++;
        this.cancelReasons[e.reason] = (this.cancelReasons[e.reason] ?? 0) + 1;
        if (this.#cohort.delete(e.id) && e.reason === 'no_rider') this.#q.cohortNoRider++;
        this.#orders.delete(e.id);
        this.#shared.delete(e.id);
        break;
      case 'rider_offered':
        this.#holding.add(e.id);
        this.#decide(e.id, e.orderId);
        break;
      case 'rider_offer_ended':
        this.#holding.delete(e.id);
        break;
      case 'rider_assigned':
        this.#holding.delete(e.id);
        break;
      case 'rider_released':
      case 'rider_delivered': {
        const a = this.#byId.get(e.id)!;
        const atIt = a.route[0]?.orderId === e.orderId;
        a.route = a.route.filter((s) => s.orderId !== e.orderId);
        this.#assignedAt.delete(e.orderId);
        if (a.mode === 'offline' || a.mode === 'break') break;
        if (a.route.length === 0) a.mode = 'idle';
        else if (atIt && (a.mode === 'at_pickup' || a.mode === 'handing_over')) a.mode = 'busy';
        break;
      }
      case 'rider_offline': {
        this.#holding.delete(e.id);
        const a = this.#byId.get(e.id)!;
        a.mode = 'offline';
        a.route = [];
        break;
      }
    }
  }

  /** A rider looks at an offer for a few seconds, then accepts, declines or ignores it. */
  #decide(riderId: RiderId, orderId: OrderId): void {
    const x = this.#riderRnd.next();
    const p = this.#opts.acceptProbability;
    const delay = (2 + this.#riderRnd.next() * 10) * 1000;
    const a = this.#byId.get(riderId)!;
    // A rider whose connection dropped meanwhile cannot answer: the offer expires.
    if (x < p) this.#clock.setTimeout(() => a.connected && this.engine.acceptOffer(riderId, orderId), delay);
    else if (x < p + (1 - p) / 2)
      this.#clock.setTimeout(() => a.connected && this.engine.declineOffer(riderId, orderId), delay);
  }

  /** Every second a quarter (by default) of the riders move and report where they are. */
  #moveTick(): void {
    const n = Math.max(1, Math.round(this.#opts.positionIntervalS));
    const dt = n;
    const slot = this.#tick++ % n;
    const now = this.#clock.now();
    for (let i = slot; i < this.#agents.length; i += n) {
      const a = this.#agents[i]!;
      if (a.mode === 'offline' || a.mode === 'break' || !a.connected) continue;
      this.#move(a, dt);
      this.engine.updateRiderPosition(a.id, a.lat, a.lng, 5, a.heading, a.speedMps, now);
    }
  }

  #move(a: Agent, dt: number): void {
    let target: LatLng;
    let speed = a.speedMps;
    if (a.mode === 'busy' && a.route.length > 0) target = a.route[0]!.at;
    else if (a.mode === 'idle') {
      target = a.waypoint;
      speed *= 0.3;
    } else return;
    const d = fastDistanceM(a.lat, a.lng, target.lat, target.lng);
    const step = speed * dt;
    if (d <= step) {
      a.lat = target.lat;
      a.lng = target.lng;
      this.#reached(a);
      return;
    }
    a.heading = bearingDeg(a.lat, a.lng, target.lat, target.lng);
    const p = offsetM(a.lat, a.lng, a.heading, step);
    a.lat = p.lat;
    a.lng = p.lng;
  }

  /** The rider reached its waypoint (idle) or the next stop of its route. */
  #reached(a: Agent): void {
    if (a.mode === 'idle') {
      a.waypoint = offsetM(a.lat, a.lng, this.#riderRnd.next() * 360, this.#riderRnd.next() * 1500);
      return;
    }
    const stop = a.route[0];
    if (stop === undefined) return;
    const order = this.#orders.get(stop.orderId);
    if (stop.kind === 'pickup') {
      a.mode = 'at_pickup';
      const at = this.#assignedAt.get(stop.orderId);
      if (at !== undefined && this.#measuring) this.pickupSeconds.add((this.#clock.now() - at) / 1000);
      this.#assignedAt.delete(stop.orderId);
      if (order !== undefined && order.arrivedAt === 0) {
        order.arrivedAt = this.#clock.now();
        if (order.readyAt > 0) this.#countPickupWait(order);
      }
      this.#waitForFood(a, stop.orderId);
    } else {
      a.mode = 'handing_over';
      const orderId = stop.orderId;
      this.#clock.setTimeout(
        () => {
          if (a.route[0]?.orderId !== orderId || a.mode !== 'handing_over') return;
          // rider_delivered takes the stop off the route, and the rider on to the next or idle.
          this.engine.delivered(a.id, orderId);
        },
        (30 + this.#riderRnd.next() * 90) * 1000,
      );
    }
  }

  #waitForFood(a: Agent, orderId: OrderId): void {
    this.#clock.setTimeout(() => {
      if (a.route[0]?.orderId !== orderId || a.route[0].kind !== 'pickup' || a.mode !== 'at_pickup') return;
      const o = this.#orders.get(orderId);
      if (!o) return;
      if (!o.foodReady) {
        this.#waitForFood(a, orderId);
        return;
      }
      if (this.engine.pickedUp(a.id, orderId).ok) {
        a.route.shift();
        a.mode = 'busy';
      }
    }, 30_000);
  }

  /** A rider and its order's food have both reached the pickup: who waited for whom, and how long. */
  #countPickupWait(o: OrderInfo): void {
    if (!this.#ordering || !this.#measuring) return;
    this.#q.pickups++;
    this.#q.riderWaitS += Math.max(0, o.readyAt - o.arrivedAt) / 1000;
    this.#q.foodWaitS += Math.max(0, o.arrivedAt - o.readyAt) / 1000;
  }

  /** Rider-seconds online and idle while orders come in, for the idle share and the per rider-hour figures. */
  #countRiders(): void {
    if (!this.#ordering || !this.#measuring) return;
    for (const a of this.#agents) {
      if (a.mode === 'offline' || a.mode === 'break') continue;
      this.#q.onlineRiderS++;
      if (a.mode === 'idle') this.#q.idleRiderS++;
    }
  }

  /**
   * Ends a comparison window: the orders first offered in it, and the riders
   * idle at its start plus those offered, are matched again by the least total
   * pickup ETA with every rider a candidate (the offline optimum on the same
   * snapshot), against the pairs the policy made. Then opens the next window.
   */
  #closeWindow(): void {
    const { riders, offers } = this.#window;
    if (offers.size > 0 && this.#measuring) {
      const ids = [...riders.keys()];
      // The engine's own travel-time model; the simulated riders' vehicles are not known to it.
      const now = this.#clock.now();
      const eta = (r: LatLng, p: LatLng) => this.engine.eta.travelS(r.lat, r.lng, p.lat, p.lng, null, now);
      const rows = [...offers.values()];
      const cost = new Float64Array(rows.length * ids.length).fill(FORBIDDEN_PAIR);
      const maxM = defaultEngineConfig.maxPickupDistanceM;
      rows.forEach((o, i) => {
        ids.forEach((id, j) => {
          const r = riders.get(id)!;
          if (fastDistanceM(r.lat, r.lng, o.pickup.lat, o.pickup.lng) <= maxM)
            cost[i * ids.length + j] = eta(r, o.pickup);
        });
        this.#q.policyEtaS += eta(riders.get(o.riderId)!, o.pickup);
      });
      const best = minCostAssignment(rows.length, ids.length, cost);
      for (let i = 0; i < rows.length; i++) {
        // Every order was offered, so the policy's rider is always a real pair: the optimum pairs them all.
        const j = best[i]!;
        this.#q.optimumEtaS +=
          j === -1 ? eta(riders.get(rows[i]!.riderId)!, rows[i]!.pickup) : cost[i * ids.length + j]!;
      }
      this.#q.windows++;
      this.#q.windowOrders += rows.length;
    }
    const idle = new Map<string, LatLng>();
    for (const a of this.#agents)
      if (a.mode === 'idle' && a.connected && !this.#holding.has(a.id)) idle.set(a.id, { lat: a.lat, lng: a.lng });
    this.#window = { riders: idle, offers: new Map() };
  }

  /** The dispatch-quality figures of the run so far. */
  quality(): {
    pickup_s: { mean: number; p90: number };
    wait_min_mean: number;
    late_orders: number;
    late_shared_orders: number;
    cohort: { placed: number; delivered: number; late: number; cancelled_no_rider: number };
    rider_idle_share: number;
    earnings_per_rider_hour_inr: number;
    deliveries_per_rider_hour: number;
    gap_to_optimum_pct: number;
    rider_wait_at_pickup_s_mean: number;
    food_wait_s_mean: number;
    comparison_windows: number;
    comparison_orders: number;
  } {
    const q = this.#q;
    const hours = q.onlineRiderS / 3600;
    return {
      pickup_s: {
        mean: Math.round(this.pickupSeconds.mean() || 0),
        p90: Math.round(this.pickupSeconds.quantile(0.9) || 0),
      },
      wait_min_mean: Number((this.deliveryMinutes.mean() || 0).toFixed(1)),
      late_orders: q.late,
      late_shared_orders: q.lateShared,
      cohort: {
        placed: q.cohortPlaced,
        delivered: q.cohortDelivered,
        late: q.cohortLate,
        cancelled_no_rider: q.cohortNoRider,
      },
      rider_idle_share: Number((q.onlineRiderS ? q.idleRiderS / q.onlineRiderS : 0).toFixed(3)),
      earnings_per_rider_hour_inr: Number((hours ? q.payoutPaise / 100 / hours : 0).toFixed(1)),
      deliveries_per_rider_hour: Number((hours ? q.delivered / hours : 0).toFixed(3)),
      gap_to_optimum_pct: Number((q.optimumEtaS ? (q.policyEtaS / q.optimumEtaS - 1) * 100 : 0).toFixed(2)),
      rider_wait_at_pickup_s_mean: Math.round(q.pickups ? q.riderWaitS / q.pickups : 0),
      food_wait_s_mean: Math.round(q.pickups ? q.foodWaitS / q.pickups : 0),
      comparison_windows: q.windows,
      comparison_orders: q.windowOrders,
    };
  }

  /** Breaks and dropped connections, a few per minute. */
  #churn(): void {
    for (const a of this.#agents) {
      const x = this.#riderRnd.next();
      if (a.mode === 'idle' && a.connected && x < 0.005) {
        if (!this.engine.riderBreak(a.id).ok) continue;
        a.mode = 'break';
        this.#clock.setTimeout(
          () => {
            if (this.engine.riderResume(a.id).ok) a.mode = 'idle';
          },
          (5 + this.#riderRnd.next() * 15) * 60_000,
        );
      } else if (a.mode !== 'offline' && a.mode !== 'break' && a.connected && x > 0.998) {
        if (!this.engine.riderDisconnected(a.id).ok) continue;
        a.connected = false;
        this.#clock.setTimeout(() => this.#reconnect(a), (10 + this.#riderRnd.next() * 110) * 1000);
      } else if (a.mode === 'offline' && x < 0.2) {
        this.#comeOnline(a);
      }
    }
  }

  #reconnect(a: Agent): void {
    a.connected = true;
    if (a.mode === 'offline') {
      this.#comeOnline(a);
      return;
    }
    this.engine.riderReconnected(a.id);
  }

  #comeOnline(a: Agent): void {
    if (!this.engine.riderOnline(a.id).ok) return;
    a.mode = 'idle';
    a.connected = true;
    this.engine.updateRiderPosition(a.id, a.lat, a.lng, 5, NaN, 0, this.#clock.now());
  }
}
