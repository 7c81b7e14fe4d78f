import t from 'tap';
import { checkInvariants, type HandedRider, PositionStatus } from '../../engine/index.js';
import { near, oid, world } from './world.js';

/**
 * Handing a rider over between two partitions' engines (engine/commands/handover.ts): the
 * partition it leaves keeps a tombstone that takes no command and no offer; the one it enters
 * takes it over from the row and serves it, its events going on from the row's seq.
 */

const handOver = (w: ReturnType<typeof world>, riderId: string, to: string) =>
  w.engine.execute({ type: 'hand_over_rider', riderId: riderId as never, to });
const takeOver = (w: ReturnType<typeof world>, riderId: string, from: string, row: HandedRider) =>
  w.engine.execute({ type: 'take_over_rider', riderId: riderId as never, from, row });
const result = <T>(x: { queued: true } | { queued: false; result: unknown }) => {
  if (x.queued) throw new Error('queued');
  return x.result as { ok: true; value: T } | { ok: false; code: string; detail: string };
};

t.test('a free rider handed over: a tombstone here, served there, seqs going on', async (t) => {
  const a = world({}, 1);
  const b = world({}, 2);
  const ra = a.restaurant('ra');
  const rb = b.restaurant('rb');
  const r = a.rider('x', near(300));
  const before = a.of(r).at(-1)!.seq;
  const out = result<HandedRider>(handOver(a, r, 'b'));
  t.ok(out.ok, 'handed over');
  if (!out.ok) return;
  const row = JSON.parse(JSON.stringify(out.value)) as HandedRider;
  t.equal(row.seq, before + 1, 'the row is as of its hand-over event');
  t.match(a.of(r).at(-1), { type: 'rider_handed_over', to: 'b', seq: before + 1 }, 'rider_handed_over');
  t.equal(a.engine.isRiderAvailable(r), false, 'the tombstone is in no index');
  t.equal(a.move(r, near(310)), PositionStatus.UNKNOWN_RIDER, 'the hot path drops its positions');
  const viaCommand = a.engine.execute({
    type: 'update_rider_position',
    riderId: r,
    lat: 12.93,
    lng: 77.62,
    accuracy: 5,
    heading: 0,
    speed: 0,
    at: a.clock.now(),
  });
  t.same(
    !viaCommand.queued && viaCommand.result,
    { ok: true, value: PositionStatus.UNKNOWN_RIDER },
    'positions sent as commands are dropped',
  );
  const refused = a.engine.setRiderStatus(r, 'break');
  t.match(
    refused,
    { ok: false, code: 'NO_PARTITION_OWNER', detail: /handed over to partition b/ },
    "its commands are the other partition's",
  );
  const o = a.order(ra);
  t.equal(a.orderState(o), 'dispatching.searching', 'an order here finds no rider: the tombstone takes no offer');

  t.ok(result(takeOver(b, r, 'a', row)).ok, 'taken over');
  t.match(
    b.of(r).at(-1),
    { type: 'rider_taken_over', from: 'a', seq: before + 2 },
    'rider_taken_over goes on from the row',
  );
  t.equal(b.engine.isRiderAvailable(r), true, 'available there at once: online, idle, positioned');
  const ob = b.order(rb);
  t.equal(b.orderState(ob), 'dispatching.offered', 'an order there is offered to it');
  t.ok(b.engine.acceptOffer(r, ob).ok, 'and it takes the job there');

  t.ok(result(takeOver(b, r, 'a', row)).ok, 'a repeated take-over is answered ok');
  t.equal(b.of(r).filter((e) => e.type === 'rider_taken_over').length, 1, 'and changes nothing');
  const again = result<HandedRider>(handOver(a, r, 'b'));
  t.same(again.ok && again.value.seq, row.seq, 'a repeated hand-over answers the same row');
  t.match(result(handOver(a, r, 'c')), { ok: false, code: 'NO_PARTITION_OWNER' }, 'but not to a third partition');
  t.same(checkInvariants(a.engine), [], 'invariants hold here');
  t.same(checkInvariants(b.engine), [], 'and there');
});

t.test('a rider with an offer or a job stays; bad input is refused', async (t) => {
  const a = world();
  const ra = a.restaurant('ra');
  const r = a.rider('x', near(300));
  const o = a.order(ra);
  t.equal(a.orderState(o), 'dispatching.offered');
  t.match(result(handOver(a, r, 'b')), { ok: false, code: 'RIDER_INVALID_TRANSITION' }, 'offered: stays');
  t.ok(a.engine.acceptOffer(r, o).ok);
  t.match(result(handOver(a, r, 'b')), { ok: false, code: 'RIDER_INVALID_TRANSITION' }, 'assigned: stays');
  t.match(result(handOver(a, 'nobody', 'b')), { ok: false, code: 'RIDER_NOT_FOUND' });
  t.match(result(handOver(a, r, '')), { ok: false, code: 'INVALID_ARGUMENT' });
  const b = world();
  for (const row of [null, { id: 'other', seq: 3 }, { id: r, seq: 1.5 }, { id: r, seq: 2, context: 'x', stats: [] }])
    t.match(
      result(takeOver(b, r, 'a', row as never)),
      { ok: false, code: 'INVALID_ARGUMENT' },
      `refused: ${JSON.stringify(row)}`,
    );
  t.equal(b.engine.getRider(r).ok, false, 'nothing taken over');
});

