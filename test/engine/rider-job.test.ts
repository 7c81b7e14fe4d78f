import t from 'tap';
import { Engine, SimulatedClock, type RiderId } from '../../engine/index.js';
import { near, world } from './world.js';

/** `getRiderJob`: what a reconnecting rider must be told again, from the engine's state alone. */

t.test('a live offer, then the job through pickup, then nothing', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const r = w.rider('j1', near(500));
  t.same(w.engine.getRiderJob(r), { ok: true, value: null }, 'an idle rider holds nothing');
  const o = w.order(rest);
  const offered = w.engine.getRiderJob(r);
  if (!offered.ok || offered.value === null) return t.fail('no offer');
  const view = w.engine.getOrder(o);
  if (!view.ok || view.value.offer === null) return t.fail();
  t.match(offered.value, {
    orderId: o,
    offerId: view.value.offer.offerId,
    stage: 'offered',
    expiresAt: view.value.offer.expiresAt,
    payout: view.value.payout,
    foodReady: false,
    pickedUpAt: null,
  });
  t.ok(Math.abs(offered.value.pickupDistanceM! - 500) <= 2, 'distance from the rider to the pickup');
  t.equal(
    offered.value.pickupEtaS,
    Math.round((offered.value.pickupDistanceM! * w.engine.config.detourFactor) / w.engine.config.riderSpeedMps),
  );

  w.clock.advance(5_000);
  t.equal(
    (w.engine.getRiderJob(r) as { value: { expiresAt: number } }).value.expiresAt,
    view.value.offer.expiresAt,
    'the expiry does not move',
  );
  t.ok(w.engine.acceptOffer(r, o).ok);
  t.match(w.engine.getRiderJob(r), {
    ok: true,
    value: { orderId: o, stage: 'assigned', expiresAt: null, foodReady: false },
  });
  t.ok(w.engine.foodReady(o).ok);
  t.match(w.engine.getRiderJob(r), { ok: true, value: { stage: 'assigned', foodReady: true } });
  t.ok(w.engine.pickedUp(r, o).ok);
  t.match(w.engine.getRiderJob(r), { ok: true, value: { stage: 'picked_up', pickedUpAt: w.clock.now() } });

  const snap = JSON.parse(JSON.stringify(w.engine.toSnapshot())) as ReturnType<Engine['toSnapshot']>;
  const restored = Engine.restore(snap, { clock: new SimulatedClock(w.clock.now()) });
  t.same(restored.getRiderJob(r), w.engine.getRiderJob(r), 'the same after a restore');
  restored.stop();

  t.ok(w.engine.delivered(r, o).ok);
  t.same(w.engine.getRiderJob(r), { ok: true, value: null }, 'delivered: nothing held');
});

t.test("an expired or declined offer is no longer the rider's; a cancelled job neither", async (t) => {
  const w = world();
  const rest = w.restaurant();
  const r = w.rider('j2', near(200));
  const o = w.order(rest);
  w.clock.advance(w.engine.config.offerTimeoutMs);
  t.same(w.engine.getRiderJob(r), { ok: true, value: null }, 'expired');
  const o2 = w.order(rest);
  t.ok(w.engine.getRiderJob(r).ok);
  const held = w.engine.getRiderJob(r);
  t.match(held, { ok: true, value: { orderId: o2 } });
  t.ok(w.engine.declineOffer(r, o2).ok);
  t.same(w.engine.getRiderJob(r), { ok: true, value: null }, 'declined');
  w.engine.cancelOrder({ orderId: o, by: 'admin' });
  const o3 = w.order(rest);
  t.ok(w.engine.acceptOffer(r, o3).ok);
  t.ok(w.engine.cancelOrder({ orderId: o3, by: 'admin' }).ok);
  t.same(w.engine.getRiderJob(r), { ok: true, value: null }, 'cancelled');
  t.match(w.engine.getRiderJob('nobody' as RiderId), { ok: false, code: 'RIDER_NOT_FOUND' });
});

t.test('a disconnected rider keeps its offer for the grace period', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const r = w.rider('j3', near(200));
  const o = w.order(rest);
  t.ok(w.engine.riderDisconnected(r).ok);
  t.match(w.engine.getRiderJob(r), { ok: true, value: { orderId: o, stage: 'offered' } });
  t.ok(w.engine.riderReconnected(r).ok);
  t.ok(w.engine.acceptOffer(r, o).ok, 'and may accept it after reconnecting');
});
