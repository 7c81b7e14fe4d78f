import t from 'tap';
import fc from 'fast-check';
import {
  Engine,
  SimulatedClock,
  checkInvariants,
  isErrorCode,
  offsetM,
  type CancelledBy,
  type EngineConfigInput,
  type EngineEvent,
  type OrderId,
  type RestaurantId,
  type RiderId,
} from '../../engine/index.js';
import { CENTRE, cust, near } from './world.js';

/**
 * Random command sequences over a small world. After every command: no throw,
 * a Result or PositionStatus answer, the engine's invariants hold, and an
 * independent monitor over the event log sees at most one live offer per order
 * and per rider, one job per rider, no delivery without pickup and nothing
 * after an order's end. When time runs out every order placed has ended.
 */

// Short timers so that random clock advances cross every kind of deadline.
const CONFIG: EngineConfigInput = {
  offerTimeoutMs: 20_000,
  paymentTimeoutMs: 180_000,
  restaurantAcceptTimeoutMs: 120_000,
  dispatchRetryMs: 10_000,
  dispatchGiveUpMs: 300_000,
  assumedPickupEtaMs: 300_000,
  promiseMs: 1_200_000,
  orderLifetimeMs: 2_400_000,
  disconnectGraceMs: 60_000,
  positionStaleMs: 60_000,
  retentionMs: 300_000,
};
const END = 2_400_000 + 300_000 + 60_000 + 60_000;
const MAX_ORDERS = 10;
const PARTIES: CancelledBy[] = ['customer', 'restaurant', 'admin', 'system'];
const RIDER_OPS = ['online', 'offline', 'break', 'resume', 'disconnect', 'reconnect'] as const;

type Cmd =
  | { k: 'place'; rest: number; paid: boolean; dropM: number; bearing: number }
  | { k: 'pay' | 'failPay' | 'reject' | 'ready'; o: number }
  | { k: 'accept'; o: number; prep: number }
  | { k: 'respond'; r: number; accept: boolean; own: boolean; o: number }
  | { k: 'pickedUp' | 'delivered'; r: number; own: boolean; o: number }
  | { k: 'cancel'; o: number; by: number }
  | { k: 'rider'; r: number; op: (typeof RIDER_OPS)[number] }
  | { k: 'move'; r: number; m: number; bearing: number; ageMs: number }
  | { k: 'toTarget'; r: number }
  | { k: 'advance'; ms: number };

const idx = fc.nat(7);
/** True `w` times in `w + 1`. */
const likely = (w: number) => fc.nat(w).map((n) => n > 0);
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('place' as const),
      rest: fc.nat(2),
      paid: likely(3),
      dropM: fc.integer({ min: 200, max: 4_000 }),
      bearing: fc.nat(359),
    }),
  },
  fc.record({ k: fc.constantFrom('pay' as const, 'failPay' as const, 'reject' as const, 'ready' as const), o: idx }),
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('accept' as const), o: idx, prep: fc.constantFrom(0, 0, 3, 10, 20) }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ k: fc.constant('respond' as const), r: idx, accept: likely(3), own: likely(4), o: idx }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constantFrom('pickedUp' as const, 'delivered' as const),
      r: idx,
      own: likely(4),
      o: idx,
    }),
  },
  fc.record({ k: fc.constant('cancel' as const), o: idx, by: fc.nat(3) }),
  { weight: 2, arbitrary: fc.record({ k: fc.constant('rider' as const), r: idx, op: fc.constantFrom(...RIDER_OPS) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('move' as const),
      r: idx,
      m: fc.nat(3_000),
      bearing: fc.nat(359),
      ageMs: fc.constantFrom(0, 0, 0, 30_000, 90_000),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('toTarget' as const), r: idx }) },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('advance' as const),
      ms: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 15_000 }) }, fc.integer({ min: 0, max: 400_000 })),
    }),
  },
);

