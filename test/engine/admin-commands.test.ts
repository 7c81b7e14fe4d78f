import t from 'tap';
import { checkInvariants, type OrderId, type RiderId } from '../../engine/index.js';
import { near, seqGaps, world } from './world.js';

/** The operators' commands: force-assign, reassign, drain, dispatch settings, and the invariants after each. */

const exec = (w: ReturnType<typeof world>, cmd: Parameters<ReturnType<typeof world>['engine']['execute']>[0]) => {
  const out = w.engine.execute(cmd);
  if (out.queued) throw new Error('queued');
  return out;
};

t.test('force-assign a searching order to a chosen rider', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const o = w.order(rest); // no rider yet: searching
  t.equal(w.orderState(o), 'dispatching.searching');
  const far = w.rider('far', near(2500));
  w.rider('near', near(100));
  // The near rider got the next search's offer? No: the order only searches again at its retry.
  t.equal(w.orderState(o), 'dispatching.searching');
  const out = exec(w, { type: 'force_assign', orderId: o, riderId: far });
  t.same(out.result, { ok: true, value: null });
  t.same(
    out.events.map((e) => e.type),
    ['order_offered', 'rider_offered', 'order_assigned', 'rider_assigned'],
  );
  t.equal(w.orderState(o), 'assigned');
  t.equal(w.riderState(far), 'online.to_pickup');
  t.same(checkInvariants(w.engine), []);
  t.same(seqGaps(w.events), []);
});

t.test('force-assign withdraws a live offer to another rider', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const first = w.rider('first', near(100));
  const other = w.rider('other', near(3000));
  const o = w.order(rest);
  t.equal(w.engine.getOrder(o).ok && (w.engine.getOrder(o) as { value: { riderId: RiderId } }).value.riderId, first);
  const out = exec(w, { type: 'force_assign', orderId: o, riderId: other });
  t.ok(out.result.ok);
  t.same(
    out.events.map((e) => e.type),
    ['order_offer_ended', 'rider_offer_ended', 'order_offered', 'rider_offered', 'order_assigned', 'rider_assigned'],
  );
  t.equal(w.riderState(first), 'online.idle', 'the first rider is free again');
  t.equal(w.riderState(other), 'online.to_pickup');
  t.same(checkInvariants(w.engine), []);
  // The first rider's answer now finds no offer.
  t.match(w.engine.acceptOffer(first, o), { ok: false, code: 'OFFER_EXPIRED' });
});

t.test('force-assign to the rider already offered it accepts the offer', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const r = w.rider('only', near(100));
  const o = w.order(rest);
  const out = exec(w, { type: 'force_assign', orderId: o, riderId: r });
  t.same(
    out.events.map((e) => e.type),
    ['order_assigned', 'rider_assigned'],
  );
  t.same(checkInvariants(w.engine), []);
});

t.test('force-assign refuses what would break an invariant', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const busy = w.rider('busy', near(100));
  const o1 = w.order(rest);
  t.ok(w.engine.acceptOffer(busy, o1).ok);
  const o2 = w.order(rest);
  const n = w.events.length;
  t.match(exec(w, { type: 'force_assign', orderId: o2, riderId: busy }).result, {
    ok: false,
    code: 'RIDER_INVALID_TRANSITION',
  });
  t.match(exec(w, { type: 'force_assign', orderId: o1, riderId: busy }).result, {
    ok: false,
    code: 'ORDER_INVALID_TRANSITION',
  });
  const offline = w.rider('gone', near(200));
  w.engine.riderOffline(offline);
  t.match(exec(w, { type: 'force_assign', orderId: o2, riderId: offline }).result, {
    code: 'RIDER_INVALID_TRANSITION',
  });
  const disc = w.rider('disc', near(200));
  w.engine.riderDisconnected(disc);
  const m = w.events.length;
  t.match(exec(w, { type: 'force_assign', orderId: o2, riderId: disc }).result, { code: 'RIDER_INVALID_TRANSITION' });
  t.equal(w.events.length, m, 'a refusal emits nothing');
  t.match(exec(w, { type: 'force_assign', orderId: 'nope' as OrderId, riderId: busy }).result, {
    code: 'ORDER_NOT_FOUND',
  });
  t.match(exec(w, { type: 'force_assign', orderId: o2, riderId: 'nobody' as RiderId }).result, {
    code: 'RIDER_NOT_FOUND',
  });
  t.ok(w.events.length >= n);
  t.same(checkInvariants(w.engine), []);
});

