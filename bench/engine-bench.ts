/**
 * `npm run bench -- engine`: the engine alone, in this process, on a simulated
 * clock. Measures, each beside a baseline in the same run:
 * - CPU per rider position update (hot path) vs. one XState `send` per update;
 * - greedy match latency vs. a brute-force scan of every available rider;
 * - heap per online idle rider and per active order vs. a started XState actor per rider.
 */
import { createActor } from 'xstate';
import {
  Engine,
  SimulatedClock,
  offsetM,
  riderMachine,
  SeededRandom,
  type CustomerId,
  type EngineEvent,
  type OrderId,
  type RestaurantId,
  type RiderId,
} from '../engine/index.js';
import { hrStopwatch } from '../adapters/system-clock.js';
import { AllocationMeter, GcWatch } from './gc-watch.js';
import { planCity } from './sim/city.js';
import { heapUsed, Sample } from './stats.js';

export interface EngineBenchOptions {
  riders: number;
  restaurants: number;
  orders: number;
  positions: number;
  sideKm: number;
  seed: number;
}

export const defaultEngineBench: EngineBenchOptions = {
  riders: 100_000,
  restaurants: 2_000,
  orders: 20_000,
  positions: 2_000_000,
  sideKm: 30,
  seed: 1,
};

const CENTRE = { lat: 12.9716, lng: 77.5946 };

/** A uniform point in a square of `sideKm` around the centre. */
function squarePoint(rnd: SeededRandom, sideKm: number) {
  const half = (sideKm * 1000) / 2;
  const p = offsetM(CENTRE.lat, CENTRE.lng, 0, (rnd.next() * 2 - 1) * half);
  return offsetM(p.lat, p.lng, 90, (rnd.next() * 2 - 1) * half);
}

/**
 * Searches that find fewer riders than `minCandidates`: the same city with
 * only three idle riders, where most searches meet nobody. Each order is
 * accepted (its search runs then, timed as a whole command) and cancelled, so
 * the three stay available. Per accept, µs of wall time.
 */
function scarceSearch(o: EngineBenchOptions, progress: (s: string) => void) {
  const n = Math.min(o.orders, 5_000);
  progress(`searching for ${n} orders among 3 idle riders`);
  const rnd = new SeededRandom(o.seed + 1);
  const clock = new SimulatedClock();
  const engine = new Engine({ clock, seed: o.seed, config: { dispatchRetryMs: 3_600_000 } });
  for (let i = 0; i < 3; i++) {
    const id = `idle-${i}` as RiderId;
    const p = squarePoint(rnd, o.sideKm);
    engine.registerRider({ riderId: id });
    engine.riderOnline(id);
    engine.updateRiderPosition(id, p.lat, p.lng, 5, NaN, 0, clock.now());
  }
  const restaurants = Array.from({ length: Math.min(o.restaurants, 500) }, (_, i) => {
    const id = `rest-${i}` as RestaurantId;
    const at = squarePoint(rnd, o.sideKm * 0.8);
    engine.registerRestaurant({ restaurantId: id, location: at, prepMinutes: 10, capacity: 1_000_000 });
    return { id, at };
  });
  const micros = new Sample();
  for (let k = 0; k < n; k++) {
    const r = restaurants[k % restaurants.length]!;
    const drop = offsetM(r.at.lat, r.at.lng, rnd.next() * 360, 2000);
    const placed = engine.placeOrder({ customerId: 'c' as CustomerId, restaurantId: r.id, drop, paid: true });
    if (!placed.ok) throw new Error(placed.detail);
    const t0 = hrStopwatch.nowMicros();
    engine.restaurantAccept(placed.value, { prepMinutes: 0 });
    micros.add(hrStopwatch.nowMicros() - t0);
    engine.cancelOrder({ orderId: placed.value, by: 'admin' });
  }
  engine.stop();
  return micros.summary(1);
}

/**
 * Searches in a dense city: the simulator's (bench/sim/city.ts: riders half-normal around the
 * centre, restaurants in food streets), as many riders as the main city, its radius scaled so that
 * 100k riders fill 8 km (the simulator's default), every rider reporting its speed and a random
 * heading (so the heading term counts) from where it was placed. Near the centre a cell holds
 * hundreds of riders and a search scores every one it meets. Each restaurant's accept matches at
 * once; the rider takes the job and finishes it, so availability stays steady.
 * Match latency (the engine's stopwatch, as in the main loop) and riders scored per search.
 */
