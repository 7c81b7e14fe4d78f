import t from 'tap';
import {
  Engine,
  SeededRandom,
  SimulatedClock,
  checkInvariants,
  offsetM,
  type EngineConfigInput,
  type EngineEvent,
  type OrderId,
  type RestaurantId,
  type RiderId,
} from '../../engine/index.js';
import { CENTRE, cust } from './world.js';

/**
 * Determinism: a seeded scenario run twice gives the same log; snapshot,
 * JSON round trip, restore and continue gives the log of an uninterrupted run;
 * two engines in one process do not disturb each other.
 */

const CONFIG: EngineConfigInput = {
  offerTimeoutMs: 15_000,
  dispatchRetryMs: 5_000,
  disconnectGraceMs: 30_000,
  retentionMs: 600_000,
};
const RIDERS = 30;
const RESTAURANTS = 5;
const STEPS = 200;

/** Every random draw of one step, made up front so a run is a function of the script and the engine state. */
interface Step {
  advance: number;
  place: { rest: number; bearing: number; m: number; paid: boolean } | null;
  riders: Array<{ bearing: number; m: number; respond: number; act: number; churn: number }>;
  prep: number[];
}

function script(seed: number): Step[] {
  const rng = new SeededRandom(seed);
  const steps: Step[] = [];
  for (let i = 0; i < STEPS; i++) {
    steps.push({
      advance: rng.int(500, 12_000),
      place:
        rng.next() < 0.45
          ? {
              rest: rng.int(0, RESTAURANTS - 1),
              bearing: rng.int(0, 359),
              m: rng.int(300, 5_000),
              paid: rng.next() < 0.8,
            }
          : null,
      riders: Array.from({ length: RIDERS }, () => ({
        bearing: rng.int(0, 359),
        m: rng.int(0, 60),
        respond: rng.next(),
        act: rng.next(),
        churn: rng.next(),
      })),
      prep: Array.from({ length: 4 }, () => rng.int(0, 25)),
    });
  }
  return steps;
}

const riderIds = Array.from({ length: RIDERS }, (_, i) => `rider-${String(i).padStart(2, '0')}` as RiderId);
const restIds = Array.from({ length: RESTAURANTS }, (_, i) => `rest-${i}` as RestaurantId);
const restAt = (i: number) => offsetM(CENTRE.lat, CENTRE.lng, i * 72, 1_500 * (i % 3));

/** What the driver remembers between steps (outside the engine, carried across a restore). */
interface Driver {
  orders: OrderId[];
  pos: Array<{ lat: number; lng: number }>;
}

function setup(engine: Engine, clock: SimulatedClock): Driver {
  restIds.forEach((id, i) =>
    engine.registerRestaurant({ restaurantId: id, location: restAt(i), prepMinutes: 12, capacity: 6 }),
  );
  const pos = riderIds.map((id, i) => {
    engine.registerRider({ riderId: id });
    engine.riderOnline(id);
    const p = offsetM(CENTRE.lat, CENTRE.lng, (i * 137) % 360, 200 + 100 * i);
    engine.updateRiderPosition(id, p.lat, p.lng, 5, NaN, 0, clock.now());
    return p;
  });
  return { orders: [], pos };
}

/** Applies step `s` (without its clock advance). */
function act(engine: Engine, clock: SimulatedClock, d: Driver, s: Step): void {
  if (s.place) {
    const r = restAt(s.place.rest);
    const res = engine.placeOrder({
      customerId: cust('c'),
      restaurantId: restIds[s.place.rest]!,
      drop: offsetM(r.lat, r.lng, s.place.bearing, s.place.m),
      paid: s.place.paid,
    });
    if (res.ok) d.orders.push(res.value);
  }
  let k = 0;
  for (const o of d.orders) {
    const v = engine.getOrder(o);
    if (!v.ok) continue;
    if (v.value.state === 'awaiting_payment' && s.prep[k % 4]! % 2 === 0) engine.confirmPayment(o);
    else if (v.value.state === 'awaiting_restaurant') engine.restaurantAccept(o, { prepMinutes: s.prep[k++ % 4]! });
  }
  riderIds.forEach((id, i) => {
    const st = s.riders[i]!;
    const p = (d.pos[i] = offsetM(d.pos[i]!.lat, d.pos[i]!.lng, st.bearing, st.m * 10));
    engine.updateRiderPosition(id, p.lat, p.lng, 5, st.bearing, 4, clock.now());
    const v = engine.getRider(id);
    if (!v.ok) return;
    const { state, orderId, connected } = v.value;
    if (!connected) {
      if (st.churn < 0.15) engine.riderReconnected(id);
    } else if (st.churn < (orderId ? 0.04 : 0.01)) engine.riderDisconnected(id);
    else if (state === 'offline' && st.churn < 0.3) engine.riderOnline(id);
    else if (state === 'on_break' && st.churn < 0.3) engine.riderResume(id);
    else if (state === 'online.idle' && st.churn > 0.99) engine.riderBreak(id);
    else if (state === 'online.idle' && st.churn > 0.985) engine.riderOffline(id);
    if (!orderId) return;
    if (state === 'online.offered' && st.respond < 0.6) engine.acceptOffer(id, orderId);
    else if (state === 'online.offered' && st.respond < 0.8) engine.declineOffer(id, orderId);
    else if ((state === 'online.to_pickup' || state === 'online.at_pickup') && st.act < 0.3)
      engine.pickedUp(id, orderId);
    else if (state === 'online.delivering' && st.act < 0.25) engine.delivered(id, orderId);
  });
}

