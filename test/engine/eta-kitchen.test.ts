import t, { type Test } from 'tap';
import {
  checkInvariants,
  defaultEngineConfig as D,
  Engine,
  type EngineConfigInput,
  type EngineEvent,
  type EngineSnapshot,
  type EtaModel,
  PositionStatus,
  fastDistanceM,
  localHour,
  resolveConfig,
  type RiderId,
  SimulatedClock,
  StraightLineEta,
  type VehicleType,
} from '../../engine/index.js';
import { CENTRE, cust, near, oid, rest, rid, seqGaps, world, type World } from './world.js';

/**
 * The travel-time model (engine/eta.ts), its settings, the rider's vehicle, and
 * dispatch timed to the kitchen (engine/kitchen.ts): learned preparation bias,
 * learned pickup lead, the delivery promise. Every expectation is computed here
 * from distances and the configured speeds, not asked of the engine.
 */

type LatLng = { lat: number; lng: number };
type Ev<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

const MIN = 60_000;
/** The drop of every order `world().order` places. */
const DROP = near(2000, 0);
const RATE = 0.2;

/** The last event of `type` (of aggregate `id` when given). */
function last<T extends EngineEvent['type']>(events: readonly EngineEvent[], type: T, id?: string): Ev<T> | undefined {
  return events.filter((e): e is Ev<T> => e.type === type && (id === undefined || e.id === id)).at(-1);
}

function all<T extends EngineEvent['type']>(events: readonly EngineEvent[], type: T, id?: string): Ev<T>[] {
  return events.filter((e): e is Ev<T> => e.type === type && (id === undefined || e.id === id));
}

/** Road seconds from `a` to `b` at `speed` m/s and traffic factor `traffic`, computed here. */
function rideS(a: LatLng, b: LatLng, speed: number, traffic = 1, detour = D.detourFactor): number {
  return (fastDistanceM(a.lat, a.lng, b.lat, b.lng) * detour) / (speed * traffic);
}

/** |actual − expected| ≤ eps. */
function close(t: Test, actual: number | null | undefined, expected: number, msg: string, eps = 1e-6): void {
  t.ok(
    typeof actual === 'number' && Math.abs(actual - expected) <= eps,
    `${msg} (got ${String(actual)}, expected ${expected})`,
  );
}

/** The exponentially weighted mean the kitchen keeps: the first sample as is, then x += 0.2·(sample − x). */
function ewma(samples: readonly number[]): number {
  let x = 0;
  samples.forEach((s, i) => {
    x = i === 0 ? s : x + RATE * (s - x);
  });
  return x;
}

/** A rider on `vehicle` (undefined: not said), online and idle at `at` with a fresh position. */
function riderOn(w: World, id: string, vehicle: VehicleType | undefined, at: LatLng): RiderId {
  const r = rid(id);
  const reg = w.engine.registerRider({ riderId: r, ...(vehicle === undefined ? {} : { vehicle }) });
  if (!reg.ok) throw new Error(reg.detail);
  if (!w.engine.riderOnline(r).ok) throw new Error(`${id} did not go online`);
  w.move(r, at);
  return r;
}

function healthy(t: Test, w: World) {
  t.same(checkInvariants(w.engine), [], 'invariants hold');
  t.same(seqGaps(w.events), [], 'seq gap-free');
  t.same(w.badAt, [], 'events at clock time');
  t.same(w.errors, [], 'nothing logged');
}

/** 24 flat factors but hour 19 (local), which is `evening`. */
const eveningRush = (evening = 0.5) => Array.from({ length: 24 }, (_, h) => (h === 19 ? evening : 1));

/** Epoch ms of 2026-01-01 at hh:mm in India (UTC+5:30). */
const ist = (hh: number, mm: number) => Date.UTC(2026, 0, 1, hh, mm) - 330 * MIN;

// ─── 1. StraightLineEta ──────────────────────────────────────────────────────

t.test(
  'StraightLineEta: a motorcycle is faster than a bicycle by the configured ratio; no vehicle uses riderSpeedMps',
  async (t) => {
    const cfg = resolveConfig({ riderSpeedMps: 7, vehicleSpeedMps: { bicycle: 4, motorcycle: 10 }, detourFactor: 1.4 });
    const eta = new StraightLineEta(() => cfg);
    const from = near(1500, 45);
    const at = ist(15, 10);
    const moto = eta.travelS(from.lat, from.lng, CENTRE.lat, CENTRE.lng, 'motorcycle', at);
    const bike = eta.travelS(from.lat, from.lng, CENTRE.lat, CENTRE.lng, 'bicycle', at);
    const none = eta.travelS(from.lat, from.lng, CENTRE.lat, CENTRE.lng, null, at);
    const car = eta.travelS(from.lat, from.lng, CENTRE.lat, CENTRE.lng, 'car', at);
    close(t, moto, rideS(from, CENTRE, 10, 1, 1.4), 'motorcycle: metres × detour / 10 m/s');
    close(t, bike, rideS(from, CENTRE, 4, 1, 1.4), 'bicycle: metres × detour / 4 m/s');
    close(t, bike / moto, 10 / 4, 'a bicycle takes 2.5× as long as a motorcycle');
    close(t, none, rideS(from, CENTRE, 7, 1, 1.4), 'no vehicle: riderSpeedMps (7 m/s)');
    close(
      t,
      car,
      rideS(from, CENTRE, D.vehicleSpeedMps.car, 1, 1.4),
      'a vehicle not overridden keeps its default speed',
    );
    t.equal(eta.travelS(CENTRE.lat, CENTRE.lng, CENTRE.lat, CENTRE.lng, 'bicycle', at), 0, 'no distance, no time');
  },
);

