import t from 'tap';
import { cellToParent, latLngToCell } from 'h3-js';
import {
  checkInvariants,
  defaultEngineConfig as D,
  type EngineEvent,
  type H3Cell,
  type OrderId,
} from '../../engine/index.js';
import { CENTRE, near, world, type World } from './world.js';

/** Greedy dispatch: candidate search around the pickup, scoring, exclusions, shards. */

const offers = (w: World, o?: OrderId) =>
  w.events.filter(
    (e): e is Extract<EngineEvent, { type: 'order_offered' }> =>
      e.type === 'order_offered' && (o === undefined || e.id === o),
  );
const offeredTo = (w: World, o: OrderId) => offers(w, o).at(-1)?.riderId;

t.test('the nearest rider wins', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  w.rider('far', near(1200, 0));
  w.rider('mid', near(700, 200));
  w.rider('near', near(300, 45));
  const o = w.order(r1);
  t.equal(offeredTo(w, o), 'near');
  t.ok(Math.abs(offers(w, o)[0]!.pickupDistanceM - 300) <= 3, 'distance reported');
  t.equal(
    offers(w, o)[0]!.pickupEtaS,
    Math.round((offers(w, o)[0]!.pickupDistanceM * D.detourFactor) / D.riderSpeedMps),
    'ETA from the speed model',
  );
  t.same(checkInvariants(w.engine), []);
});

t.test('equal riders: the lower id wins, whatever the registration order', async (t) => {
  for (const ids of [
    ['b', 'a'],
    ['a', 'b'],
  ]) {
    const w = world();
    const r1 = w.restaurant();
    for (const id of ids) w.rider(id, near(400));
    t.equal(offeredTo(w, w.order(r1)), 'a', `registered ${ids.join(', ')}`);
  }
});

t.test('the search widens ring by ring until it finds a far rider', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  w.rider('far', near(3_000, 120));
  const o = w.order(r1);
  t.equal(offeredTo(w, o), 'far');
  t.ok(w.matches[0]!.ring >= 5, `found at ring ${w.matches[0]!.ring}`);
  const w2 = world();
  w2.rider('close', near(100));
  w2.order(w2.restaurant());
  t.ok(
    w2.matches[0]!.ring <= 1,
    `with fewer than minCandidates riders, it stops once it has met every available one (ring ${w2.matches[0]!.ring}), not at the cap`,
  );
  const w4 = world();
  w4.rider('close', near(100));
  w4.rider('far', near(3_000, 120));
  w4.order(w4.restaurant());
  t.ok(
    w4.matches[0]!.ring >= w.matches[0]!.ring && w4.matches[0]!.ring < D.maxRing,
    `it walks out to the last available rider (ring ${w4.matches[0]!.ring}) and no farther`,
  );
  t.equal(w4.matches[0]!.candidates, 2);
  const w3 = world();
  for (let i = 0; i < D.minCandidates; i++) w3.rider(`r${i}`, near(1 + i, i * 90));
  w3.order(w3.restaurant());
  t.equal(w3.matches[0]!.ring, 0, 'stops at the first ring holding minCandidates riders');
  t.equal(w3.matches[0]!.candidates, D.minCandidates);
});

t.test('maxRing and maxPickupDistanceM cap the search', async (t) => {
  const w = world({ maxRing: 3 });
  const r1 = w.restaurant();
  w.rider('far', near(3_000));
  const o = w.order(r1);
  t.equal(w.orderState(o), 'dispatching.searching', 'a rider beyond ring 3 is not found');
  w.rider('in', near(400));
  w.clock.advance(D.dispatchRetryMs);
  t.equal(offeredTo(w, o), 'in');

  const w2 = world({ maxPickupDistanceM: 1_000 });
  const r2 = w2.restaurant();
  w2.rider('out', near(1_500));
  const o2 = w2.order(r2);
  t.equal(w2.orderState(o2), 'dispatching.searching', 'a rider beyond maxPickupDistanceM is not offered');
  w2.rider('in', near(800));
  w2.clock.advance(D.dispatchRetryMs);
  t.equal(offeredTo(w2, o2), 'in');
});

t.test('stale positions are ignored until refreshed', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(300));
  w.clock.advance(D.positionStaleMs + 1);
  const o = w.order(r1);
  t.equal(w.orderState(o), 'dispatching.searching', 'no offer on a stale position');
  w.move(a, near(300));
  w.clock.advance(D.dispatchRetryMs);
  t.equal(offeredTo(w, o), a, 'offered once fresh');
});

t.test('disconnected, on-break, offline, offered and busy riders are never offered', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const busy = w.rider('busy', near(100));
  const o1 = w.order(r1);
  w.engine.acceptOffer(busy, o1);
  const holding = w.rider('holding', near(110));
  const o2 = w.order(r1);
  t.equal(offeredTo(w, o2), holding);
  w.engine.riderDisconnected(w.rider('gone', near(120)));
  w.engine.riderBreak(w.rider('resting', near(130)));
  w.engine.riderOffline(w.rider('off', near(140)));
  w.rider('free', near(1_500));
  const o3 = w.order(r1);
  t.equal(offeredTo(w, o3), 'free', 'only the free rider far away');
  t.equal(offers(w).filter((e) => e.riderId === holding).length, 1, 'a rider never holds two offers');
  t.same(checkInvariants(w.engine), []);
});