/** Watches the event log for what must never happen, independently of checkInvariants. */
function monitor() {
  const offerOfOrder = new Map<string, string>();
  const offerOfRider = new Map<string, string>();
  const jobOfRider = new Map<string, string>();
  const riderOfJob = new Map<string, string>();
  const pickedUp = new Set<string>();
  const ended = new Map<string, string>();
  const problems: string[] = [];
  const endOffer = (o: string) => {
    const r = offerOfOrder.get(o);
    offerOfOrder.delete(o);
    if (r !== undefined) offerOfRider.delete(r);
  };
  const endJob = (o: string) => {
    const r = riderOfJob.get(o);
    riderOfJob.delete(o);
    if (r !== undefined) jobOfRider.delete(r);
  };
  const see = (e: EngineEvent) => {
    if (e.aggregate !== 'order') return;
    if (ended.has(e.id)) problems.push(`${e.type} for ${e.id} after ${ended.get(e.id)}`);
    switch (e.type) {
      case 'order_offered':
        if (offerOfOrder.has(e.id))
          problems.push(`order ${e.id} offered to ${e.riderId} while offered to ${offerOfOrder.get(e.id)}`);
        if (offerOfRider.has(e.riderId))
          problems.push(`rider ${e.riderId} offered ${e.id} while holding ${offerOfRider.get(e.riderId)}`);
        if (jobOfRider.has(e.riderId))
          problems.push(`rider ${e.riderId} offered ${e.id} while on job ${jobOfRider.get(e.riderId)}`);
        offerOfOrder.set(e.id, e.riderId);
        offerOfRider.set(e.riderId, e.id);
        break;
      case 'order_offer_ended':
        endOffer(e.id);
        break;
      case 'order_assigned':
        if (offerOfOrder.get(e.id) !== e.riderId)
          problems.push(`order ${e.id} assigned to ${e.riderId} without its offer`);
        endOffer(e.id);
        riderOfJob.set(e.id, e.riderId);
        jobOfRider.set(e.riderId, e.id);
        break;
      case 'order_unassigned':
        endJob(e.id);
        break;
      case 'order_picked_up':
        if (riderOfJob.get(e.id) !== e.riderId) problems.push(`order ${e.id} picked up by ${e.riderId}, not its rider`);
        pickedUp.add(e.id);
        break;
      case 'order_delivered':
        if (!pickedUp.has(e.id)) problems.push(`order ${e.id} delivered without pickup`);
        if (riderOfJob.get(e.id) !== e.riderId) problems.push(`order ${e.id} delivered by ${e.riderId}, not its rider`);
        ended.set(e.id, e.type);
        endJob(e.id);
        break;
      case 'order_cancelled':
        ended.set(e.id, e.type);
        endOffer(e.id);
        endJob(e.id);
        break;
    }
  };
  return { see, problems, ended };
}

/** How often each event type (and cancel reason) came up across all runs: the generator must reach them all. */
const seen = new Map<string, number>();
const count = (e: EngineEvent) => {
  const key = e.type === 'order_cancelled' ? `order_cancelled:${e.reason}` : e.type;
  seen.set(key, (seen.get(key) ?? 0) + 1);
};