t.test(
  'StraightLineEta: a ride leaving at 19:10 IST takes twice as long as at 15:10 IST when hour 19 is 0.5',
  async (t) => {
    const cfg = resolveConfig({ utcOffsetMinutes: 330, speedByHour: eveningRush(0.5) });
    const eta = new StraightLineEta(() => cfg);
    const from = near(2500, 200);
    const ride = (at: number) => eta.travelS(from.lat, from.lng, CENTRE.lat, CENTRE.lng, 'scooter', at);
    const afternoon = ride(ist(15, 10));
    const evening = ride(ist(19, 10));
    close(t, afternoon, rideS(from, CENTRE, D.vehicleSpeedMps.scooter), '15:10 IST: factor 1');
    close(t, evening, rideS(from, CENTRE, D.vehicleSpeedMps.scooter, 0.5), '19:10 IST: factor 0.5');
    close(t, evening / afternoon, 2, 'twice as long');
    close(t, ride(ist(18, 59)), afternoon, '18:59 IST is still hour 18');
    close(t, ride(ist(19, 0)), evening, '19:00 IST is hour 19');
    close(t, ride(ist(20, 0)), afternoon, '20:00 IST is back to 1');
    // The same instant in a city at UTC+0: 13:40 local, not rush hour.
    const london = new StraightLineEta(() => resolveConfig({ utcOffsetMinutes: 0, speedByHour: eveningRush(0.5) }));
    close(
      t,
      london.travelS(from.lat, from.lng, CENTRE.lat, CENTRE.lng, 'scooter', ist(19, 10)),
      afternoon,
      'the hour is local: 13:40 UTC is not 19:00 at offset 0',
    );
  },
);

t.test('localHour across midnight, with negative and extreme offsets', async (t) => {
  const utc = (d: number, hh: number, mm: number) => Date.UTC(2026, 0, d, hh, mm);
  t.equal(localHour(utc(1, 18, 29), 330), 23, '18:29 UTC is 23:59 IST');
  t.equal(localHour(utc(1, 18, 30), 330), 0, '18:30 UTC is midnight IST, the next day');
  t.equal(localHour(utc(1, 20, 0), 330), 1, '20:00 UTC is 01:30 IST');
  t.equal(localHour(utc(1, 3, 0), -300), 22, '03:00 UTC is 22:00 the day before at UTC−5');
  t.equal(localHour(utc(1, 5, 0), -300), 0, '05:00 UTC is midnight at UTC−5');
  t.equal(localHour(utc(1, 4, 59), -300), 23, '04:59 UTC is 23:59 the day before at UTC−5');
  t.equal(localHour(utc(1, 0, 0), -570), 14, 'midnight UTC is 14:30 the day before at UTC−9:30');
  t.equal(localHour(utc(1, 0, 0), -720), 12, 'midnight UTC is noon the day before at UTC−12');
  t.equal(localHour(utc(1, 12, 0), 840), 2, 'noon UTC is 02:00 the next day at UTC+14');
  t.equal(localHour(utc(1, 15, 45), 0), 15, 'offset 0 is UTC');
  t.equal(localHour(-1, 0), 23, 'one ms before the epoch is 23:59');
});

// ─── 2. Config validation ────────────────────────────────────────────────────

t.test('resolveConfig refuses bad travel-time and kitchen settings', async (t) => {
  const bad = (input: unknown, message: RegExp, why: string) =>
    t.throws(() => resolveConfig(input as EngineConfigInput), { name: 'RangeError', message }, why);
  bad({ speedByHour: Array.from({ length: 23 }, () => 1) }, /speedByHour/, '23 hourly factors');
  bad({ speedByHour: Array.from({ length: 25 }, () => 1) }, /speedByHour/, '25 hourly factors');
  bad({ speedByHour: eveningRush(0) }, /speedByHour/, 'a factor of 0');
  bad({ speedByHour: eveningRush(-0.5) }, /speedByHour/, 'a negative factor');
  bad({ speedByHour: eveningRush(3.01) }, /speedByHour/, 'a factor above 3');
  bad({ speedByHour: eveningRush(NaN) }, /speedByHour/, 'a NaN factor');
  bad({ vehicleSpeedMps: { car: 0 } }, /vehicleSpeedMps\.car/, 'a vehicle speed of 0');
  bad({ vehicleSpeedMps: { hovercraft: 10 } }, /vehicleSpeedMps\.hovercraft is not a vehicle/, 'an unknown vehicle');
  bad({ utcOffsetMinutes: -721 }, /utcOffsetMinutes/, 'an offset below −12 h');
  bad({ utcOffsetMinutes: 841 }, /utcOffsetMinutes/, 'an offset above +14 h');
  bad({ utcOffsetMinutes: 330.5 }, /utcOffsetMinutes/, 'a fractional offset');
  bad({ kitchenTiming: 'guessed' }, /kitchenTiming/, 'a kitchen timing that is neither learned nor stated');
  bad({ riderSpeedMps: 0 }, /riderSpeedMps/, 'a default rider speed of 0');

  t.equal(resolveConfig({ utcOffsetMinutes: -300 }).utcOffsetMinutes, -300, 'UTC−5 is accepted');
  t.equal(resolveConfig({ utcOffsetMinutes: -720 }).utcOffsetMinutes, -720, 'UTC−12 is accepted');
  t.equal(resolveConfig({ utcOffsetMinutes: 840 }).utcOffsetMinutes, 840, 'UTC+14 is accepted');
  t.equal(resolveConfig({ speedByHour: eveningRush(3) }).speedByHour[19], 3, 'a factor of exactly 3 is accepted');
  t.equal(resolveConfig({ kitchenTiming: 'stated' }).kitchenTiming, 'stated');
  const c = resolveConfig({ vehicleSpeedMps: { car: 9 } });
  t.same(c.vehicleSpeedMps, { ...D.vehicleSpeedMps, car: 9 }, 'a partial vehicle table keeps the other defaults');
});