t.test('force-assign a preparing order dispatches it to that rider', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const r = w.rider('early', near(400));
  const o = w.order(rest, { prepMinutes: 30 });
  t.equal(w.orderState(o), 'preparing');
  const out = exec(w, { type: 'force_assign', orderId: o, riderId: r });
  t.ok(out.result.ok);
  t.equal(out.events[0]?.type, 'order_dispatchable');
  t.equal(w.orderState(o), 'assigned');
  t.same(checkInvariants(w.engine), []);
});

t.test('reassign to a named rider, and back to the search', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const a = w.rider('a', near(100));
  const o = w.order(rest);
  t.ok(w.engine.acceptOffer(a, o).ok);
  const b = w.rider('b', near(800));
  const out = exec(w, { type: 'reassign', orderId: o, riderId: b });
  t.ok(out.result.ok);
  t.same(
    out.events.map((e) => e.type),
    ['order_unassigned', 'rider_released', 'order_offered', 'rider_offered', 'order_assigned', 'rider_assigned'],
  );
  t.equal(w.riderState(a), 'online.idle');
  t.equal(w.riderState(b), 'online.to_pickup');
  t.same(checkInvariants(w.engine), []);
  t.match(w.engine.pickedUp(a, o), { ok: false, code: 'RIDER_NOT_ASSIGNED' }, 'the old rider lost the job');

  // Without a rider: the order searches again, never offered to a rider who held it.
  const c = w.rider('c', near(1500));
  const back = exec(w, { type: 'reassign', orderId: o });
  t.ok(back.result.ok);
  const view = w.engine.getOrder(o);
  t.match(view, { ok: true, value: { state: 'dispatching.offered', riderId: c } }, 'c, though a and b are nearer');
  t.same(checkInvariants(w.engine), []);

  t.match(exec(w, { type: 'reassign', orderId: o }).result, { code: 'ORDER_INVALID_TRANSITION' });
  t.ok(w.engine.acceptOffer(c, o).ok);
  t.match(exec(w, { type: 'reassign', orderId: o, riderId: c }).result, { code: 'INVALID_ARGUMENT' });
  t.ok(w.engine.pickedUp(c, o).ok);
  t.match(exec(w, { type: 'reassign', orderId: o, riderId: b }).result, { code: 'RIDER_HAS_ACTIVE_JOB' });
  t.same(seqGaps(w.events), []);
});

t.test("operator moves mixed with riders' answers keep one rider per order and one order per rider", async (t) => {
  const w = world();
  const rest = w.restaurant('r1', undefined, 10, 10_000);
  const riders = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'].map((id, i) =>
    w.rider(id, near(100 + i * 150, i * 45)),
  );
  const orders: OrderId[] = [];
  let seed = 12345;
  const pick = <T>(xs: readonly T[]): T => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return xs[(seed >>> 16) % xs.length]!;
  };
  const moves = { force: 0, reassign: 0, search: 0 };
  for (let step = 0; step < 600; step++) {
    const live = orders.filter((x) => !['delivered', 'cancelled'].includes(w.orderState(x)));
    if (live.length < 4) live.push(w.order(rest));
    orders.splice(0, orders.length, ...live);
    const o = pick(orders);
    const r = pick(riders);
    const kind = pick(['force', 'reassign', 'search', 'accept', 'pickup', 'deliver', 'decline', 'clock'] as const);
    if (kind === 'force') {
      if (exec(w, { type: 'force_assign', orderId: o, riderId: r }).result.ok) moves.force++;
    } else if (kind === 'reassign') {
      if (exec(w, { type: 'reassign', orderId: o, riderId: r }).result.ok) moves.reassign++;
    } else if (kind === 'search') {
      if (exec(w, { type: 'reassign', orderId: o }).result.ok) moves.search++;
    } else if (kind === 'accept') w.engine.acceptOffer(r, o);
    else if (kind === 'decline') w.engine.declineOffer(r, o);
    else if (kind === 'pickup') w.engine.pickedUp(r, o);
    else if (kind === 'deliver') w.engine.delivered(r, o);
    else w.clock.advance(7_000);
    const bad = checkInvariants(w.engine);
    if (bad.length > 0) return t.fail(`step ${step} (${kind}): ${bad.join('; ')}`);
  }
  t.ok(
    moves.force > 5 && moves.reassign > 5 && moves.search > 5,
    `operator moves that succeeded: ${JSON.stringify(moves)}`,
  );
  t.same(seqGaps(w.events), []);
});

