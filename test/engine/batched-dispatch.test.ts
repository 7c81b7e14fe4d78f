import t from 'tap';
import { cellToParent, latLngToCell } from 'h3-js';
import {
  checkInvariants,
  defaultEngineConfig as D,
  Engine,
  type EngineEvent,
  type EngineSnapshot,
  type OrderId,
  SimulatedClock,
} from '../../engine/index.js';
import { CENTRE, near, rid, world, type World } from './world.js';

/** Batched dispatch: a shard's orders wait for the window, then one least-cost assignment. */

type Offered = Extract<EngineEvent, { type: 'order_offered' }>;
const offers = (w: World, o?: OrderId) =>
  w.events.filter((e): e is Offered => e.type === 'order_offered' && (o === undefined || e.id === o));
const offeredTo = (w: World, o: OrderId) => offers(w, o).at(-1)?.riderId;
/** Milliseconds from now to the next batch close (closes fall on multiples of the window). */
const toClose = (w: World, windowMs: number) => (Math.floor(w.clock.now() / windowMs) + 1) * windowMs - w.clock.now();
const SHARD = cellToParent(latLngToCell(CENTRE.lat, CENTRE.lng, D.indexResolution), D.shardResolution);

/**
 * Restaurant a at the centre, b 800 m east (in the next shard: the centre is near a shard's edge). Rider x is 350 m east of a (450 m from b), rider y
 * 500 m west of a (1,300 m from b). An order at a comes first, then one at b.
 */
function twoOrders(w: World): { oa: OrderId; ob: OrderId } {
  const a = w.restaurant('a', CENTRE);
  const b = w.restaurant('b', near(800, 90));
  w.rider('x', near(350, 90));
  w.rider('y', near(500, 270));
  const oa = w.order(a, { id: 'oa' });
  const ob = w.order(b, { id: 'ob' });
  return { oa, ob };
}

t.test(
  'greedy gives the first order its nearest rider and the second a far one; a batch pairs them better, across two shards',
  async (t) => {
    const g = world();
    const gs = twoOrders(g);
    t.equal(offeredTo(g, gs.oa), 'x');
    t.equal(offeredTo(g, gs.ob), 'y');
    const greedyM = offers(g).reduce((s, e) => s + e.pickupDistanceM, 0);

    const w = world({ dispatchPolicy: 'batched', batchWindowMs: 2_000 });
    const { oa, ob } = twoOrders(w);
    t.equal(offers(w).length, 0, 'no offer while the window is open');
    t.equal(w.orderState(oa), 'dispatching.searching');
    t.notOk(
      w.events.some((e) => e.type === 'order_no_rider'),
      'waiting in a batch is not a failed search: no order_no_rider',
    );
    w.clock.advance(toClose(w, 2_000) - 1);
    t.equal(offers(w).length, 0, 'still none 1 ms before the close');
    w.clock.advance(1);
    t.equal(w.clock.now() % 2_000, 0, 'the close is on a multiple of the window');
    t.equal(offeredTo(w, oa), 'y');
    t.equal(offeredTo(w, ob), 'x');
    const batchedM = offers(w).reduce((s, e) => s + e.pickupDistanceM, 0);
    t.ok(batchedM < greedyM / 1.5, `pickup distance ${batchedM} m batched against ${greedyM} m greedy`);
    t.not(
      w.engine.shardOf('order', oa),
      w.engine.shardOf('order', ob),
      'the two pickups are in different shards, assigned together because their batches close together',
    );
    for (const e of offers(w)) {
      t.equal(e.at, w.clock.now(), 'offered at the close');
      t.equal(e.trace?.why, 'batch_optimal');
      t.equal(e.trace?.chosen, e.riderId);
      t.ok(
        e.trace?.candidates.some((c) => c.riderId === e.riderId),
        'the chosen rider is among the order’s own traced candidates',
      );
    }
    t.equal(w.matches.length, 2, 'each offer is reported as a match');
    t.same(checkInvariants(w.engine), []);
  },
);

t.test('more orders than riders: the batch gives the riders out, the rest search again later', async (t) => {
  const w = world({ dispatchPolicy: 'batched', batchWindowMs: 1_000 });
  const a = w.restaurant('a', CENTRE);
  w.rider('only', near(300));
  const os = [w.order(a, { id: 'o1' }), w.order(a, { id: 'o2' }), w.order(a, { id: 'o3' })];
  w.clock.advance(toClose(w, 1_000));
  t.equal(offers(w).length, 1, 'one rider, one offer');
  const none = w.events.filter((e) => e.type === 'order_no_rider');
  t.equal(none.length, 2, 'the other two hear that no rider is free');
  for (const e of none) {
    t.equal(e.retryAt, w.clock.now() + D.dispatchRetryMs);
  }
  t.same(os.map((o) => w.orderState(o)).sort(), [
    'dispatching.offered',
    'dispatching.searching',
    'dispatching.searching',
  ]);
  t.same(checkInvariants(w.engine), []);
});

t.test('six orders at one restaurant, six riders: each order gets a rider, not only its five best', async (t) => {
  const w = world({ dispatchPolicy: 'batched', batchWindowMs: 1_000 });
  const a = w.restaurant('a', CENTRE);
  for (let i = 0; i < 6; i++) w.rider(`r${i}`, near(200 + 150 * i, 60 * i));
  const os = Array.from({ length: 6 }, (_, i) => w.order(a, { id: `o${i}` }));
  w.clock.advance(toClose(w, 1_000));
  t.equal(offers(w).length, 6);
  t.equal(new Set(offers(w).map((e) => e.riderId)).size, 6, 'six different riders');
  for (const o of os) t.equal(w.orderState(o), 'dispatching.offered');
  t.same(checkInvariants(w.engine), []);
});