// ─── 3. The rider's vehicle ──────────────────────────────────────────────────

t.test('registerRider keeps the vehicle, refuses an unknown one, and the vehicle survives a snapshot', async (t) => {
  const w = world();
  t.ok(w.engine.registerRider({ riderId: rid('c'), vehicle: 'car' }).ok);
  t.ok(w.engine.registerRider({ riderId: rid('n') }).ok);
  const c = w.engine.getRider(rid('c'));
  t.equal(c.ok && c.value.vehicle, 'car', 'getRider shows the car');
  const n = w.engine.getRider(rid('n'));
  t.equal(n.ok && n.value.vehicle, null, 'no vehicle said: null');
  t.match(last(w.events, 'rider_registered', 'c'), { vehicle: 'car', capacity: 1 });
  t.equal(last(w.events, 'rider_registered', 'n')?.vehicle, null);

  const before = w.events.length;
  const refused = w.engine.registerRider({ riderId: rid('h'), vehicle: 'hoverboard' as VehicleType });
  t.equal(refused.ok ? 'ok' : refused.code, 'INVALID_ARGUMENT', 'an unknown vehicle is refused');
  t.equal(w.riderState(rid('h')), 'RIDER_NOT_FOUND', 'and no rider is made');
  t.equal(w.events.length, before, 'nor any event');

  const snap = w.engine.toSnapshot();
  t.equal(snap.riders.find((r) => r.id === 'c')?.vehicle, 'car', 'the snapshot row carries the vehicle');
  for (const s of [snap, JSON.parse(JSON.stringify(snap)) as EngineSnapshot]) {
    const e = Engine.restore(s, { clock: new SimulatedClock(w.clock.now()) });
    const rc = e.getRider(rid('c'));
    t.equal(rc.ok && rc.value.vehicle, 'car', 'restored: still a car');
    const rn = e.getRider(rid('n'));
    t.equal(rn.ok && rn.value.vehicle, null, 'restored: still none');
  }
  healthy(t, w);
});

// ─── 4. Dispatch by vehicle ──────────────────────────────────────────────────

t.test('dispatch offers to the motorcycle over a bicycle as far away, by its modelled ETA', async (t) => {
  for (const [bikeId, motoId] of [
    ['a', 'z'],
    ['z', 'a'],
  ] as const) {
    const w = world();
    const r1 = w.restaurant('r1', CENTRE);
    const bikeAt = near(500, 90);
    const motoAt = near(500, 270);
    riderOn(w, bikeId, 'bicycle', bikeAt);
    riderOn(w, motoId, 'motorcycle', motoAt);
    const o = w.order(r1, { prepMinutes: 0 });
    const offered = last(w.events, 'order_offered', o);
    t.equal(offered?.riderId, motoId, `the motorcycle (${motoId}) gets it, the bicycle is ${bikeId}`);
    t.equal(offered?.pickupEtaS, Math.round(rideS(motoAt, CENTRE, D.vehicleSpeedMps.motorcycle)));
    t.equal(offered?.pickupDistanceM, Math.round(fastDistanceM(motoAt.lat, motoAt.lng, CENTRE.lat, CENTRE.lng)));
    const terms = offered?.trace?.candidates ?? [];
    const bike = terms.find((c) => c.riderId === bikeId);
    const moto = terms.find((c) => c.riderId === motoId);
    close(t, bike?.etaS, rideS(bikeAt, CENTRE, D.vehicleSpeedMps.bicycle), 'the bicycle was scored at 4 m/s');
    close(t, moto?.etaS, rideS(motoAt, CENTRE, D.vehicleSpeedMps.motorcycle), 'the motorcycle at 6 m/s');
    t.equal(bike?.idleBonusS, moto?.idleBonusS, 'same idle bonus');
    t.equal(bike?.acceptancePenaltyS, moto?.acceptancePenaltyS, 'same acceptance penalty');
    t.equal(bike?.headingPenaltyS, 0, 'standing still: no heading penalty');
    healthy(t, w);
  }

  // Farther, yet sooner: 700 m by motorcycle (≈152 s) beats 500 m by bicycle (≈163 s).
  const w = world();
  const r1 = w.restaurant('r1', CENTRE);
  const motoAt = near(700, 180);
  riderOn(w, 'b', 'bicycle', near(500, 0));
  riderOn(w, 'm', 'motorcycle', motoAt);
  const o = w.order(r1, { prepMinutes: 0 });
  t.equal(last(w.events, 'order_offered', o)?.riderId, 'm', 'the farther motorcycle arrives sooner and wins');
  t.equal(
    last(w.events, 'order_offered', o)?.pickupEtaS,
    Math.round(rideS(motoAt, CENTRE, D.vehicleSpeedMps.motorcycle)),
  );
  healthy(t, w);
});

// ─── 5. A custom EtaModel ────────────────────────────────────────────────────

