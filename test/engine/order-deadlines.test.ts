import t, { type Test } from 'tap';
import { checkInvariants, defaultEngineConfig as D, type EngineEvent } from '../../engine/index.js';
import { CENTRE, near, seqGaps, world, type World } from './world.js';

/** Order deadlines on the simulated clock: each fires at its exact time, not a millisecond earlier. */

const last = (w: World, type: string): EngineEvent | undefined => w.events.filter((e) => e.type === type).at(-1);

function healthy(t: Test, w: World) {
  t.same(checkInvariants(w.engine), [], 'invariants hold');
  t.same(seqGaps(w.events), [], 'seq gap-free');
  t.same(w.badAt, [], 'events at clock time');
  t.same(w.errors, [], 'nothing logged');
}

t.test('payment expiry cancels an unpaid order, with no refund', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const o = w.order(r1, { paid: false });
  const t0 = w.clock.now();
  t.match(w.events.at(-1), { type: 'order_placed', paid: false, paymentExpiresAt: t0 + D.paymentTimeoutMs });
  w.clock.advance(D.paymentTimeoutMs - 1);
  t.equal(w.orderState(o), 'awaiting_payment', 'still waiting 1 ms before');
  w.clock.advance(1);
  t.equal(w.orderState(o), 'cancelled');
  t.match(last(w, 'order_cancelled'), {
    by: 'system',
    reason: 'payment_expired',
    refundDue: false,
    at: t0 + D.paymentTimeoutMs,
  });
  healthy(t, w);
});

t.test('paying disarms payment expiry and starts the restaurant clock', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const o = w.order(r1, { paid: false });
  w.clock.advance(60_000);
  const paidAt = w.clock.now();
  t.ok(w.engine.confirmPayment(o).ok);
  w.clock.advance(D.restaurantAcceptTimeoutMs - 1);
  t.equal(w.orderState(o), 'awaiting_restaurant');
  w.clock.advance(1);
  t.match(last(w, 'order_cancelled'), {
    reason: 'restaurant_timeout',
    refundDue: true,
    at: paidAt + D.restaurantAcceptTimeoutMs,
  });
  w.clock.advance(D.paymentTimeoutMs);
  t.equal(w.of(o).filter((e) => e.type === 'order_cancelled').length, 1, 'payment expiry never fires after');
  healthy(t, w);
});

t.test('dispatch is due at readyAt − assumedPickupEtaMs, or at once for short preps', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(300));
  const o = w.order(r1, { prepMinutes: 30 });
  const t0 = w.clock.now();
  const due = t0 + 30 * 60_000 - D.assumedPickupEtaMs;
  t.match(last(w, 'order_accepted'), { prepMinutes: 30, readyAt: t0 + 30 * 60_000, dispatchAt: due });
  w.clock.runUntil(due - 1);
  t.equal(w.orderState(o), 'preparing', 'preparing until the dispatch time');
  w.move(a, near(310)); // positions older than positionStaleMs are not matched
  w.clock.runUntil(due);
  t.equal(w.orderState(o), 'dispatching.offered', 'offered at the dispatch time');
  t.match(last(w, 'order_dispatchable'), { at: due, giveUpAt: due + D.dispatchGiveUpMs });

  const quick = w.order(r1, { prepMinutes: 2 });
  t.match(
    w.of(quick).map((e) => e.type),
    ['order_placed', 'order_accepted', 'order_dispatchable', 'order_no_rider'],
    'a 2 min prep dispatches at once',
  );
  healthy(t, w);
});

t.test('food ready early dispatches at once', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(300));
  const o = w.order(r1, { prepMinutes: 60 });
  w.clock.advance(10 * 60_000);
  w.move(a, near(310));
  t.ok(w.engine.foodReady(o).ok);
  t.equal(w.orderState(o), 'dispatching.offered');
  t.match(w.engine.foodReady(o), { ok: false, code: 'ORDER_INVALID_TRANSITION' }, 'ready twice is refused');
  healthy(t, w);
});

t.test('offer expiry passes the order to the next rider, never back', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(200));
  const b = w.rider('b', near(800));
  const o = w.order(r1);
  const t0 = w.clock.now();
  t.match(last(w, 'order_offered'), { riderId: a, expiresAt: t0 + D.offerTimeoutMs });
  w.clock.advance(D.offerTimeoutMs - 1);
  t.ok(w.engine.getOrder(o).ok && w.riderState(a) === 'online.offered', 'a still holds it');
  w.clock.advance(1);
  t.match(last(w, 'order_offer_ended'), { riderId: a, outcome: 'expired', at: t0 + D.offerTimeoutMs });
  t.match(last(w, 'order_offered'), { riderId: b }, 'b is offered next');
  t.equal(w.riderState(a), 'online.idle', 'a is free again');
  t.match(w.engine.acceptOffer(a, o), { ok: false, code: 'OFFER_EXPIRED' }, 'a late accept is OFFER_EXPIRED');
  w.clock.advance(D.offerTimeoutMs);
  t.equal(w.orderState(o), 'dispatching.searching', 'after b expires, nobody is left');
  w.move(a, near(200));
  w.move(b, near(800));
  w.clock.advance(5 * D.dispatchRetryMs);
  t.equal(w.events.filter((e) => e.type === 'order_offered').length, 2, 'neither is offered again');
  t.equal(
    w.engine.getRider(a).ok &&
      (w.engine.getRider(a) as { value: { stats: { expiries: number } } }).value.stats.expiries,
    1,
    'expiry counted',
  );
  healthy(t, w);
});