async function denseSearch(o: EngineBenchOptions, progress: (s: string) => void) {
  const n = Math.min(o.orders, 6_000);
  const radiusKm = 8 * Math.sqrt(o.riders / 100_000);
  progress(`matching ${n} orders in a dense city (${o.riders} riders within ${radiusKm.toFixed(1)} km)`);
  const city = planCity({ riders: o.riders, restaurants: o.restaurants, radiusKm, seed: o.seed });
  const rnd = new SeededRandom(o.seed + 2);
  const clock = new SimulatedClock();
  const micros = new Sample();
  const scored = new Sample();
  const gcWatch = new GcWatch();
  const engine = new Engine({
    clock,
    seed: o.seed,
    stopwatch: hrStopwatch,
    onMatch: (m) => {
      micros.add(m.micros);
      scored.add(m.candidates);
      gcWatch.endedNow(m.micros);
    },
    config: { offerTimeoutMs: 3_600_000 },
  });
  const ids = city.riders.map((r) => r.id as RiderId);
  ids.forEach((id) => {
    engine.registerRider({ riderId: id });
    engine.riderOnline(id);
  });
  const position = () =>
    city.riders.forEach((r, i) =>
      engine.updateRiderPosition(ids[i]!, r.at.lat, r.at.lng, 5, rnd.int(0, 359), r.speedMps, clock.now()),
    );
  position();
  for (const r of city.restaurants)
    engine.registerRestaurant({
      restaurantId: r.id as RestaurantId,
      location: r.at,
      prepMinutes: r.prepMinutes,
      capacity: 1_000_000,
    });
  const offers: [RiderId, OrderId][] = [];
  const off = engine.subscribe((e: EngineEvent) => {
    if (e.type === 'rider_offered') offers.push([e.id, e.orderId]);
  });
  for (let k = 0; k < n; k++) {
    // A second passes, and every rider says where it is, each thousand orders: positions stay fresh.
    if (k % 1_000 === 999) {
      clock.advance(1_000);
      position();
    }
    const r = city.restaurants[(k * 7_919) % city.restaurants.length]!;
    const drop = offsetM(r.at.lat, r.at.lng, rnd.next() * 360, 2_000);
    const placed = engine.placeOrder({
      customerId: 'c' as CustomerId,
      restaurantId: r.id as RestaurantId,
      drop,
      paid: true,
    });
    if (!placed.ok) throw new Error(placed.detail);
    engine.restaurantAccept(placed.value, { prepMinutes: 0 });
    for (const [rider, order] of offers.splice(0)) {
      engine.acceptOffer(rider, order);
      engine.pickedUp(rider, order);
      engine.delivered(rider, order);
    }
  }
  off();
  engine.stop();
  const gc = await gcWatch.split();
  return {
    riders: o.riders,
    radius_km: Number(radiusKm.toFixed(1)),
    matches: micros.count,
    match_latency_us: micros.summary(1),
    match_latency_no_gc_us: gc.clean.summary(1),
    matches_with_gc: gc.paused.count,
    riders_scored: scored.summary(0),
  };
}

/**
 * What this process and machine do to a span of pure arithmetic as long as
 * the median match: `n` spans, timed with the match's stopwatch, right after
 * the match loop. Nothing in them allocates or touches memory beyond one small
 * array, so their tail is not their code's: a virtual CPU taken away for tens
 * of µs now and then, and collections the earlier work made due (V8 finishes
 * marking and sweeping through interrupts, so a pause can land in code that
 * allocates nothing), told apart as the matches' are. The floor a match's p99
 * and p99.9 can be judged against.
 */
async function computeSpans(targetUs: number, n: number) {
  const buf = new Float64Array(4096);
  let x = 0;
  const spin = (k: number) => {
    for (let i = 0; i < k; i++) x += buf[i & 4095]! * 1.0001 + i;
  };
  spin(1_000_000); // optimised before it is timed
  const c0 = hrStopwatch.nowMicros();
  spin(4_000_000);
  const perUs = 4_000_000 / Math.max(1, hrStopwatch.nowMicros() - c0);
  const k = Math.max(1, Math.round(perUs * targetUs));
  const spans = new Sample();
  const gc = new GcWatch();
  for (let j = 0; j < n; j++) {
    const t0 = hrStopwatch.nowMicros();
    spin(k);
    const micros = hrStopwatch.nowMicros() - t0;
    spans.add(micros);
    gc.endedNow(micros);
  }
  if (Number.isNaN(x)) throw new Error('unreachable: keeps the arithmetic live');
  const split = await gc.split();
  return { all: spans.summary(1), clean: split.clean.summary(1), paused: split.paused.count };
}