t.test('a drained shard takes no new orders; undrained it does again', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const shard = w.engine.shardStats()[0]!.shard;
  const o = w.order(rest, { prepMinutes: 30 });
  t.ok(exec(w, { type: 'drain_shard', shard, drained: true }).result.ok);
  t.match(w.engine.shardStats()[0], { shard, drained: true, ordersLive: 1 });
  t.throws(() => w.order(rest), /drained/);
  t.equal(w.orderState(o), 'preparing', 'what the shard holds goes on');
  t.ok(exec(w, { type: 'drain_shard', shard, drained: false }).result.ok);
  t.ok(w.order(rest));
  t.match(exec(w, { type: 'drain_shard', shard: 'not-a-cell', drained: true }).result, { code: 'INVALID_ARGUMENT' });
  t.match(
    exec(w, { type: 'drain_shard', shard: '8928308280fffff', drained: true }).result,
    {
      code: 'INVALID_ARGUMENT',
    },
    'a cell at another resolution',
  );
});

t.test('dispatch settings change at once, validated', async (t) => {
  const w = world();
  const rest = w.restaurant();
  w.rider('x', near(3000));
  const out = exec(w, {
    type: 'set_dispatch_config',
    settings: { maxPickupDistanceM: 2_000, offerTimeoutMs: 5_000, scoring: { idleWeight: 0.5 } },
  });
  t.match(out.result, {
    ok: true,
    value: { maxPickupDistanceM: 2_000, offerTimeoutMs: 5_000, scoring: { idleWeight: 0.5 } },
  });
  t.equal(w.engine.config.maxPickupDistanceM, 2_000);
  const o = w.order(rest);
  t.equal(w.orderState(o), 'dispatching.searching', 'the rider 3 km away is beyond the new cap');
  exec(w, { type: 'set_dispatch_config', settings: { maxPickupDistanceM: 6_000 } });
  w.clock.advance(w.engine.config.dispatchRetryMs);
  const v = w.engine.getOrder(o);
  t.match(v, { ok: true, value: { state: 'dispatching.offered' } });
  if (v.ok) t.equal(v.value.offer!.expiresAt, w.clock.now() + 5_000, 'the new offer expiry');

  const before = w.engine.config;
  for (const bad of [
    { maxRing: -1 },
    { maxRing: 1.5 },
    { offerTimeoutMs: 'soon' },
    { shardResolution: 5 },
    { scoring: { nope: 1 } },
    { scoring: 3 },
    null,
    [1],
  ]) {
    const r = exec(w, { type: 'set_dispatch_config', settings: bad as never }).result;
    t.match(r, { ok: false, code: 'INVALID_ARGUMENT' }, JSON.stringify(bad));
  }
  t.equal(w.engine.config, before, 'a refused change changes nothing');
});

t.test('lists page in id order and filter', async (t) => {
  const w = world();
  const rest = w.restaurant();
  for (let i = 0; i < 7; i++) w.rider(`p${i}`, near(200 + i * 100));
  w.engine.registerRider({ riderId: 'z-off' as RiderId });
  const first = w.engine.listRiders({ pageSize: 3, after: '', state: 'online' });
  t.same(
    first.items.map((r) => r.id),
    ['p0', 'p1', 'p2'],
  );
  t.equal(first.next, 'p2');
  const second = w.engine.listRiders({ pageSize: 3, after: first.next, state: 'online' });
  t.same(
    second.items.map((r) => r.id),
    ['p3', 'p4', 'p5'],
  );
  const last = w.engine.listRiders({ pageSize: 3, after: second.next, state: 'online' });
  t.same(
    last.items.map((r) => r.id),
    ['p6'],
  );
  t.equal(last.next, '');
  t.same(
    w.engine.listRiders({ pageSize: 50, after: '', state: 'offline' }).items.map((r) => r.id),
    ['z-off'],
  );
  const area = w.engine.listRiders({ pageSize: 50, after: '', area: { center: near(0), radiusM: 450 } });
  t.same(
    area.items.map((r) => r.id),
    ['p0', 'p1', 'p2'],
  );
  const o = w.order(rest);
  w.clock.advance(60_000);
  t.same(
    w.engine.listOrders({ pageSize: 10, after: '', state: 'dispatching', restaurantId: rest }).items.map((x) => x.id),
    [o],
  );
  t.same(w.engine.listOrders({ pageSize: 10, after: '', minAgeMs: 120_000 }).items, []);
  t.same(w.engine.listOrders({ pageSize: 10, after: '', state: 'live', minAgeMs: 30_000 }).items.length, 1);
});