t.test('a custom EtaModel drives the offer ETA, the promise and estimatedArrival', async (t) => {
  const calls: { vehicle: VehicleType | null; at: number }[] = [];
  const fixed: EtaModel = {
    travelS: (_fLat, _fLng, _tLat, _tLng, vehicle, at) => {
      calls.push({ vehicle, at });
      return 123;
    },
  };
  const clock = new SimulatedClock();
  const engine = new Engine({ clock, seed: 7, eta: fixed });
  const events: EngineEvent[] = [];
  engine.subscribe((e) => events.push(e));
  t.equal(engine.eta, fixed, 'engine.eta is the model given');

  t.ok(engine.registerRestaurant({ restaurantId: rest('r1'), location: CENTRE, prepMinutes: 10, capacity: 5 }).ok);
  t.ok(engine.registerRider({ riderId: rid('m'), vehicle: 'motorcycle' }).ok);
  t.ok(engine.riderOnline(rid('m')).ok);
  const at = near(900, 30);
  engine.updateRiderPosition(rid('m'), at.lat, at.lng, 5, NaN, 0, clock.now());

  const placed = engine.placeOrder({
    orderId: oid('o1'),
    customerId: cust('c1'),
    restaurantId: rest('r1'),
    drop: DROP,
    paid: true,
  });
  t.ok(placed.ok);
  const o = oid('o1');
  const t0 = clock.now();
  t.equal(
    last(events, 'order_placed', o)?.promisedAt,
    t0 + 10 * MIN + 123_000 + D.promiseBufferMs,
    'the promise rides 123 s',
  );
  t.ok(engine.restaurantAccept(o, { prepMinutes: 0 }).ok);
  const offered = last(events, 'order_offered', o);
  t.equal(offered?.riderId, 'm');
  t.equal(offered?.pickupEtaS, 123, 'order_offered.pickupEtaS is the model’s');
  t.equal(offered?.trace?.candidates[0]?.etaS, 123, 'and so is the traced score term');
  t.ok(
    calls.some((c) => c.vehicle === 'motorcycle' && c.at === t0),
    'the model was asked for the motorcycle at the dispatch time',
  );
  t.equal(
    engine.estimatedArrival(o),
    t0 + 123_000 + 123_000,
    'offered: 123 s to the pickup (food ready now), 123 s on',
  );
  t.ok(engine.acceptOffer(rid('m'), o).ok);
  clock.advance(10_000);
  t.equal(engine.estimatedArrival(o), t0 + 10_000 + 246_000, 'assigned, 10 s later: from now');
  t.ok(engine.pickedUp(rid('m'), o).ok);
  t.equal(engine.estimatedArrival(o), t0 + 10_000 + 123_000, 'picked up: one ride to the drop');

  // A restored engine asks the model it is given.
  const other: EtaModel = { travelS: () => 77 };
  const restored = Engine.restore(engine.toSnapshot(), { clock: new SimulatedClock(clock.now()), eta: other });
  t.equal(restored.eta, other);
  t.equal(restored.estimatedArrival(o), clock.now() + 77_000, 'the restored engine answers by its own model');
});

// ─── 6. estimatedArrival ─────────────────────────────────────────────────────

t.test(
  'estimatedArrival: null without a positioned rider; by the pickup and readyAt; then straight to the drop',
  async (t) => {
    const w = world();
    const r1 = w.restaurant('r1', CENTRE);
    t.equal(w.engine.estimatedArrival(oid('nope')), null, 'unknown order');
    const waiting = w.order(r1, { prepMinutes: 30 });
    t.equal(w.orderState(waiting), 'preparing');
    t.equal(w.engine.estimatedArrival(waiting), null, 'preparing, no rider');
    const searching = w.order(r1, { prepMinutes: 0 });
    t.equal(w.orderState(searching), 'dispatching.searching', 'no rider anywhere');
    t.equal(w.engine.estimatedArrival(searching), null, 'searching, no rider');
    const placed = w.order(r1, { accept: false });
    t.equal(w.engine.estimatedArrival(placed), null, 'awaiting the restaurant');
    healthy(t, w);
  },
);

t.test('estimatedArrival when the food is the wait: readyAt + ride pickup→drop', async (t) => {
  const w = world();
  const r1 = w.restaurant('r1', CENTRE);
  const a = w.rider('a', near(300, 90)); // no vehicle: riderSpeedMps
  const o = w.order(r1, { prepMinutes: 4 }); // ready in 4 min, dispatched at once (lead 5 min)
  const t0 = w.clock.now();
  const acc = last(w.events, 'order_accepted', o);
  t.equal(acc?.readyAt, t0 + 4 * MIN);
  t.equal(acc?.dispatchAt, t0, 'a 4 min prep is dispatched at once');
  t.equal(w.orderState(o), 'dispatching.offered');
  t.ok(w.engine.acceptOffer(a, o).ok);
  const toPickup = rideS(near(300, 90), CENTRE, D.riderSpeedMps);
  t.ok(toPickup * 1000 < 4 * MIN, 'the rider is there before the food');
  const onward = rideS(CENTRE, DROP, D.riderSpeedMps);
  close(t, w.engine.estimatedArrival(o), t0 + 4 * MIN + onward * 1000, 'readyAt + ride to the drop', 1e-3);
  w.clock.advance(MIN);
  close(t, w.engine.estimatedArrival(o), t0 + 4 * MIN + onward * 1000, 'a minute later, still the food', 1e-3);
  healthy(t, w);
});