export async function runEngineBench(o: EngineBenchOptions, progress: (s: string) => void) {
  const rnd = new SeededRandom(o.seed);
  const clock = new SimulatedClock();
  // Every match in order, to tell the first ones (V8 still compiling the path) from the rest.
  const matchList: number[] = [];
  const matchGc = new GcWatch();
  const heap0 = heapUsed();
  const engine = new Engine({
    clock,
    seed: o.seed,
    stopwatch: hrStopwatch,
    onMatch: (m) => {
      matchList.push(m.micros);
      matchGc.endedNow(m.micros);
    },
    config: { offerTimeoutMs: 3_600_000 },
  });

  // Riders: registered, online, positioned: the idle state the goal is about.
  progress(`placing ${o.riders} riders in a ${o.sideKm} × ${o.sideKm} km city`);
  const ids: RiderId[] = [];
  const lat = new Float64Array(o.riders);
  const lng = new Float64Array(o.riders);
  for (let i = 0; i < o.riders; i++) {
    const id = `rider-${i}` as RiderId;
    ids.push(id);
    const p = squarePoint(rnd, o.sideKm);
    lat[i] = p.lat;
    lng[i] = p.lng;
  }
  const heapBeforeRiders = heapUsed();
  for (let i = 0; i < o.riders; i++) {
    engine.registerRider({ riderId: ids[i]! });
    engine.riderOnline(ids[i]!);
    engine.updateRiderPosition(ids[i]!, lat[i]!, lng[i]!, 5, 90.5, 5.5, clock.now());
  }
  const bytesPerRider = (heapUsed() - heapBeforeRiders) / o.riders;

  // Position hot path: every rider drifts a few metres per update, in order.
  progress(`applying ${o.positions} position updates`);
  const dLat = 0.00003; // ≈ 3.3 m
  let at = clock.now();
  const hot = () => {
    at += 1;
    const t0 = process.cpuUsage();
    const w0 = performance.now();
    for (let k = 0; k < o.positions; k++) {
      const i = k % o.riders;
      const step = (k / o.riders) & 1 ? -dLat : dLat;
      lat[i]! += step;
      engine.updateRiderPosition(ids[i]!, lat[i]!, lng[i]!, 5, 90.5, 5.5, at);
      if (i === o.riders - 1) at += 1;
    }
    const cpu = process.cpuUsage(t0);
    return { cpuUs: (cpu.user + cpu.system) / o.positions, wallUs: ((performance.now() - w0) * 1000) / o.positions };
  };
  hot(); // warm-up
  const position = hot();

  // Baseline: what the hot path avoids, one XState actor send per position.
  const baseN = Math.min(o.riders, 20_000);
  const heapBeforeActors = heapUsed();
  const actors = Array.from({ length: baseN }, () => createActor(riderMachine).start());
  const bytesPerActor = (heapUsed() - heapBeforeActors) / baseN;
  for (const a of actors) a.send({ type: 'GO_ONLINE' });
  const baseUpdates = Math.min(o.positions, 400_000);
  const t1 = process.cpuUsage();
  for (let k = 0; k < baseUpdates; k++) {
    // The machine ignores the event, so this is the floor of the cost of routing a position through an actor.
    actors[k % baseN]!.send({ type: 'RECONNECT' });
  }
  const c1 = process.cpuUsage(t1);
  const actorSendUs = (c1.user + c1.system) / baseUpdates;
  actors.forEach((a) => a.stop());
  actors.length = 0;

  // Matching: orders at restaurants spread over the city, each dispatchable at once.
  progress(`matching ${o.orders} orders`);
  const restaurants: RestaurantId[] = [];
  for (let i = 0; i < o.restaurants; i++) {
    const id = `rest-${i}` as RestaurantId;
    engine.registerRestaurant({
      restaurantId: id,
      location: squarePoint(rnd, o.sideKm * 0.8),
      prepMinutes: 10,
      capacity: 1_000_000,
    });
    restaurants.push(id);
  }
  const offers: [RiderId, OrderId][] = [];
  const off = engine.subscribe((e: EngineEvent) => {
    if (e.type === 'rider_offered') offers.push([e.id, e.orderId]);
  });
  const pickups: { lat: number; lng: number }[] = [];
  const allocation = new AllocationMeter();
  allocation.start();
  for (let n = 0; n < o.orders; n++) {
    const r = restaurants[n % restaurants.length]!;
    const rest = engine.getRestaurant(r);
    const pickup = rest.ok ? rest.value.location : CENTRE;
    const drop = offsetM(pickup.lat, pickup.lng, rnd.next() * 360, 2000);
    const placed = engine.placeOrder({ customerId: 'c' as CustomerId, restaurantId: r, drop, paid: true });
    if (!placed.ok) throw new Error(placed.detail);
    engine.restaurantAccept(placed.value, { prepMinutes: 0 }); // dispatches now; onMatch records the latency
    pickups.push(pickup);
    // Keep the city's availability steady: the rider takes the job and finishes it at once.
    for (const [rider, order] of offers.splice(0)) {
      engine.acceptOffer(rider, order);
      engine.pickedUp(rider, order);
      engine.delivered(rider, order);
    }
  }
  const bytesPerCycle = allocation.stop() / o.orders;
  off();
  const matchMicros = new Sample();
  for (const us of matchList) matchMicros.add(us);
  const computeFloor = await computeSpans(matchMicros.quantile(0.5), matchMicros.count);

  // Baseline, in its own pass so neither run cools the other's caches: the
  // nearest available rider by scanning every rider, no spatial index.
  const bruteMicros = new Sample();
  for (const pickup of pickups.slice(0, 2_000)) {
    const b0 = hrStopwatch.nowMicros();
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < o.riders; i++) {
      const d = Math.hypot(lat[i]! - pickup.lat, (lng[i]! - pickup.lng) * Math.cos((pickup.lat * Math.PI) / 180));
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    bruteMicros.add(hrStopwatch.nowMicros() - b0);
    if (best < 0) throw new Error('no rider');
  }

  // Active orders: placed, accepted, waiting in the kitchen (no rider yet).
  const active = Math.min(o.orders, 50_000);
  const heapBeforeOrders = heapUsed();
  for (let n = 0; n < active; n++) {
    const r = restaurants[n % restaurants.length]!;
    const placed = engine.placeOrder({ customerId: 'c' as CustomerId, restaurantId: r, drop: CENTRE, paid: true });
    if (placed.ok) engine.restaurantAccept(placed.value, { prepMinutes: 60 });
  }
  const bytesPerOrder = (heapUsed() - heapBeforeOrders) / active;
  const totalHeapMiB = (heapUsed() - heap0) / 2 ** 20;
  engine.stop();
  const scarce = scarceSearch(o, progress);
  const dense = await denseSearch(o, progress);
  const gc = await matchGc.split();
  // A running server's matches: those after every restaurant's first order (the warm-up), with and
  // without the ones a collection paused inside. The position figure has its warm-up pass too.
  const warmFrom = Math.min(o.restaurants, Math.floor(matchList.length / 2));
  const warm = new Sample();
  const warmClean = new Sample();
  for (let i = warmFrom; i < matchList.length; i++) {
    warm.add(matchList[i]!);
    if (!gc.met[i]) warmClean.add(matchList[i]!);
  }

  return {
    riders: o.riders,
    city_km: `${o.sideKm}x${o.sideKm}`,
    position_update_cpu_us: Number(position.cpuUs.toFixed(3)),
    position_update_wall_us: Number(position.wallUs.toFixed(3)),
    baseline_xstate_send_cpu_us: Number(actorSendUs.toFixed(3)),
    match_latency_us: matchMicros.summary(1),
    matches: matchMicros.count,
    // The same matches without those a garbage collection paused inside, and how many those were.
    match_latency_no_gc_us: gc.clean.summary(1),
    matches_with_gc: gc.paused.count,
    // Without the first `warmup_matches` (one per restaurant, while V8 still compiles the path).
    warmup_matches: warmFrom,
    match_latency_warm_us: warm.summary(1),
    match_latency_warm_no_gc_us: warmClean.summary(1),
    // Spans of pure arithmetic as long as the median match, as many: the tail this process and machine give any code.
    baseline_compute_span_us: computeFloor.all,
    baseline_compute_span_no_gc_us: computeFloor.clean,
    compute_spans_with_gc: computeFloor.paused,
    baseline_brute_force_scan_us: bruteMicros.summary(1),
    heap_bytes_per_idle_rider: Math.round(bytesPerRider),
    baseline_heap_bytes_per_started_actor: Math.round(bytesPerActor),
    heap_bytes_per_active_order: Math.round(bytesPerOrder),
    // Everything one order's cycle in the match loop allocates (placing, the accept with its match,
    // the rider's accept, pickup and delivery): the garbage whose collections land inside matches.
    allocated_bytes_per_order: Math.round(bytesPerCycle),
    heap_total_mib: Math.round(totalHeapMiB),
    scarce_search_us: scarce,
    dense_city: dense,
    goals: {
      position_update_cpu_us_max: 2,
      match_p99_us_max: 100,
      heap_bytes_per_idle_rider_max: 1536,
      heap_bytes_per_active_order_max: 8192,
    },
    met: {
      position: position.cpuUs <= 2,
      match: matchMicros.quantile(0.99) <= 100,
      rider_heap: bytesPerRider <= 1536,
      order_heap: bytesPerOrder <= 8192,
    },
  };
}