function fresh(seed: number, clock = new SimulatedClock()) {
  const engine = new Engine({ clock, config: CONFIG, seed });
  const log: EngineEvent[] = [];
  engine.subscribe((e) => log.push(e));
  return { engine, clock, log };
}

/** Runs the whole script uninterrupted; answers the log, the final snapshot and whether invariants always held. */
function uninterrupted(seed: number, steps: Step[]) {
  const { engine, clock, log } = fresh(seed);
  const d = setup(engine, clock);
  let broken: string[] = [];
  for (const s of steps) {
    act(engine, clock, d, s);
    clock.advance(s.advance);
    if (broken.length === 0) broken = checkInvariants(engine);
  }
  return {
    log: JSON.stringify(log),
    final: JSON.stringify(engine.toSnapshot()),
    broken,
    orders: d.orders.length,
    events: log,
  };
}

t.test('same seed and script, same log', async (t) => {
  const steps = script(12);
  const a = uninterrupted(3, steps);
  const b = uninterrupted(3, steps);
  t.same(a.broken, [], 'invariants held throughout');
  t.ok(a.orders > 50, `a busy run: ${a.orders} orders, ${a.events.length} events`);
  for (const type of ['order_assigned', 'order_delivered', 'order_offer_ended', 'rider_offline', 'order_unassigned']) {
    t.ok(
      a.events.some((e) => e.type === type),
      `the scenario reaches ${type}`,
    );
  }
  t.equal(b.log, a.log, 'identical event logs');
  t.equal(b.final, a.final, 'identical final state');
  t.not(uninterrupted(4, steps).log, a.log, 'another engine seed gives other order ids');
});

t.test('snapshot, restore and continue gives the uninterrupted log', async (t) => {
  const steps = script(12);
  const whole = uninterrupted(5, steps);
  for (const cuts of [[1], [40], [40, 90, 150], [199]]) {
    let { engine, clock, log } = fresh(5);
    const logs: EngineEvent[][] = [log];
    const d = setup(engine, clock);
    steps.forEach((s, i) => {
      act(engine, clock, d, s);
      clock.advance(s.advance);
      if (cuts.includes(i)) {
        engine.stop();
        const snap = JSON.parse(JSON.stringify(engine.toSnapshot()));
        clock = new SimulatedClock(snap.at);
        engine = Engine.restore(snap, { clock, config: CONFIG });
        log = [];
        engine.subscribe((e) => log.push(e));
        logs.push(log);
        const bad = checkInvariants(engine);
        if (bad.length) t.fail(`restored at step ${i}: ${bad.join('; ')}`);
      }
    });
    t.equal(JSON.stringify(logs.flat()), whole.log, `restored after steps ${cuts.join(', ')}: same log`);
    t.equal(
      JSON.stringify(engine.toSnapshot()),
      whole.final,
      `restored after steps ${cuts.join(', ')}: same final state`,
    );
  }
});

t.test('a restore refuses a clock earlier than the snapshot and an unknown format', async (t) => {
  const { engine, clock } = fresh(1);
  setup(engine, clock);
  const snap = engine.toSnapshot();
  t.throws(() => Engine.restore(snap, { clock: new SimulatedClock(snap.at - 1) }), RangeError);
  t.throws(
    () => Engine.restore({ ...snap, format: 'nope' } as never, { clock: new SimulatedClock(snap.at) }),
    TypeError,
  );
});

t.test('two engines side by side do not interfere', async (t) => {
  const s1 = script(21);
  const s2 = script(22);
  const solo1 = uninterrupted(1, s1).log;
  const solo2 = uninterrupted(2, s2).log;

  const x = fresh(1);
  const y = fresh(2);
  const dx = setup(x.engine, x.clock);
  const dy = setup(y.engine, y.clock);
  for (let i = 0; i < STEPS; i++) {
    act(x.engine, x.clock, dx, s1[i]!);
    act(y.engine, y.clock, dy, s2[i]!);
    y.clock.advance(s2[i]!.advance);
    x.clock.advance(s1[i]!.advance);
  }
  t.equal(JSON.stringify(x.log), solo1, 'engine 1 interleaved = alone');
  t.equal(JSON.stringify(y.log), solo2, 'engine 2 interleaved = alone');

  // Sharing one clock (and so one timer queue), with the same script.
  const shared = new SimulatedClock();
  const p = fresh(1, shared);
  const q = fresh(2, shared);
  const dp = setup(p.engine, shared);
  const dq = setup(q.engine, shared);
  for (const s of s1) {
    act(p.engine, shared, dp, s);
    act(q.engine, shared, dq, s);
    shared.advance(s.advance);
  }
  t.equal(JSON.stringify(p.log), solo1, 'engine 1 on a shared clock = alone');
  t.equal(JSON.stringify(q.log), uninterrupted(2, s1).log, 'engine 2 on a shared clock = alone');
  t.same(checkInvariants(p.engine), []);
  t.same(checkInvariants(q.engine), []);
});
