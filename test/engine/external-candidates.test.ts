import t from 'tap';
import fc from 'fast-check';
import {
  Engine,
  SimulatedClock,
  checkInvariants,
  type EngineConfigInput,
  defaultEngineConfig as D,
  offsetM,
  type CandidateRequest,
  type EngineEvent,
  type MatchInfo,
  type OrderId,
} from '../../engine/index.js';
import { CENTRE, cust, near, rest, rid, world } from './world.js';

/**
 * External candidates mode: the engine asks a source outside it for
 * candidates and scores exactly the riders it names, with its own scoring.
 * The benchmark's baselines (Redis GEO, PostGIS) replace candidate finding
 * through it, so it must offer what the ring search would have offered.
 */

function externalWorld(config: EngineConfigInput = {}) {
  const clock = new SimulatedClock();
  const requests: CandidateRequest[] = [];
  const events: EngineEvent[] = [];
  const matches: MatchInfo[] = [];
  const errors: unknown[] = [];
  let throwing = false;
  const engine = new Engine({
    clock,
    config,
    seed: 7,
    onMatch: (m) => matches.push(m),
    logger: { error: (m, d) => errors.push([m, d]) },
    externalCandidates: (req) => {
      requests.push(req);
      if (throwing) throw new Error('source down');
    },
  });
  engine.subscribe((e) => events.push(e));
  engine.registerRestaurant({ restaurantId: rest('r1'), location: CENTRE, prepMinutes: 10, capacity: 50 });
  const rider = (id: string, at = near(300)) => {
    engine.registerRider({ riderId: rid(id) });
    engine.riderOnline(rid(id));
    engine.updateRiderPosition(rid(id), at.lat, at.lng, 5, NaN, 0, clock.now());
    return rid(id);
  };
  const order = () => {
    const placed = engine.placeOrder({
      customerId: cust('c1'),
      restaurantId: rest('r1'),
      drop: near(2000, 0),
      paid: true,
    });
    if (!placed.ok) throw new Error(placed.detail);
    engine.restaurantAccept(placed.value, { prepMinutes: 0 });
    return placed.value;
  };
  const state = (o: OrderId) => {
    const v = engine.getOrder(o);
    return v.ok ? v.value.state : v.code;
  };
  return {
    clock,
    engine,
    requests,
    events,
    matches,
    errors,
    rider,
    order,
    state,
    setThrowing: (b: boolean) => (throwing = b),
  };
}

const offersOf = (events: EngineEvent[]) =>
  events.filter((e): e is Extract<EngineEvent, { type: 'order_offered' }> => e.type === 'order_offered');

t.test('a dispatchable order asks the source instead of searching, and waits', async (t) => {
  const w = externalWorld();
  w.rider('a', near(100));
  const o = w.order();
  t.equal(w.requests.length, 1);
  t.same(w.requests[0], {
    orderId: o,
    pickup: CENTRE,
    exclude: [],
    maxDistanceM: D.maxPickupDistanceM,
    at: w.clock.now(),
  });
  t.equal(
    w.state(o),
    'dispatching.searching',
    'no ring search: the nearby rider is not offered until the source answers',
  );
  t.equal(offersOf(w.events).length, 0);
  t.notOk(
    w.events.some((e) => e.type === 'order_no_rider'),
    'asking is not a failed search',
  );
  const res = w.engine.offerFromCandidates(o, ['a']);
  t.same(res, { ok: true, value: 'a' });
  t.equal(w.state(o), 'dispatching.offered');
  t.equal(w.matches[0]!.ring, -1, 'the match says its candidates came from outside');
  t.equal(w.matches[0]!.candidates, 1);
  t.same(checkInvariants(w.engine), []);
});

t.test('the offer is the one the ring search makes over the same riders (same scoring, same event)', async (t) => {
  // Riders at random places, some moving with headings, some idle longer: both engines see the same commands. The
  // ring search stops once it has minCandidates; here it must see every rider (all within maxRing), as the source does.
  const config = { minCandidates: 1_000 };
  const riderArb = fc.record({
    m: fc.integer({ min: 0, max: 3_000 }),
    bearing: fc.integer({ min: 0, max: 359 }),
    heading: fc.integer({ min: 0, max: 359 }),
    speed: fc.constantFrom(0, 4, 8),
    idleS: fc.integer({ min: 0, max: 600 }),
  });
  fc.assert(
    fc.property(fc.array(riderArb, { minLength: 1, maxLength: 12 }), (riders) => {
      const a = world(config);
      const b = externalWorld(config);
      a.restaurant();
      riders.forEach((r, i) => {
        for (const x of [a, b]) {
          const id = rid(`r${i}`);
          x.engine.registerRider({ riderId: id });
          x.engine.riderOnline(id);
        }
        a.clock.advance(r.idleS * 1000);
        b.clock.advance(r.idleS * 1000);
      });
      riders.forEach((r, i) => {
        const p = offsetM(CENTRE.lat, CENTRE.lng, r.bearing, r.m);
        a.engine.updateRiderPosition(rid(`r${i}`), p.lat, p.lng, 5, r.heading, r.speed, a.clock.now());
        b.engine.updateRiderPosition(rid(`r${i}`), p.lat, p.lng, 5, r.heading, r.speed, b.clock.now());
      });
      const oa = a.order(rest('r1'));
      const ob = b.order();
      b.engine.offerFromCandidates(
        ob,
        riders.map((_, i) => `r${i}`),
      );
      // The trace names the ring a search stopped at; an external source's candidates have none (-1).
      const noRing = ({ seq: _s, trace, ...e }: ReturnType<typeof offersOf>[number]) => ({
        ...e,
        trace: trace && { ...trace, ring: 0 },
      });
      const ea = offersOf(a.events).map(noRing);
      const eb = offersOf(b.events).map(noRing);
      t.same(eb, ea, `${riders.length} riders`);
      return oa === ob;
    }),
    { numRuns: 150, seed: 42 },
  );
});