t.test('food marked ready earlier than expected: tracking counts from the mark, not the estimate', async (t) => {
  const w = world();
  const r1 = w.restaurant('r1', CENTRE);
  const a = w.rider('a', near(300, 90));
  const o = w.order(r1, { prepMinutes: 30 });
  const t0 = w.clock.now();
  w.clock.runUntil(t0 + 30 * MIN - D.assumedPickupEtaMs - 1);
  w.move(a, near(300, 90)); // a fresh position
  w.clock.advance(1);
  t.equal(w.orderState(o), 'dispatching.offered', 'dispatched assumedPickupEtaMs before the expected 30 min');
  t.ok(w.engine.acceptOffer(a, o).ok);
  w.clock.advance(MIN);
  t.ok(w.engine.foodReady(o, { restaurantId: r1 }).ok, 'the kitchen is early');
  const now = w.clock.now();
  const view = w.engine.getOrder(o);
  t.equal(view.ok ? view.value.readyAt : null, now, 'readyAt is the mark');
  const toPickup = rideS(near(300, 90), CENTRE, D.riderSpeedMps);
  const onward = rideS(CENTRE, DROP, D.riderSpeedMps);
  close(
    t,
    w.engine.estimatedArrival(o),
    Math.max(now + toPickup * 1000, now) + onward * 1000,
    'the ride to the pickup and on, not the 30 min estimate',
    1e-3,
  );
  t.ok(w.engine.estimatedArrival(o)! < t0 + 30 * MIN + onward * 1000, 'earlier than the estimate would say');
  healthy(t, w);
});

t.test(
  'estimatedArrival when the ride is the wait: now + ride to pickup + ride on; after pickup, now + ride to the drop',
  async (t) => {
    const w = world();
    const r1 = w.restaurant('r1', CENTRE);
    const start = near(3000, 180);
    const m = riderOn(w, 'm', 'motorcycle', start);
    const o = w.order(r1, { prepMinutes: 4 });
    const t0 = w.clock.now();
    t.ok(w.engine.acceptOffer(m, o).ok);
    const v = D.vehicleSpeedMps.motorcycle;
    const toPickup = rideS(start, CENTRE, v);
    const onward = rideS(CENTRE, DROP, v);
    t.ok(toPickup * 1000 > 4 * MIN, '3 km by motorcycle is longer than the 4 min prep');
    close(t, w.engine.estimatedArrival(o), t0 + (toPickup + onward) * 1000, 'now + both rides', 1e-3);
    w.clock.advance(30_000);
    close(
      t,
      w.engine.estimatedArrival(o),
      t0 + 30_000 + (toPickup + onward) * 1000,
      'standing still: slips 30 s',
      1e-3,
    );
    const halfway = near(1500, 180);
    t.equal(w.move(m, halfway), PositionStatus.APPLIED);
    const fromHalf = rideS(halfway, CENTRE, v);
    close(t, w.engine.estimatedArrival(o), t0 + 30_000 + (fromHalf + onward) * 1000, 'halfway: from there', 1e-3);

    w.clock.advance(1_000);
    t.equal(w.move(m, CENTRE), PositionStatus.APPLIED);
    t.equal(w.riderState(m), 'online.at_pickup');
    t.ok(w.engine.pickedUp(m, o).ok);
    const along = near(800, 0);
    w.clock.advance(60_000);
    t.equal(w.move(m, along), PositionStatus.APPLIED);
    const now = w.clock.now();
    close(
      t,
      w.engine.estimatedArrival(o),
      now + rideS(along, DROP, v) * 1000,
      'picked up: now + ride to the drop',
      1e-3,
    );
    w.clock.advance(1_000);
    t.equal(w.move(m, DROP), PositionStatus.APPLIED);
    t.ok(w.engine.delivered(m, o).ok);
    t.equal(w.engine.estimatedArrival(o), null, 'delivered: null');
    healthy(t, w);
  },
);

t.test(
  'estimatedArrival times the ride from the pickup at when it leaves (the evening factor applies then)',
  async (t) => {
    // Start 12:00 UTC (17:30 IST); at 18:50 IST accept a 15 min prep: the food is ready at 19:05, in the rush.
    const w = world({ utcOffsetMinutes: 330, speedByHour: eveningRush(0.5), assumedPickupEtaMs: 20 * MIN });
    const r1 = w.restaurant('r1', CENTRE);
    w.clock.advance(ist(18, 50) - w.clock.now());
    const a = w.rider('a', near(300, 90));
    const o = w.order(r1, { prepMinutes: 15 });
    const t0 = w.clock.now();
    t.equal(localHour(t0, 330), 18);
    t.equal(last(w.events, 'order_accepted', o)?.dispatchAt, t0, 'a 20 min lead dispatches at once');
    t.ok(w.engine.acceptOffer(a, o).ok);
    const rush = rideS(CENTRE, DROP, D.riderSpeedMps, 0.5);
    close(t, w.engine.estimatedArrival(o), t0 + 15 * MIN + rush * 1000, 'leaves at 19:05: ride at half speed', 1e-3);
    healthy(t, w);
  },
);

// ─── 7. Kitchen learning ─────────────────────────────────────────────────────