function run(nRiders: number, cmds: Cmd[], config: EngineConfigInput = CONFIG): void {
  const clock = new SimulatedClock();
  const errors: unknown[] = [];
  const engine = new Engine({ clock, config, seed: 42, logger: { error: (m, d) => errors.push([m, d]) } });
  const mon = monitor();
  engine.subscribe(mon.see);
  engine.subscribe(count);
  const fail = (msg: string): never => {
    throw new Error(`${msg}\nafter ${JSON.stringify(cmds)}`);
  };
  const restaurants: RestaurantId[] = [0, 1, 2].map((i) => `r${i}` as RestaurantId);
  const spots = [near(0), near(800, 60), near(1_500, 200)];
  restaurants.forEach((id, i) =>
    engine.registerRestaurant({ restaurantId: id, location: spots[i]!, prepMinutes: 10, capacity: 3 }),
  );
  const riders: RiderId[] = [];
  for (let i = 0; i < nRiders; i++) {
    const id = `rider${i}` as RiderId;
    riders.push(id);
    engine.registerRider({ riderId: id });
    engine.riderOnline(id);
    const p = near(300 + 400 * i, i * 67);
    engine.updateRiderPosition(id, p.lat, p.lng, 5, NaN, 0, clock.now());
  }
  const orders: OrderId[] = [];
  // Mostly the newest orders, where the action is.
  const order = (i: number) => orders[orders.length - 1 - (i % Math.max(1, orders.length))] ?? ('ghost' as OrderId);
  const rider = (i: number) => riders[i % riders.length]!;
  /** For even `i`, an order in one of `states` when there is one; for odd `i` (or none), any recent order. */
  const orderIn = (states: string[], i: number) => {
    const some =
      i % 2
        ? []
        : orders.filter((o) => {
            const v = engine.getOrder(o);
            return v.ok && states.includes(v.value.state);
          });
    return some.length ? some[(i >> 1) % some.length]! : order(i);
  };
  const JOBS = ['online.offered', 'online.to_pickup', 'online.at_pickup', 'online.delivering'];
  /** A rider for whom `op` is likely to do something interesting. */
  const riderFor = (op: (typeof RIDER_OPS)[number], i: number): RiderId => {
    if (op === 'reconnect')
      return (
        riders.filter(
          (r) => engine.getRider(r).ok && !(engine.getRider(r) as { value: { connected: boolean } }).value.connected,
        )[i % riders.length] ?? rider(i)
      );
    const states = {
      online: ['offline'],
      offline: JOBS,
      break: ['online.idle'],
      resume: ['on_break'],
      disconnect: JOBS,
    }[op];
    return riderIn(states, i);
  };
  /** The i-th rider (cyclically) among those in one of `states`, else any rider. */
  const riderIn = (states: string[], i: number) => {
    const some = riders.filter((r) => {
      const v = engine.getRider(r);
      return v.ok && states.includes(v.value.state);
    });
    return some.length ? some[i % some.length]! : rider(i);
  };
  const job = (r: RiderId) => {
    const v = engine.getRider(r);
    return v.ok ? v.value.orderId : null;
  };
  const answer = (label: string, res: unknown) => {
    if (typeof res === 'number') {
      if (!(Number.isInteger(res) && res >= 0 && res <= 4)) fail(`${label} answered position status ${res}`);
    } else {
      const r = res as { ok: boolean; code?: unknown };
      if (!r.ok && !isErrorCode(r.code)) fail(`${label} answered ${JSON.stringify(res)}`);
    }
  };

  for (const c of cmds) {
    let res: unknown = { ok: true };
    switch (c.k) {
      case 'place':
        if (orders.length >= MAX_ORDERS) break;
        res = engine.placeOrder({
          customerId: cust('c'),
          restaurantId: restaurants[c.rest]!,
          drop: offsetM(spots[c.rest]!.lat, spots[c.rest]!.lng, c.bearing, c.dropM),
          paid: c.paid,
        });
        if ((res as { ok: boolean }).ok) orders.push((res as { value: OrderId }).value);
        break;
      case 'pay':
        res = engine.confirmPayment(orderIn(['awaiting_payment'], c.o));
        break;
      case 'failPay':
        res = engine.failPayment(order(c.o));
        break;
      case 'reject':
        res = engine.restaurantReject(order(c.o));
        break;
      case 'ready':
        res = engine.foodReady(orderIn(['preparing', 'dispatching.searching', 'assigned'], c.o));
        break;
      case 'accept':
        res = engine.restaurantAccept(orderIn(['awaiting_restaurant'], c.o), { prepMinutes: c.prep });
        break;
      case 'respond': {
        const r = c.own ? riderIn(['online.offered'], c.r) : rider(c.r);
        const o = c.own ? (job(r) ?? order(c.o)) : order(c.o);
        res = c.accept ? engine.acceptOffer(r, o) : engine.declineOffer(r, o);
        break;
      }
      case 'pickedUp':
      case 'delivered': {
        const r = c.own
          ? riderIn(c.k === 'pickedUp' ? ['online.to_pickup', 'online.at_pickup'] : ['online.delivering'], c.r)
          : rider(c.r);
        const o = c.own ? (job(r) ?? order(c.o)) : order(c.o);
        res = c.k === 'pickedUp' ? engine.pickedUp(r, o) : engine.delivered(r, o);
        break;
      }
      case 'cancel':
        res = engine.cancelOrder({ orderId: order(c.o), by: PARTIES[c.by]! });
        break;
      case 'rider': {
        const r = c.r % 2 ? rider(c.r >> 1) : riderFor(c.op, c.r >> 1);
        const ops = {
          online: (id: RiderId) => engine.riderOnline(id),
          offline: (id: RiderId) => engine.riderOffline(id),
          break: (id: RiderId) => engine.riderBreak(id),
          resume: (id: RiderId) => engine.riderResume(id),
          disconnect: (id: RiderId) => engine.riderDisconnected(id),
          reconnect: (id: RiderId) => engine.riderReconnected(id),
        };
        res = ops[c.op](r);
        break;
      }
      case 'move': {
        const p = offsetM(CENTRE.lat, CENTRE.lng, c.bearing, c.m);
        res = engine.updateRiderPosition(rider(c.r), p.lat, p.lng, 5, NaN, 3, clock.now() - c.ageMs);
        break;
      }
      case 'toTarget': {
        const r = riderIn(['online.to_pickup', 'online.delivering'], c.r);
        const o = job(r);
        const v = o ? engine.getOrder(o) : undefined;
        if (v?.ok) {
          const p = v.value.state === 'picked_up' ? v.value.drop : v.value.pickup;
          res = engine.updateRiderPosition(r, p.lat, p.lng, 5, NaN, 3, clock.now());
        }
        break;
      }
      case 'advance':
        clock.advance(c.ms);
        break;
    }
    answer(c.k, res);
    const bad = checkInvariants(engine);
    if (bad.length) fail(`invariants after ${JSON.stringify(c)}: ${bad.join('; ')}`);
    if (mon.problems.length) fail(`log monitor after ${JSON.stringify(c)}: ${mon.problems.join('; ')}`);
    if (errors.length) fail(`engine logged ${JSON.stringify(errors)}`);
  }

  clock.advance(END);
  const bad = checkInvariants(engine);
  if (bad.length) fail(`invariants at the end: ${bad.join('; ')}`);
  if (mon.problems.length) fail(`log monitor at the end: ${mon.problems.join('; ')}`);
  if (errors.length) fail(`engine logged ${JSON.stringify(errors)}`);
  for (const o of orders) {
    if (!mon.ended.has(o)) fail(`order ${o} never ended`);
    if (engine.getOrder(o).ok) fail(`order ${o} not evicted after retention`);
  }
  if (engine.stats().ordersLive !== 0) fail('live orders left');
}