t.test('no rider: retry every dispatchRetryMs, then give up with no_rider', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const o = w.order(r1);
  const t0 = w.clock.now();
  t.match(last(w, 'order_no_rider'), { retryAt: t0 + D.dispatchRetryMs });
  w.clock.advance(D.dispatchRetryMs);
  t.match(last(w, 'order_no_rider'), { at: t0 + D.dispatchRetryMs, retryAt: t0 + 2 * D.dispatchRetryMs });
  w.clock.advance(D.dispatchGiveUpMs - D.dispatchRetryMs - 1);
  t.equal(w.orderState(o), 'dispatching.searching', 'searching until the give-up time');
  w.clock.advance(1);
  t.match(last(w, 'order_cancelled'), {
    by: 'system',
    reason: 'no_rider',
    fromState: 'dispatching.searching',
    refundDue: true,
    at: t0 + D.dispatchGiveUpMs,
  });
  const tries = w.of(o).filter((e) => e.type === 'order_no_rider').length;
  t.equal(tries, D.dispatchGiveUpMs / D.dispatchRetryMs, 'one search per retry interval');
  healthy(t, w);
});

t.test('a rider who appears between retries is offered at the next retry', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const o = w.order(r1);
  const t0 = w.clock.now();
  w.clock.advance(3_000);
  const a = w.rider('a', near(300));
  t.equal(w.orderState(o), 'dispatching.searching', 'no search between retries');
  w.clock.advance(D.dispatchRetryMs - 3_000);
  t.match(last(w, 'order_offered'), { riderId: a, at: t0 + D.dispatchRetryMs });
  healthy(t, w);
});

t.test('SLA breach is an event, once, and does not end the order', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(300));
  const o = w.order(r1, { prepMinutes: 60 });
  const t0 = w.clock.now();
  const { promisedAt } = w.of(o).find((e) => e.type === 'order_placed') as { promisedAt: number };
  // The restaurant says 10 minutes at placement; the drop is 2 km away.
  const ride = w.engine.eta.travelS(CENTRE.lat, CENTRE.lng, near(2000, 0).lat, near(2000, 0).lng, null, t0);
  t.equal(promisedAt, t0 + Math.round(10 * 60_000 + ride * 1000 + D.promiseBufferMs), 'prep, ride and buffer');
  w.clock.runUntil(promisedAt - 1);
  t.notOk(
    w.of(o).some((e) => e.type === 'order_sla_breached'),
    'no breach before the promise',
  );
  w.clock.advance(1);
  t.match(last(w, 'order_sla_breached'), { id: o, promisedAt, at: promisedAt });
  t.equal(w.orderState(o), 'preparing');
  w.clock.runUntil(t0 + 60 * 60_000 - D.assumedPickupEtaMs - 1);
  w.move(a, near(310));
  w.clock.advance(1);
  t.equal(w.orderState(o), 'dispatching.offered', 'dispatched at 60 − 5 min');
  t.ok(w.engine.acceptOffer(a, o).ok && w.engine.pickedUp(a, o).ok && w.engine.delivered(a, o).ok, 'still deliverable');
  t.equal(w.events.filter((e) => e.type === 'order_sla_breached').length, 1, 'breach reported once');

  const early = w.order(r1);
  w.clock.advance(5_000);
  t.ok(
    w.engine.acceptOffer(a, early).ok && w.engine.pickedUp(a, early).ok && w.engine.delivered(a, early).ok,
    'the second order is delivered at once',
  );
  w.clock.advance(D.promiseMs);
  t.notOk(
    w.of(early).some((e) => e.type === 'order_sla_breached'),
    'no breach for an order delivered in time',
  );
  healthy(t, w);
});

t.test('the promise is capped at promiseMs', async (t) => {
  const w = world({ promiseMs: 20 * 60_000 });
  const r1 = w.restaurant('r1', CENTRE, 30);
  const o = w.order(r1);
  t.match(
    w.of(o).find((e) => e.type === 'order_placed'),
    { promisedAt: w.clock.now() + 20 * 60_000 },
  );
});

t.test('order lifetime cancels whatever is left, even a picked-up order', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(300));
  const o = w.order(r1);
  const t0 = w.clock.now();
  w.engine.acceptOffer(a, o);
  w.engine.pickedUp(a, o);
  w.clock.advance(D.orderLifetimeMs - 1);
  t.equal(w.orderState(o), 'picked_up');
  w.clock.advance(1);
  t.match(last(w, 'order_cancelled'), {
    by: 'system',
    reason: 'order_expired',
    fromState: 'picked_up',
    riderId: a,
    at: t0 + D.orderLifetimeMs,
  });
  t.equal(w.riderState(a), 'online.idle', 'the rider is released');
  healthy(t, w);
});

t.test('finished orders are evicted after retentionMs, and nothing fires after', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(300));
  const o = w.order(r1);
  const c = w.order(r1, { prepMinutes: 30 });
  w.engine.acceptOffer(a, o);
  w.engine.pickedUp(a, o);
  w.engine.delivered(a, o);
  w.engine.cancelOrder({ orderId: c, by: 'restaurant' });
  const end = w.clock.now();
  w.clock.advance(D.retentionMs - 1);
  t.ok(w.engine.getOrder(o).ok && w.engine.getOrder(c).ok, 'queryable during retention');
  w.clock.advance(1);
  t.match(w.engine.getOrder(o), { ok: false, code: 'ORDER_NOT_FOUND' }, 'delivered order evicted');
  t.match(w.engine.getOrder(c), { ok: false, code: 'ORDER_NOT_FOUND' }, 'cancelled order evicted');
  t.equal(w.engine.stats().deadlines, 0, 'no deadline left');
  const n = w.events.length;
  w.clock.runUntil(end + D.orderLifetimeMs * 2);
  t.equal(w.events.length, n, 'no event after the end');
  healthy(t, w);
});