t.test('a kitchen 6 min slower than it says: learned after 3 marks, the 4th order expects 16 min', async (t) => {
  const w = world(); // kitchenTiming 'learned' by default
  t.equal(w.engine.config.kitchenTiming, 'learned');
  const r1 = w.restaurant('r1', CENTRE, 10);
  for (let i = 1; i <= 3; i++) {
    const o = w.order(r1, { id: `o${i}`, prepMinutes: 10 });
    const tAcc = w.clock.now();
    t.match(last(w.events, 'order_accepted', o), {
      prepMinutes: 10,
      readyAt: tAcc + 10 * MIN,
      dispatchAt: tAcc + 10 * MIN - D.assumedPickupEtaMs,
    });
    w.clock.advance(16 * MIN);
    t.ok(w.engine.foodReady(o).ok);
    const learned = all(w.events, 'restaurant_kitchen_learned', r1);
    t.equal(learned.length, i, `mark ${i}: one learned event each`);
    t.equal(learned.at(-1)?.prepSamples, i);
    close(t, learned.at(-1)?.prepBiasMinutes, 6, `mark ${i}: 6 min late`);
    t.equal(learned.at(-1)?.pickupEtaSamples, 0, 'no offers yet: no pickup ETA');
    t.equal(learned.at(-1)?.at, tAcc + 16 * MIN);
  }
  const o4 = w.order(r1, { id: 'o4', prepMinutes: 10 });
  const t4 = w.clock.now();
  t.match(last(w.events, 'order_accepted', o4), {
    prepMinutes: 10,
    readyAt: t4 + 16 * MIN,
    dispatchAt: t4 + 16 * MIN - D.assumedPickupEtaMs,
  });
  const o5 = w.order(r1, { id: 'o5', prepMinutes: 25 });
  t.equal(last(w.events, 'order_accepted', o5)?.readyAt, t4 + 31 * MIN, 'the bias adds to whatever is stated');
  const row = w.engine.snapshotRow('restaurant', r1);
  t.match(row, { kitchen: [6, 3, 0, 0] }, 'the snapshot row carries what was learned');
  healthy(t, w);
});

t.test('the prep bias is an exponentially weighted mean of the marks', async (t) => {
  const w = world();
  const r1 = w.restaurant('r1', CENTRE, 10);
  const lateBy = [6, 3, 9, -2];
  for (const [i, late] of lateBy.entries()) {
    const o = w.order(r1, { id: `o${i}`, prepMinutes: 10 });
    w.clock.advance((10 + late) * MIN);
    t.ok(w.engine.foodReady(o).ok);
    close(
      t,
      last(w.events, 'restaurant_kitchen_learned', r1)?.prepBiasMinutes,
      ewma(lateBy.slice(0, i + 1)),
      `after ${i + 1}`,
    );
  }
  const bias = ewma(lateBy);
  const o = w.order(r1, { id: 'next', prepMinutes: 12 });
  const tn = w.clock.now();
  t.equal(
    last(w.events, 'order_accepted', o)?.readyAt,
    tn + Math.round((12 + bias) * MIN),
    '12 min + the learned mean',
  );
  healthy(t, w);
});

t.test('a food-ready mark more than 60 min off teaches nothing; exactly 60 does', async (t) => {
  const w = world({ dispatchGiveUpMs: 3 * 3_600_000 });
  const r1 = w.restaurant('r1', CENTRE, 10);
  const early = w.order(r1, { id: 'early', prepMinutes: 90 });
  w.clock.advance(9 * MIN); // 81 min early
  t.ok(w.engine.foodReady(early).ok);
  t.ok(last(w.events, 'order_food_ready', early), 'the mark itself is taken');
  t.equal(all(w.events, 'restaurant_kitchen_learned', r1).length, 0, '81 min early: nothing learned');
  const row0 = w.engine.snapshotRow('restaurant', r1);
  t.ok(row0 !== undefined && !('kitchen' in row0), 'no samples: no kitchen in the row');

  const late = w.order(r1, { id: 'late', prepMinutes: 0 });
  const edge = w.order(r1, { id: 'edge', prepMinutes: 0 });
  w.clock.advance(60 * MIN);
  t.ok(w.engine.foodReady(edge).ok);
  t.match(
    all(w.events, 'restaurant_kitchen_learned', r1),
    [{ prepSamples: 1, prepBiasMinutes: 60 }],
    '60 min off is learned',
  );
  w.clock.advance(1);
  t.ok(w.engine.foodReady(late).ok);
  t.ok(last(w.events, 'order_food_ready', late), 'the late mark is taken');
  t.equal(all(w.events, 'restaurant_kitchen_learned', r1).length, 1, '60 min + 1 ms late: no event');
  t.match(w.engine.snapshotRow('restaurant', r1), { kitchen: [60, 1, 0, 0] }, 'samples unchanged');
  healthy(t, w);
});

/**
 * Three orders at `r1` (stated 10 min) through a rider each: rider i, alone and
 * idle at distance DIST[i] from the centre, is offered order i when it becomes
 * dispatchable and accepts; its food is marked ready 16 min after acceptance.
 * Answers the pickup ETAs (s) the offers should have been made at.
 */
const DIST = [600, 1500, 300] as const;
function history(w: World, r1: ReturnType<World['restaurant']>): number[] {
  const etas: number[] = [];
  DIST.forEach((m, i) => {
    const at = near(m, 120 * i);
    const r = w.rider(`rh${i}`, at);
    const o = w.order(r1, { id: `oh${i}`, prepMinutes: 10 });
    const acc = last(w.events, 'order_accepted', o)!;
    w.clock.runUntil(acc.dispatchAt - 1);
    w.move(r, at); // fresh for the search
    w.clock.runUntil(acc.dispatchAt);
    const offered = last(w.events, 'order_offered', o);
    if (offered?.riderId !== r) throw new Error(`order ${o} was not offered to ${r}`);
    if (!w.engine.acceptOffer(r, o).ok) throw new Error(`${r} could not accept`);
    etas.push(rideS(at, CENTRE, D.riderSpeedMps));
    w.clock.runUntil(acc.at + 16 * MIN);
    if (!w.engine.foodReady(o).ok) throw new Error(`food of ${o} not marked`);
  });
  return etas;
}

