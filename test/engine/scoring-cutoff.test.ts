import fc from 'fast-check';
import t from 'tap';
import { RingSearch } from '../../engine/dispatch/ring-search.js';
import {
  defaultEngineConfig,
  fastDistanceM,
  offsetM,
  StraightLineEta,
  type EngineEvent,
  type RiderId,
} from '../../engine/index.js';
import { VEHICLE_TYPES, type VehicleType } from '../../protocol/index.js';
import { near, world } from './world.js';

/**
 * The search passes over a rider whose search row already puts a floor of its score above the worst
 * of the best few, and stops scoring a rider once the terms it has exceed it (the heading penalty
 * is left out): the offers and every decision trace must be exactly those of scoring every rider in
 * full.
 */

interface Scene {
  riders: {
    m: number;
    bearing: number;
    heading: number;
    speed: number;
    onlineAfterMs: number;
    vehicle: VehicleType | null;
    /** A second fix a moment later, where it is: the index holds it then, so only its row is updated. */
    then: { heading: number; speed: number } | null;
  }[];
  orders: { declines: number }[];
}

const scene: fc.Arbitrary<Scene> = fc.record({
  riders: fc.array(
    fc.record({
      m: fc.integer({ min: 0, max: 300 }),
      bearing: fc.integer({ min: 0, max: 359 }),
      heading: fc.integer({ min: -1, max: 359 }),
      speed: fc.integer({ min: 0, max: 12 }),
      onlineAfterMs: fc.integer({ min: 0, max: 60_000 }),
      vehicle: fc.constantFrom(null, ...VEHICLE_TYPES),
      then: fc.option(
        fc.record({ heading: fc.integer({ min: -1, max: 359 }), speed: fc.integer({ min: 0, max: 12 }) }),
      ),
    }),
    { minLength: 1, maxLength: 60 },
  ),
  orders: fc.array(fc.record({ declines: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 6 }),
});

/** The engine's events for a scene: riders moving at random headings, orders offered, some declined. */
function play(s: Scene): EngineEvent[] {
  const w = world();
  const rest = w.restaurant();
  // Online at different times (so their idle bonuses differ), then all positioned now (so all fresh).
  s.riders.forEach((r, i) => {
    w.clock.advance(r.onlineAfterMs);
    w.engine.registerRider({ riderId: `r${i}` as RiderId, ...(r.vehicle ? { vehicle: r.vehicle } : {}) });
    w.engine.riderOnline(`r${i}` as RiderId);
  });
  s.riders.forEach((r, i) => {
    const at = near(r.m, r.bearing);
    const heading = r.heading < 0 ? NaN : r.heading;
    w.engine.updateRiderPosition(`r${i}` as RiderId, at.lat, at.lng, 5, heading, r.speed, w.clock.now());
  });
  w.clock.advance(1_000);
  s.riders.forEach((r, i) => {
    if (r.then === null) return;
    const at = near(r.m, r.bearing);
    const heading = r.then.heading < 0 ? NaN : r.then.heading;
    w.engine.updateRiderPosition(`r${i}` as RiderId, at.lat, at.lng, 5, heading, r.then.speed, w.clock.now());
  });
  for (const o of s.orders) {
    const order = w.order(rest);
    for (let d = 0; ; d++) {
      const offer = [...w.events].reverse().find((e) => e.type === 'order_offered' && e.id === order);
      if (offer?.type !== 'order_offered' || w.orderState(order) !== 'dispatching.offered') break;
      if (d < o.declines) w.engine.declineOffer(offer.riderId, order);
      else {
        w.engine.acceptOffer(offer.riderId, order);
        break;
      }
    }
  }
  return w.events;
}

t.test('offers and traces are those of scoring every rider in full', async (t) => {
  const proto = RingSearch.prototype;
  const cutting = Object.getOwnPropertyDescriptor(proto, 'cutoff')!.value as RingSearch['cutoff'];
  // No cutoff: no rider passed over from its row, every rider scored in full.
  const full: RingSearch['cutoff'] = () => Infinity;
  let offers = 0;
  try {
    fc.assert(
      fc.property(scene, (s) => {
        proto.cutoff = cutting;
        const cut = play(s);
        proto.cutoff = full;
        const whole = play(s);
        offers += cut.filter((e) => e.type === 'order_offered').length;
        return JSON.stringify(cut) === JSON.stringify(whole);
      }),
      { numRuns: 150 },
    );
  } finally {
    proto.cutoff = cutting;
  }
  t.ok(offers > 150, `${offers} offers compared`);
});

t.test("a search scores each rider from its search row exactly as from the rider's record", async (t) => {
  // A trace's candidates keep the score the search worked out (from the cell's rows), and each term
  // of it worked out again from the rider's record: a row behind its rider (a speed, heading or
  // vehicle not copied) shows as a sum that differs, to the last bit.
  let candidates = 0;
  fc.assert(
    fc.property(scene, (s) => {
      for (const e of play(s)) {
        if (e.type !== 'order_offered') continue;
        for (const c of e.trace?.candidates ?? []) {
          candidates++;
          if (c.score !== c.etaS - c.idleBonusS + c.acceptancePenaltyS + c.headingPenaltyS) return false;
        }
      }
      return true;
    }),
    { numRuns: 150 },
  );
  t.ok(candidates > 500, `${candidates} candidates compared`);
});

t.test("the straight-line model's floor is under every vehicle's ETA, at every hour", async (t) => {
  const eta = new StraightLineEta(() => defaultEngineConfig);
  fc.assert(
    fc.property(
      fc.integer({ min: -60_000_000, max: 60_000_000 }),
      fc.integer({ min: -179_000_000, max: 179_000_000 }),
      fc.integer({ min: 0, max: 20_000 }),
      fc.integer({ min: 0, max: 359 }),
      fc.constantFrom(null, ...VEHICLE_TYPES),
      fc.integer({ min: 1, max: 2_000_000_000_000 }),
      (lat, lng, m, bearing, vehicle, at) => {
        const from = { lat: lat / 1e6, lng: lng / 1e6 };
        const to = offsetM(from.lat, from.lng, bearing, m);
        const d = fastDistanceM(from.lat, from.lng, to.lat, to.lng);
        return d * eta.minSecondsPerMetre(at) <= eta.travelS(from.lat, from.lng, to.lat, to.lng, vehicle, at);
      },
    ),
    { numRuns: 2_000 },
  );
  t.pass();
});