t.test(
  "a disconnected rider's grace runs out in the partition that took it over, never in the tombstone",
  async (t) => {
    const a = world({ disconnectGraceMs: 10_000 });
    const b = world({ disconnectGraceMs: 10_000 });
    const r = a.rider('x', near(300));
    a.engine.riderDisconnected(r);
    const out = result<HandedRider>(handOver(a, r, 'b'));
    if (!out.ok) throw new Error(out.detail);
    b.clock.advance(a.clock.now() - b.clock.now());
    t.ok(result(takeOver(b, r, 'a', JSON.parse(JSON.stringify(out.value)))).ok);
    const n = a.events.length;
    a.clock.advance(20_000);
    b.clock.advance(20_000);
    t.same(a.since(n), [], 'the tombstone emits nothing when the grace would have ended');
    t.equal(b.riderState(r), 'offline', 'the new partition ends the grace: offline');
    t.same(b.of(r).at(-1)?.type, 'rider_offline');
  },
);

t.test('handed back: the old partition takes its tombstone over again, seqs going on', async (t) => {
  const a = world({}, 1);
  const b = world({}, 2);
  const ra = a.restaurant('ra');
  const r = a.rider('x', near(300));
  const there = result<HandedRider>(handOver(a, r, 'b'));
  if (!there.ok) throw new Error(there.detail);
  t.ok(result(takeOver(b, r, 'a', JSON.parse(JSON.stringify(there.value)))).ok);
  b.clock.advance(1_000);
  b.move(r, near(200));
  const back = result<HandedRider>(handOver(b, r, 'a'));
  if (!back.ok) throw new Error(back.detail);
  t.ok(result(takeOver(a, r, 'b', JSON.parse(JSON.stringify(back.value)))).ok, 'taken back');
  t.equal(a.of(r).at(-1)?.seq, back.value.seq + 1, "its events go on from b's row");
  t.equal(a.engine.isRiderAvailable(r), true, 'served here again');
  const o = a.order(ra, { id: 'o-back' });
  t.equal(a.orderState(o), 'dispatching.offered', 'and offered the next order');
  t.equal(oid('o-back'), o);
  t.same(checkInvariants(a.engine), []);
});

t.test('the border search: a neighbour lends its nearest free rider, offered the order on arrival', async (t) => {
  const p = world({}, 1);
  const q = world({}, 2);
  const pickupAt = near(0);
  const rp = p.restaurant('rp', pickupAt);
  const o = p.order(rp, { id: 'border-1' });
  t.equal(p.orderState(o), 'dispatching.searching', 'no rider in its own partition');
  const lend = (withinM: number) =>
    result<HandedRider | null>(q.engine.execute({ type: 'lend_rider', near: pickupAt, withinM, to: 'p', forOrder: o }));
  t.same(lend(3_000), { ok: true, value: null }, 'none to lend: null');
  const far = q.rider('far', near(2_500));
  const close = q.rider('close', near(700, 180));
  const busy = q.rider('busy', near(100, 270));
  const rq = q.restaurant('rq', near(150, 270));
  q.order(rq);
  t.equal(q.riderState(busy), 'online.offered', 'the closest one is busy with an offer there');
  q.clock.advance(1_000);
  const lent = lend(3_000);
  t.ok(lent.ok && lent.value !== null, 'a rider lent');
  if (!lent.ok || lent.value === null) return;
  t.equal(lent.value.id, close, 'the nearest free one, not the busy one nor the farther one');
  t.match(q.of(close).at(-1), { type: 'rider_handed_over', to: 'p' }, 'handed over there');
  t.equal(q.engine.isRiderAvailable(far), true, 'the other stays');
  p.clock.advance(q.clock.now() - p.clock.now());
  const took = p.engine.execute({
    type: 'take_over_rider',
    riderId: close,
    from: 'q',
    row: JSON.parse(JSON.stringify(lent.value)) as HandedRider,
    forOrder: o,
  });
  t.ok(!took.queued && took.result.ok, 'taken over with the order');
  t.equal(p.orderState(o), 'dispatching.offered', 'and offered it at once');
  const view = p.engine.getOrder(o);
  t.equal(view.ok ? view.value.riderId : view.code, close, 'to the lent rider');
  t.match(
    result(handOver(p, close, 'q')),
    { ok: false, code: 'RIDER_INVALID_TRANSITION' },
    'which stays while it holds the offer',
  );
  q.clock.advance(120_000);
  t.same(lend(3_000), { ok: true, value: null }, 'a stale position is not lent');
  for (const bad of [
    { near: { lat: 91, lng: 0 }, withinM: 100 },
    { near: pickupAt, withinM: 0 },
    { near: pickupAt, withinM: 100_000 },
  ])
    t.match(
      result(q.engine.execute({ type: 'lend_rider', ...bad, to: 'p', forOrder: o })),
      { ok: false, code: 'INVALID_ARGUMENT' },
      `refused: ${JSON.stringify(bad)}`,
    );
  t.same(checkInvariants(p.engine), []);
  t.same(checkInvariants(q.engine), []);
});