t.test('with kitchenTiming stated the same history changes nothing', async (t) => {
  const w = world({ kitchenTiming: 'stated' });
  const r1 = w.restaurant('r1', CENTRE, 10);
  const etas = history(w, r1);
  const learned = last(w.events, 'restaurant_kitchen_learned', r1);
  t.match(learned, { prepSamples: 3, pickupEtaSamples: 3 }, 'the history was recorded');
  close(t, learned?.pickupEtaS, ewma(etas), 'pickup ETAs recorded');
  const o = w.order(r1, { id: 'after', prepMinutes: 10 });
  const t4 = w.clock.now();
  t.match(last(w.events, 'order_accepted', o), {
    readyAt: t4 + 10 * MIN,
    dispatchAt: t4 + 10 * MIN - D.assumedPickupEtaMs,
  });
  const placedAt = last(w.events, 'order_placed', o)!.at;
  t.equal(
    last(w.events, 'order_placed', o)?.promisedAt,
    placedAt + Math.round(10 * MIN + rideS(CENTRE, DROP, D.riderSpeedMps) * 1000 + D.promiseBufferMs),
    'the promise also takes the stated prep',
  );
  healthy(t, w);
});

// ─── 8. Learned pickup lead ──────────────────────────────────────────────────

t.test('after 3 offered orders the dispatch lead is the learned pickup ETA, not assumedPickupEtaMs', async (t) => {
  // Each order is offered once, accepted, and its food marked ready at once (prep 0, so 0 min late): whether the
  // pickup ETA is taken at the offer or at the mark, three orders give the same three samples.
  const w = world();
  const r1 = w.restaurant('r1', CENTRE, 10);
  const etas: number[] = [];
  const probe = (id: string) => {
    const o = w.order(r1, { id, prepMinutes: 30 });
    const acc = last(w.events, 'order_accepted', o)!;
    t.ok(w.engine.cancelOrder({ orderId: o, by: 'restaurant' }).ok, 'the probe is withdrawn');
    return acc;
  };
  DIST.forEach((m, i) => {
    if (i === 2) {
      const two = probe('probe2');
      t.equal(two.dispatchAt, two.readyAt - D.assumedPickupEtaMs, 'after 2 orders: still the assumed lead');
    }
    const at = near(m, 90 + 100 * i);
    const r = w.rider(`p${i}`, at);
    const o = w.order(r1, { id: `p${i}`, prepMinutes: 0 });
    const offered = last(w.events, 'order_offered', o);
    t.equal(offered?.riderId, r, `offer ${i + 1} to the only idle rider`);
    const eta = rideS(at, CENTRE, D.riderSpeedMps);
    t.equal(offered?.pickupEtaS, Math.round(eta));
    etas.push(eta);
    t.ok(w.engine.acceptOffer(r, o).ok);
    t.ok(w.engine.foodReady(o).ok);
    const learned = last(w.events, 'restaurant_kitchen_learned', r1);
    t.equal(learned?.pickupEtaSamples, i + 1, `mark ${i + 1}: ${i + 1} pickup ETA samples`);
    close(t, learned?.pickupEtaS, ewma(etas), `mark ${i + 1}: first sample, then x += 0.2·(s − x)`);
    t.equal(learned?.prepBiasMinutes, 0, 'ready as stated: no prep bias');
  });
  const lead = ewma(etas);
  t.ok(Math.abs(lead * 1000 - D.assumedPickupEtaMs) > 60_000, `the learned lead (${lead} s) is not the assumed 300 s`);
  const acc = probe('probe3');
  const t3 = w.clock.now();
  t.equal(acc.readyAt, t3 + 30 * MIN, 'no prep bias: readyAt as stated');
  t.equal(acc.dispatchAt, acc.readyAt - Math.round(lead * 1000), 'readyAt − learned pickup ETA');
  healthy(t, w);
});

// ─── 9. Learned kitchen across snapshot/restore ──────────────────────────────

