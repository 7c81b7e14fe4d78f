import t from 'tap';
import { checkInvariants, type EngineEvent } from '../../engine/index.js';
import { world, near, rid } from './world.js';

/** A rider of capacity `capacity`, online and idle at `at`. */
function stackRider(w: ReturnType<typeof world>, id: string, capacity: number, at = near(300)) {
  const r = rid(id);
  const a = w.engine.registerRider({ riderId: r, capacity });
  if (!a.ok) throw new Error(a.detail);
  w.engine.riderOnline(r);
  w.engine.updateRiderPosition(r, at.lat, at.lng, 5, NaN, 0, w.clock.now());
  return r;
}

const offered = (w: ReturnType<typeof world>, orderId: string) =>
  w.events
    .filter((e): e is Extract<EngineEvent, { type: 'order_offered' }> => e.type === 'order_offered' && e.id === orderId)
    .at(-1);

t.test('a second order from the same restaurant joins a rider heading there', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const s = stackRider(w, 's', 2);
  const a = w.order(r1);
  t.ok(w.engine.acceptOffer(s, a).ok, 's takes the first order');
  const far = w.rider('far', near(4000, 180));
  const b = w.order(r1);
  const offer = offered(w, b)!;
  t.equal(offer.riderId, s, 'offered to the rider already heading to the restaurant, not the free one far away');
  t.equal(offer.trace?.why, 'stacked');
  t.same(
    offer.stops?.map((x) => `${x.kind}:${x.orderId === a ? 'a' : 'b'}`),
    ['pickup:a', 'pickup:b', 'drop:a', 'drop:b'],
    'the offer carries the route: both pickups, then the drops by promise',
  );
  t.equal(w.riderState(far), 'online.idle', 'the free rider was not offered it');
  t.ok(w.engine.acceptOffer(s, b).ok, 's accepts the stacked order');
  t.same(checkInvariants(w.engine), []);
  const jobs = w.engine.getRiderJobs(s);
  t.same(jobs.ok && jobs.value.map((j) => [j.orderId, j.stage, j.stops?.length]), [
    [a, 'assigned', 4],
    [b, 'assigned', 4],
  ]);
  t.ok(w.engine.pickedUp(s, a).ok);
  t.ok(w.engine.pickedUp(s, b).ok);
  t.equal(w.riderState(s), 'online.delivering');
  t.ok(w.engine.delivered(s, a).ok);
  t.equal(w.riderState(s), 'online.delivering', 'still carrying the second order');
  t.same(checkInvariants(w.engine), []);
  t.ok(w.engine.delivered(s, b).ok);
  t.equal(w.riderState(s), 'online.idle');
  t.equal(w.orderState(a), 'delivered');
  t.equal(w.orderState(b), 'delivered');
  t.same(checkInvariants(w.engine), []);
});

t.test('a rider of capacity 1 is never stacked, and a full rider takes no more', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const one = stackRider(w, 'one', 1);
  const a = w.order(r1);
  t.ok(w.engine.acceptOffer(one, a).ok);
  const far = w.rider('far', near(4000, 180));
  const b = w.order(r1);
  t.equal(offered(w, b)?.riderId, far);
  t.equal(offered(w, b)?.stops, undefined, 'a plain offer has no route');

  const w2 = world();
  const r2 = w2.restaurant();
  const two = stackRider(w2, 'two', 2);
  const x = w2.order(r2);
  t.ok(w2.engine.acceptOffer(two, x).ok);
  const y = w2.order(r2);
  t.ok(w2.engine.acceptOffer(two, y).ok, 'the second fills it');
  const other = w2.rider('other', near(4000, 180));
  const z = w2.order(r2);
  t.equal(offered(w2, z)?.riderId, other, 'a third goes to another rider');
  t.same(checkInvariants(w2.engine), []);
});

t.test('no stack that would break a promise the rider already carries', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const s = stackRider(w, 's', 2);
  const a = w.order(r1);
  t.ok(w.engine.acceptOffer(s, a).ok);
  w.rider('free', near(1500, 180));
  // Food 40 minutes away: waiting for it would make the first order late.
  const b = w.order(r1, { prepMinutes: 40 });
  w.clock.advance(40 * 60_000);
  const offer = offered(w, b);
  t.not(offer?.riderId, s, 'the slow order does not join the route');
  t.same(checkInvariants(w.engine), []);
});

t.test('a stack leaves stackSlackS before every promise on the route', async (t) => {
  const stackedWith = (stackSlackS: number) => {
    const w = world({ stackSlackS });
    const r1 = w.restaurant();
    const s = stackRider(w, 's', 2);
    const a = w.order(r1);
    if (!w.engine.acceptOffer(s, a).ok) throw new Error('not accepted');
    w.rider('far', near(4000, 180));
    return offered(w, w.order(r1))?.riderId === s;
  };
  t.ok(stackedWith(0), 'no slack: the stack is taken');
  t.ok(stackedWith(420), 'the default leaves room for it too');
  // A promise is at most 45 minutes away (promiseMs): no route leaves 59 minutes before it.
  t.notOk(stackedWith(3540), 'a slack no route can leave: the order goes to the free rider');
  t.throws(() => world({ stackSlackS: 3601 }), /stackSlackS must be a number in 0\.\.3600/);
});