t.test('a declined offer goes back into the next batch, and the next rider gets it', async (t) => {
  const w = world({ dispatchPolicy: 'batched', batchWindowMs: 1_000 });
  const a = w.restaurant('a', CENTRE);
  w.rider('first', near(200));
  w.rider('second', near(900));
  const o = w.order(a);
  w.clock.advance(toClose(w, 1_000));
  t.equal(offeredTo(w, o), 'first');
  t.ok(w.engine.declineOffer(rid('first'), o).ok, 'declined');
  t.equal(offers(w, o).length, 1, 'no new offer before the next batch closes');
  w.clock.advance(toClose(w, 1_000));
  t.equal(offeredTo(w, o), 'second');
  t.same(checkInvariants(w.engine), []);
});

t.test('the policy is per shard and changes at run time; bad arguments are refused', async (t) => {
  const w = world();
  const a = w.restaurant('a', CENTRE);
  w.rider('x', near(300));
  w.rider('y', near(600));
  const set = (policy: string, shard: string = SHARD) =>
    w.engine.execute({ type: 'set_shard_policy', shard, policy: policy as 'batched' });

  t.match(set('batched'), { queued: false, result: { ok: true } });
  const o1 = w.order(a, { id: 'o1' });
  t.equal(offers(w, o1).length, 0, 'batched: waits for the window');
  w.clock.advance(toClose(w, D.batchWindowMs));
  t.equal(offers(w, o1).length, 1);

  t.match(set('default'), { result: { ok: true } });
  const o2 = w.order(a, { id: 'o2' });
  t.equal(offers(w, o2).length, 1, 'back to the engine default (greedy): offered at once');
  t.equal(offers(w, o2)[0]!.trace?.why, 'best_score');

  t.match(set('fastest'), { result: { ok: false, code: 'INVALID_ARGUMENT', detail: /greedy, batched, default/ } });
  t.match(set('batched', 'not-a-cell'), { result: { ok: false, code: 'INVALID_ARGUMENT' } });
  const other = cellToParent(latLngToCell(CENTRE.lat, CENTRE.lng, 9), 5);
  t.match(set('batched', other), { result: { ok: false, code: 'INVALID_ARGUMENT', detail: /resolution 6/ } });
});

t.test('the window is a dispatch setting: checked, and effective for the next batch', async (t) => {
  const w = world({ dispatchPolicy: 'batched' });
  t.match(w.engine.execute({ type: 'set_dispatch_config', settings: { batchWindowMs: 50 } }), {
    result: { ok: false, code: 'INVALID_ARGUMENT', detail: /batchWindowMs must be an integer in 100\.\.60000/ },
  });
  t.match(w.engine.execute({ type: 'set_dispatch_config', settings: { batchWindowMs: 5_000 } }), {
    result: { ok: true, value: { batchWindowMs: 5_000 } },
  });
  const a = w.restaurant('a', CENTRE);
  w.rider('x', near(300));
  const o = w.order(a);
  w.clock.advance(toClose(w, 5_000) - 1);
  t.equal(offers(w, o).length, 0);
  w.clock.advance(1);
  t.equal(offers(w, o).length, 1);
});

t.test('an order past its give-up time in a batch is cancelled, not kept', async (t) => {
  const w = world({ dispatchPolicy: 'batched', batchWindowMs: 60_000, dispatchGiveUpMs: 30_000 });
  const a = w.restaurant('a', CENTRE);
  const o = w.order(a);
  w.clock.advance(30_000);
  t.equal(w.orderState(o), 'cancelled');
  t.match(w.of(o).at(-1), { type: 'order_cancelled', reason: 'no_rider' });
  t.same(checkInvariants(w.engine), []);
});

t.test('a snapshot taken while orders wait in a batch restores, and they are offered one window later', async (t) => {
  const w = world({ dispatchPolicy: 'batched', batchWindowMs: 2_000 });
  const a = w.restaurant('a', CENTRE);
  w.rider('x', near(300));
  const o = w.order(a);
  const close = toClose(w, 2_000);
  w.clock.advance(close - 500);
  const snap = JSON.parse(JSON.stringify(w.engine.toSnapshot())) as EngineSnapshot;
  const clock = new SimulatedClock(w.clock.now());
  const engine = Engine.restore(snap, { clock, config: { dispatchPolicy: 'batched', batchWindowMs: 2_000 } });
  const seen: EngineEvent[] = [];
  engine.subscribe((e) => seen.push(e));
  // The open batch was memory: at the old close the order's retry opens a new one, which closes a window later.
  clock.advance(500);
  t.notOk(
    seen.some((e) => e.type === 'order_offered'),
    'not at the old close',
  );
  clock.advance(1_999);
  t.notOk(seen.some((e) => e.type === 'order_offered'));
  clock.advance(1);
  t.match(
    seen.find((e) => e.type === 'order_offered'),
    { id: o, riderId: 'x', trace: { why: 'batch_optimal' } },
    'offered at the close after (a restart costs a waiting order one window at most)',
  );
  t.same(checkInvariants(engine), []);
});