t.test('random command sequences keep every invariant, and every order ends', async (t) => {
  const started = process.hrtime.bigint();
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 6 }),
        fc.array(cmdArb, { minLength: 20, maxLength: 100, size: 'max' }),
        (n, cmds) => run(n, cmds),
      ),
      { seed: 42, numRuns: 300 },
    ),
  );
  t.ok(Number(process.hrtime.bigint() - started) / 1e9 < 20, 'within 20 s');
  const reached = (type: string) =>
    t.ok((seen.get(type) ?? 0) > 0, `the generator reaches ${type} (${seen.get(type) ?? 0} times)`);
  for (const type of [
    'order_payment_confirmed',
    'order_accepted',
    'order_food_ready',
    'order_no_rider',
    'order_offered',
    'order_offer_ended',
    'order_assigned',
    'order_unassigned',
    'order_picked_up',
    'order_delivered',
    'order_sla_breached',
    'rider_arrived_pickup',
    'rider_arrived_drop',
    'rider_disconnected',
    'rider_reconnected',
    'rider_break_ended',
    'rider_released',
  ])
    reached(type);
  for (const reason of [
    'customer_request',
    'admin',
    'restaurant_rejected',
    'restaurant_timeout',
    'payment_failed',
    'payment_expired',
    'no_rider',
    'rider_lost',
    'order_expired',
  ]) {
    reached(`order_cancelled:${reason}`);
  }
});

t.test('the same under the batched policy: orders wait for their batch, and every invariant holds', async (t) => {
  const batched: EngineConfigInput = { ...CONFIG, dispatchPolicy: 'batched', batchWindowMs: 3_000 };
  const offers = seen.get('order_offered') ?? 0;
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 6 }),
        fc.array(cmdArb, { minLength: 20, maxLength: 100, size: 'max' }),
        (n, cmds) => run(n, cmds, batched),
      ),
      { seed: 18, numRuns: 200 },
    ),
  );
  t.ok((seen.get('order_offered') ?? 0) > offers, 'batched runs make offers');
});

t.test('a hand-picked busy run, as a sanity check on the generator', async (t) => {
  const cmds: Cmd[] = [
    { k: 'place', rest: 0, paid: true, dropM: 1_000, bearing: 0 },
    { k: 'accept', o: 0, prep: 0 },
    { k: 'respond', r: 0, accept: true, own: true, o: 0 },
    { k: 'toTarget', r: 0 },
    { k: 'pickedUp', r: 0, own: true, o: 0 },
    { k: 'advance', ms: 1_000 },
    { k: 'toTarget', r: 0 },
    { k: 'delivered', r: 0, own: true, o: 0 },
  ];
  t.doesNotThrow(() => run(3, cmds));
});
