import t from 'tap';
import fc from 'fast-check';
import {
  Engine,
  SimulatedClock,
  defaultEngineConfig,
  fastDistanceM,
  resolveConfig,
  riderPayout,
  type PayoutRates,
} from '../../engine/index.js';
import { near, world } from './world.js';

/**
 * Rider payout: a pure function of the rates and the two legs' distances,
 * fixed at the offer, carried on `order_offered` and kept on the order until
 * delivery (and through a snapshot).
 */

const rates = fc.record({
  baseFeePaise: fc.nat(100_000),
  perKmPaise: fc.nat(10_000),
  pickupPerKmPaise: fc.nat(10_000),
}) as fc.Arbitrary<PayoutRates>;
const metres = fc.double({ min: 0, max: 50_000, noNaN: true });
const detour = fc.double({ min: 1, max: 3, noNaN: true });

t.test('payout is a non-negative integer number of paise', async () => {
  fc.assert(
    fc.property(rates, metres, metres, detour, (r, d, p, f) => {
      const x = riderPayout(r, d, p, f);
      return Number.isSafeInteger(x) && x >= 0 && x >= r.baseFeePaise;
    }),
  );
});

t.test('payout never falls when either leg gets longer', async () => {
  fc.assert(
    fc.property(rates, metres, metres, metres, metres, detour, (r, d, p, more1, more2, f) => {
      const base = riderPayout(r, d, p, f);
      return (
        riderPayout(r, d + more1, p, f) >= base &&
        riderPayout(r, d, p + more2, f) >= base &&
        riderPayout(r, d + more1, p + more2, f) >= base
      );
    }),
  );
});

t.test('payout: the defaults, and an unknown distance pays the base fee', async (t) => {
  const r = defaultEngineConfig.payout;
  // ₹25 + 2 km × 1.3 × ₹8 + 0.5 km × 1.3 × ₹3 = 2500 + 2080 + 195 paise.
  t.equal(riderPayout(r, 2_000, 500, 1.3), 4_775);
  t.equal(riderPayout(r, NaN, -5, 1.3), r.baseFeePaise);
  t.equal(
    riderPayout({ baseFeePaise: 0, perKmPaise: 0, pickupPerKmPaise: 0 }, 9_000, 9_000, 1.3),
    0,
    'free jobs are allowed',
  );
});

t.test('config: payout rates overlay the defaults and must be integer paise ≥ 0', async (t) => {
  t.same(resolveConfig({ payout: { perKmPaise: 1_000 } }).payout, { ...defaultEngineConfig.payout, perKmPaise: 1_000 });
  t.ok(Object.isFrozen(resolveConfig({}).payout), 'frozen');
  for (const bad of [-1, 1.5, NaN, Infinity]) {
    t.throws(() => resolveConfig({ payout: { baseFeePaise: bad } }), RangeError, `baseFeePaise ${bad}`);
  }
  t.throws(
    () => new Engine({ clock: new SimulatedClock(), config: { payout: { pickupPerKmPaise: -3 } } }),
    /payout\.pickupPerKmPaise/,
  );
});

t.test('the offer carries the payout; the order keeps it through delivery, and a snapshot keeps it', async (t) => {
  const payout = { baseFeePaise: 3_000, perKmPaise: 1_000, pickupPerKmPaise: 500 };
  const w = world({ payout });
  const rest = w.restaurant();
  const r = w.rider('p1', near(400));
  const o = w.order(rest);
  const offered = w.events.find((e) => e.type === 'order_offered');
  if (offered?.type !== 'order_offered') return t.fail('no offer');
  const v = w.engine.getOrder(o);
  if (!v.ok) return t.fail();
  const expected = riderPayout(
    payout,
    fastDistanceM(v.value.pickup.lat, v.value.pickup.lng, v.value.drop.lat, v.value.drop.lng),
    fastDistanceM(near(400).lat, near(400).lng, v.value.pickup.lat, v.value.pickup.lng),
    w.engine.config.detourFactor,
  );
  t.equal(offered.payout, expected, 'computed from both legs');
  t.match(v.value, { offer: { riderId: r, payout: expected }, payout: expected });

  const snap = JSON.parse(JSON.stringify(w.engine.toSnapshot())) as ReturnType<Engine['toSnapshot']>;
  const restored = Engine.restore(snap, { clock: new SimulatedClock(w.clock.now()) });
  t.match(
    restored.getOrder(o),
    { ok: true, value: { offer: { payout: expected }, payout: expected } },
    'restored with its payout',
  );
  restored.stop();

  t.ok(w.engine.acceptOffer(r, o).ok);
  t.match(w.engine.getOrder(o), { ok: true, value: { state: 'assigned', offer: null, payout: expected } });
  t.ok(w.engine.pickedUp(r, o).ok);
  t.ok(w.engine.delivered(r, o).ok);
  t.match(w.engine.getOrder(o), { ok: true, value: { state: 'delivered', payout: expected } });
});

t.test('a declined offer drops the payout; the next rider gets its own', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const a = w.rider('near', near(100));
  const o = w.order(rest);
  t.ok(w.engine.declineOffer(a, o).ok);
  t.match(w.engine.getOrder(o), { ok: true, value: { state: 'dispatching.searching', payout: null } });
  w.rider('far', near(3_000, 180));
  w.clock.advance(w.engine.config.dispatchRetryMs);
  const offers = w.events.filter((e) => e.type === 'order_offered');
  t.equal(offers.length, 2);
  const [first, second] = offers;
  if (first?.type !== 'order_offered' || second?.type !== 'order_offered') return;
  t.ok(second.payout! > first.payout!, 'the farther rider is paid for the longer ride to the pickup');
});

t.test('an order restored from a snapshot older than pricing answers a null payout', async (t) => {
  const w = world();
  const rest = w.restaurant();
  w.rider('old', near(200));
  const o = w.order(rest);
  const snap = JSON.parse(JSON.stringify(w.engine.toSnapshot())) as { orders: { context: Record<string, unknown> }[] };
  for (const row of snap.orders) delete row.context['payout'];
  const restored = Engine.restore(snap as never, { clock: new SimulatedClock(w.clock.now()) });
  t.match(restored.getOrder(o), {
    ok: true,
    value: { state: 'dispatching.offered', offer: { payout: null }, payout: null },
  });
  restored.stop();
});