t.test('the learned kitchen survives snapshot/restore: side by side, the same readyAt and dispatchAt', async (t) => {
  const w = world();
  const r1 = w.restaurant('r1', CENTRE, 10);
  const etas = history(w, r1);
  const lead = Math.round(ewma(etas) * 1000);

  const snap = JSON.parse(JSON.stringify(w.engine.toSnapshot())) as EngineSnapshot;
  const kitchen = snap.restaurants.find((r) => r.id === 'r1')?.kitchen;
  t.equal(kitchen?.[0], 6, 'the snapshot holds the bias');
  t.equal(kitchen?.[1], 3, 'its samples');
  close(t, kitchen?.[2], ewma(etas), 'the pickup ETA');
  t.equal(kitchen?.[3], 3, 'its samples');
  const clockB = new SimulatedClock(w.clock.now());
  const b = Engine.restore(snap, { clock: clockB });
  const eventsB: EngineEvent[] = [];
  b.subscribe((e) => eventsB.push(e));

  // A control with no history: the values below are what learning changed.
  const fresh = world();
  const f1 = fresh.restaurant('r1', CENTRE, 10);

  w.clock.advance(MIN);
  clockB.advance(MIN);
  fresh.clock.advance(MIN);
  const run = (e: Engine, id: string) => {
    const placed = e.placeOrder({
      orderId: oid(id),
      customerId: cust('c1'),
      restaurantId: rest('r1'),
      drop: DROP,
      paid: true,
    });
    if (!placed.ok) throw new Error(placed.detail);
    const acc = e.restaurantAccept(oid(id), { prepMinutes: 10 });
    if (!acc.ok) throw new Error(acc.detail);
  };
  run(w.engine, 'n1');
  run(b, 'n1');
  const accA = last(w.events, 'order_accepted', 'n1');
  const accB = last(eventsB, 'order_accepted', 'n1');
  const now = w.clock.now();
  t.equal(clockB.now(), now);
  t.equal(accA?.readyAt, now + 16 * MIN, 'original: stated 10 + learned 6');
  t.equal(accA?.dispatchAt, now + 16 * MIN - lead, 'original: the learned lead');
  t.equal(accB?.readyAt, accA?.readyAt, 'restored: same readyAt');
  t.equal(accB?.dispatchAt, accA?.dispatchAt, 'restored: same dispatchAt');
  t.equal(
    last(eventsB, 'order_placed', 'n1')?.promisedAt,
    last(w.events, 'order_placed', 'n1')?.promisedAt,
    'same promise',
  );

  fresh.order(f1, { id: 'n1', prepMinutes: 10 });
  const accF = last(fresh.events, 'order_accepted', 'n1');
  t.equal(accF && accF.readyAt - accF.at, 10 * MIN, 'without the history: the stated 10 min');
  t.equal(accF && accF.readyAt - accF.dispatchAt, D.assumedPickupEtaMs, 'and the assumed lead');

  // Learning goes on alike in both: one more mark 11 min late.
  w.clock.advance(21 * MIN);
  clockB.advance(21 * MIN);
  t.ok(w.engine.foodReady(oid('n1')).ok);
  t.ok(b.foodReady(oid('n1')).ok);
  const la = last(w.events, 'restaurant_kitchen_learned', 'r1');
  const lb = last(eventsB, 'restaurant_kitchen_learned', 'r1');
  t.equal(la?.prepSamples, 4);
  close(t, la?.prepBiasMinutes, ewma([6, 6, 6, 11]), 'the 4th mark moves the bias by a fifth');
  t.same(lb, la, 'the restored engine learned the same (seq included: it went on from the snapshot)');
  t.same(checkInvariants(b), [], 'restored invariants hold');
  healthy(t, w);
});

// ─── 10. The promise ─────────────────────────────────────────────────────────

t.test('the promise: placedAt + stated prep + ride + buffer; + the learned bias once learned; capped', async (t) => {
  const ride = rideS(CENTRE, DROP, D.riderSpeedMps) * 1000;
  const promise = (prepMin: number, cap = D.promiseMs) =>
    Math.min(cap, Math.round(prepMin * MIN + ride + D.promiseBufferMs));

  const w = world();
  const r1 = w.restaurant('r1', CENTRE, 12); // the restaurant states 12; its orders are accepted at 10
  const first = w.order(r1, { id: 'first', accept: false });
  const p0 = last(w.events, 'order_placed', first)!;
  t.equal(p0.promisedAt, p0.at + promise(12), 'stated 12 min + ride + buffer');
  const view = w.engine.getOrder(first);
  t.equal(view.ok && view.value.promisedAt, p0.promisedAt, 'the order view shows it');
  t.ok(w.engine.restaurantReject(first).ok);

  history(w, r1);
  const after = w.order(r1, { id: 'after', accept: false });
  const p1 = last(w.events, 'order_placed', after)!;
  t.equal(p1.promisedAt, p1.at + promise(12 + 6), 'stated 12 + learned 6');

  // Capped: 32 min lets the unlearned promise (≈29.9 min) through and stops the learned one (≈35.9).
  const cap = 32 * MIN;
  const c = world({ promiseMs: cap });
  const c1 = c.restaurant('r1', CENTRE, 12);
  const before = c.order(c1, { id: 'before', accept: false });
  const pb = last(c.events, 'order_placed', before)!;
  t.ok(promise(12) < cap, 'the unlearned promise is under the cap');
  t.equal(pb.promisedAt, pb.at + promise(12), 'under the cap: as computed');
  t.ok(c.engine.restaurantReject(before).ok);
  history(c, c1);
  const capped = c.order(c1, { id: 'capped', accept: false });
  const pc = last(c.events, 'order_placed', capped)!;
  t.ok(Math.round(18 * MIN + ride + D.promiseBufferMs) > cap, 'the learned promise would pass the cap');
  t.equal(pc.promisedAt, pc.at + cap, 'capped at promiseMs');
  healthy(t, w);
  healthy(t, c);
});

t.test('the promise times the ride at when the food should be ready', async (t) => {
  const w = world({ utcOffsetMinutes: 330, speedByHour: eveningRush(0.5) });
  const r1 = w.restaurant('r1', CENTRE, 15);
  w.clock.advance(ist(18, 40) - w.clock.now());
  const calm = w.order(r1, { id: 'calm', accept: false }); // ready 18:55
  w.clock.advance(10 * MIN);
  const rush = w.order(r1, { id: 'rush', accept: false }); // ready 19:05
  const pCalm = last(w.events, 'order_placed', calm)!;
  const pRush = last(w.events, 'order_placed', rush)!;
  const expect = (traffic: number) =>
    Math.round(15 * MIN + rideS(CENTRE, DROP, D.riderSpeedMps, traffic) * 1000 + D.promiseBufferMs);
  t.equal(pCalm.promisedAt, pCalm.at + expect(1), 'placed 18:40, leaves 18:55: factor 1');
  t.equal(pRush.promisedAt, pRush.at + expect(0.5), 'placed 18:50, leaves 19:05: factor 0.5');
  healthy(t, w);
});