t.test('idle time is fair: a long-idle rider beats a slightly nearer fresh one', async (t) => {
  for (const idleWeight of [D.scoring.idleWeight, 0]) {
    const w = world({ scoring: { idleWeight } });
    const r1 = w.restaurant();
    const waiting = w.rider('waiting', near(600));
    w.clock.advance(30 * 60_000);
    w.move(waiting, near(600));
    w.rider('fresh', near(200));
    const o = w.order(r1);
    t.equal(offeredTo(w, o), idleWeight > 0 ? 'waiting' : 'fresh', `idleWeight ${idleWeight}`);
  }
});

t.test('acceptance rate counts: a rider who keeps declining loses to a slightly farther one', async (t) => {
  for (const acceptancePenaltyS of [D.scoring.acceptancePenaltyS, 0]) {
    const w = world({ scoring: { idleWeight: 0, acceptancePenaltyS } });
    const r1 = w.restaurant();
    const picky = w.rider('picky', near(200));
    for (let i = 0; i < 3; i++) {
      const o = w.order(r1);
      t.ok(w.engine.declineOffer(picky, o).ok, `picky declines ${i + 1}`);
      w.engine.cancelOrder({ orderId: o, by: 'admin' });
    }
    w.rider('keen', near(300));
    const o = w.order(r1);
    t.equal(offeredTo(w, o), acceptancePenaltyS > 0 ? 'keen' : 'picky', `acceptancePenaltyS ${acceptancePenaltyS}`);
  }
});

t.test('decline moves to the next candidate; a decliner never gets the order again', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const riders = ['a', 'b', 'c'].map((id, i) => w.rider(id, near(200 + 200 * i)));
  const o = w.order(r1);
  for (const r of riders) {
    t.equal(offeredTo(w, o), r, `offered to ${r}`);
    t.ok(w.engine.declineOffer(r, o).ok, `${r} declines`);
    t.match(w.engine.declineOffer(r, o), { ok: false, code: 'OFFER_EXPIRED' }, `${r} cannot decline twice`);
  }
  t.equal(w.orderState(o), 'dispatching.searching');
  for (const r of riders) w.move(r, near(50));
  w.clock.advance(D.dispatchRetryMs * 3);
  t.equal(offers(w, o).length, 3, 'no rider offered twice');
  const d = w.rider('d', near(900));
  w.clock.advance(D.dispatchRetryMs);
  t.equal(offeredTo(w, o), d, 'a newcomer gets it');
  t.same(checkInvariants(w.engine), []);
});

/** The point nearest the centre (on a 25 m × 5° grid) whose res-`res` parent differs from the centre's. */
function acrossShard(res: number) {
  const home = cellToParent(latLngToCell(CENTRE.lat, CENTRE.lng, 9), res);
  for (let m = 25; m < 5_000; m += 25) {
    for (let b = 0; b < 360; b += 5) {
      const p = near(m, b);
      if (cellToParent(latLngToCell(p.lat, p.lng, 9), res) !== home) return { p, m, b, home };
    }
  }
  throw new Error('no shard boundary within 5 km');
}

t.test('riders in a neighbouring shard count', async (t) => {
  const { p, m, home } = acrossShard(7);
  const w = world({ shardResolution: 7 });
  const r1 = w.restaurant();
  const a = w.rider('a', p);
  w.rider('b', near(m + 600, 0));
  const rec = w.engine.internals.riders.get(a)!;
  t.not(rec.shardKey, home, `rider ${m} m away sits in another shard`);
  t.ok(w.engine.internals.shards.get(home as H3Cell)!.restaurants.has(r1), 'restaurant in the home shard');
  const o = w.order(r1);
  t.equal(offeredTo(w, o), a, 'the nearest rider, across the boundary, is offered');
  t.ok(w.engine.acceptOffer(a, o).ok);
  t.same(checkInvariants(w.engine), []);
});

t.test('a rider moving across cells and shards stays consistent', async (t) => {
  const { b, home } = acrossShard(7);
  const w = world({ shardResolution: 7 });
  const r1 = w.restaurant();
  const a = w.rider('a', near(2_000, b));
  const shards = new Set<string>();
  const cells = new Set<string>();
  for (let m = 2_000; m >= 0; m -= 40) {
    w.clock.advance(1_000);
    const p = near(m, b);
    w.move(a, p);
    const rec = w.engine.internals.riders.get(a)!;
    shards.add(rec.shardKey!);
    cells.add(rec.cell!);
    if (rec.cell !== latLngToCell(p.lat, p.lng, 9)) t.fail(`cell wrong at ${m} m`);
    const bad = checkInvariants(w.engine);
    if (bad.length) t.fail(`at ${m} m: ${bad.join('; ')}`);
  }
  t.ok(shards.size >= 2 && shards.has(home), `crossed ${shards.size} shards, ${cells.size} cells`);
  t.ok(cells.size > 5, 'crossed many cells');
  const o = w.order(r1);
  t.equal(offeredTo(w, o), a, 'found where it ended up');
  t.same(checkInvariants(w.engine), []);
});