t.test('riders who would not do are skipped: busy, stale, passed, too far, unknown', async (t) => {
  const w = externalWorld();
  const busy = w.rider('busy', near(50));
  const o1 = w.order();
  w.engine.offerFromCandidates(o1, [busy]);
  t.equal(w.engine.isRiderAvailable(busy), false, 'offered: not available');
  w.rider('far', near(D.maxPickupDistanceM + 500));
  const stale = w.rider('stale', near(80));
  w.clock.advance(D.positionStaleMs + 1);
  w.rider('fresh', near(2_000));
  const o2 = w.order();
  const res = w.engine.offerFromCandidates(o2, ['nobody', busy, 'far', stale, 'fresh']);
  t.same(res, { ok: true, value: 'fresh' });
  t.equal(w.matches.at(-1)!.candidates, 1, 'only the fresh rider counted');

  // Passed: the decliner is excluded from the next request and skipped if named anyway.
  const n = w.requests.length;
  w.engine.declineOffer(rid('fresh'), o2);
  t.equal(w.requests.length, n + 1, 'a decline asks again');
  t.same(w.requests.at(-1)!.exclude, ['fresh']);
  w.engine.updateRiderPosition(stale, near(80).lat, near(80).lng, 5, NaN, 0, w.clock.now());
  t.same(w.engine.offerFromCandidates(o2, ['fresh', stale]), { ok: true, value: 'stale' });
  t.same(checkInvariants(w.engine), []);
});

t.test(
  'no usable candidate: a failed search, then the retry asks again; past give-up the order is cancelled',
  async (t) => {
    const w = externalWorld();
    const o = w.order();
    t.same(w.engine.offerFromCandidates(o, []), { ok: true, value: null });
    t.equal(w.events.filter((e) => e.type === 'order_no_rider').length, 1, 'the same event as an empty ring search');
    t.equal(w.requests.length, 1);
    w.clock.advance(D.dispatchRetryMs);
    t.equal(w.requests.length, 2, 'the retry asks the source again');
    // A source that never answers: the retry deadline keeps asking, and the give-up time still holds.
    w.clock.advance(D.dispatchGiveUpMs);
    t.equal(w.state(o), 'cancelled');
    const cancelled = w.events.find((e) => e.type === 'order_cancelled');
    t.match(cancelled, { reason: 'no_rider', by: 'system' });
    t.ok(w.requests.length > 2);
    t.same(w.engine.offerFromCandidates(o, ['x']).ok, false, 'an answer after the order ended is refused');
  },
);

t.test('answers for orders that are not searching are coded refusals', async (t) => {
  const w = externalWorld();
  w.rider('a', near(100));
  t.match(w.engine.offerFromCandidates('nope' as OrderId, ['a']), { ok: false, code: 'ORDER_NOT_FOUND' });
  const o = w.order();
  w.engine.offerFromCandidates(o, ['a']);
  t.match(
    w.engine.offerFromCandidates(o, ['a']),
    { ok: false, code: 'ORDER_INVALID_TRANSITION' },
    'a second answer for an offered order',
  );
  t.equal(offersOf(w.events).length, 1, 'never two live offers');
});

t.test('a throwing source is reported and the order retries', async (t) => {
  const w = externalWorld();
  w.rider('a', near(100));
  w.setThrowing(true);
  const o = w.order();
  t.equal(w.errors.length, 1);
  t.equal(w.state(o), 'dispatching.searching');
  w.setThrowing(false);
  w.clock.advance(D.dispatchRetryMs);
  t.equal(w.requests.length, 2);
  t.same(w.engine.offerFromCandidates(o, ['a']), { ok: true, value: 'a' });
});

t.test('isRiderAvailable follows the available index', async (t) => {
  const w = externalWorld();
  const id = rid('a');
  w.engine.registerRider({ riderId: id });
  t.equal(w.engine.isRiderAvailable(id), false, 'registered');
  w.engine.riderOnline(id);
  t.equal(w.engine.isRiderAvailable(id), false, 'online without a position');
  w.engine.updateRiderPosition(id, near(100).lat, near(100).lng, 5, NaN, 0, w.clock.now());
  t.equal(w.engine.isRiderAvailable(id), true, 'positioned');
  w.engine.riderDisconnected(id);
  t.equal(w.engine.isRiderAvailable(id), false, 'disconnected');
  w.engine.riderReconnected(id);
  const o = w.order();
  w.engine.offerFromCandidates(o, [id]);
  t.equal(w.engine.isRiderAvailable(id), false, 'offered');
  w.engine.acceptOffer(id, o);
  w.engine.pickedUp(id, o);
  w.engine.delivered(id, o);
  t.equal(w.engine.isRiderAvailable(id), true, 'idle again after delivery');
  t.equal(w.engine.isRiderAvailable(rid('ghost')), false);
});