t.test('a cancelled lead hands the lead on; going offline releases every job', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const s = stackRider(w, 's', 3);
  const a = w.order(r1);
  t.ok(w.engine.acceptOffer(s, a).ok);
  const b = w.order(r1);
  t.ok(w.engine.acceptOffer(s, b).ok);
  t.ok(w.engine.cancelOrder({ orderId: a, by: 'admin' }).ok, 'an operator cancels the first order');
  t.equal(w.riderState(s), 'online.to_pickup', 'on to the stacked order');
  const lead = w.engine.getRiderJob(s);
  t.equal(lead.ok && lead.value?.orderId, b, 'the stacked order is the lead now');
  t.same(checkInvariants(w.engine), []);
  const c = w.order(r1);
  t.equal(offered(w, c)?.riderId, s);
  t.ok(w.engine.acceptOffer(s, c).ok);
  t.ok(w.engine.setRiderStatus(s, 'offline').ok, 'offline before any pickup');
  t.equal(w.riderState(s), 'offline');
  for (const o of [b, c]) t.match(w.orderState(o), /^dispatching/, 'each job is searched again');
  t.same(checkInvariants(w.engine), []);
});

t.test('a stack offer survives a restore, and a snapshot row written before stacking restores', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const s = stackRider(w, 's', 2);
  const a = w.order(r1);
  t.ok(w.engine.acceptOffer(s, a).ok);
  w.order(r1);
  const snap = JSON.parse(JSON.stringify(w.engine.toSnapshot()));
  const row = snap.riders.find((r: { id: string }) => r.id === s);
  t.ok(row.context.stackOffer, 'the stack offer is in the rider row');
  const { Engine, SimulatedClock } = await import('../../engine/index.js');
  const restored = Engine.restore(snap, { clock: new SimulatedClock(snap.at) });
  t.same(checkInvariants(restored), []);
  const jobs = restored.getRiderJobs(s);
  t.equal(jobs.ok && jobs.value.length, 2, 'the lead job and the stack offer');
  const old = JSON.parse(JSON.stringify(w.engine.toSnapshot()));
  for (const r of old.riders) {
    if (r.id === s) continue;
    delete r.context.stack;
    delete r.context.stackOffer;
  }
  const older = Engine.restore(old, { clock: new SimulatedClock(old.at) });
  t.same(checkInvariants(older), [], 'rows without stack fields restore as riders with none');
});

t.test('where riders are not short, a free rider in time for the food is preferred to a stack', async (t) => {
  const run = (policy: 'greedy' | 'batched', stackSpareShare: number, busy: number) => {
    const w = world({ stackSpareShare, dispatchPolicy: policy });
    // Under the batched policy an order is offered when its shard's batch closes.
    const order = (r: Parameters<typeof w.order>[0]) => {
      const id = w.order(r);
      if (policy === 'batched') w.clock.advance(2_000);
      return id;
    };
    const r1 = w.restaurant();
    const s = stackRider(w, 's', 2);
    const a = order(r1);
    if (!w.engine.acceptOffer(s, a).ok) throw new Error('not accepted');
    // Riders busy with jobs of their own, in the same shard (north of the centre; east is another).
    const r2 = w.restaurant('r2', near(1000, 0));
    for (let i = 0; i < busy; i++) {
      const id = stackRider(w, `busy-${i}`, 1, near(1000, 0));
      if (!w.engine.acceptOffer(id, order(r2)).ok) throw new Error('busy rider did not take its job');
    }
    const free = w.rider('free', near(800, 180));
    const b = order(r1);
    const o = offered(w, b)!;
    t.same(checkInvariants(w.engine), []);
    return o.riderId === free ? 'free' : o.riderId === s && o.trace?.why === 'stacked' ? 'stacked' : o.riderId;
  };
  for (const policy of ['greedy', 'batched'] as const) {
    t.equal(run(policy, 0.2, 0), 'free', `${policy}: half the riders free: the free rider, 800 m away, takes it`);
    t.equal(run(policy, 1, 0), 'stacked', `${policy}: stackSpareShare 1: the stack, which adds less, takes it`);
    t.equal(run(policy, 0.2, 8), 'stacked', `${policy}: one rider in ten free: riders are short, the stack takes it`);
  }
  t.throws(() => world({ stackSpareShare: 1.5 }), /stackSpareShare must be a number in 0\.\.1/);
});
