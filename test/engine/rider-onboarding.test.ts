import t from 'tap';
import { Engine, SimulatedClock, type RiderId } from '../../engine/index.js';
import { near, world } from './world.js';

/** Onboarding with review on: pending until approved, a rejection with its reason, documents sent again. */

const exec = (w: ReturnType<typeof world>, cmd: Parameters<Engine['execute']>[0]) => {
  const out = w.engine.execute(cmd);
  if (out.queued) throw new Error('queued');
  return out;
};

t.test('a registered rider is pending and cannot go online until approved', async (t) => {
  const w = world({ riderReview: true });
  const r = 'new' as RiderId;
  t.ok(w.engine.registerRider({ riderId: r }).ok);
  t.match(w.engine.getRider(r), { ok: true, value: { review: { status: 'pending', reason: '' } } });
  t.match(w.engine.riderOnline(r), { ok: false, code: 'RIDER_NOT_APPROVED', detail: /wait for review/ });
  t.match(w.engine.setRiderStatus(r, 'online'), { ok: false, code: 'RIDER_NOT_APPROVED' });
  t.equal(w.riderState(r), 'offline');

  t.match(exec(w, { type: 'review_rider', riderId: r, approve: false }).result, { code: 'INVALID_ARGUMENT' });
  const rejected = exec(w, { type: 'review_rider', riderId: r, approve: false, reason: 'insurance expired' });
  t.ok(rejected.result.ok);
  t.match(rejected.events, [{ type: 'rider_reviewed', decision: 'rejected', reason: 'insurance expired' }]);
  t.match(w.engine.riderOnline(r), { code: 'RIDER_NOT_APPROVED', detail: /insurance expired/ });
  t.match(exec(w, { type: 'review_rider', riderId: r, approve: true }).result, { code: 'RIDER_INVALID_TRANSITION' });

  const again = exec(w, { type: 'submit_rider_documents', riderId: r });
  t.match(again.events, [{ type: 'rider_documents_submitted' }]);
  t.match(w.engine.getRider(r), { ok: true, value: { review: { status: 'pending' } } });
  t.ok(exec(w, { type: 'review_rider', riderId: r, approve: true }).result.ok);
  t.ok(w.engine.riderOnline(r).ok, 'approved: online');
  t.match(exec(w, { type: 'submit_rider_documents', riderId: r }).events, [], 'an approved rider stays approved');
});

t.test('the review survives a snapshot; review off approves at registration', async (t) => {
  const w = world({ riderReview: true });
  w.engine.registerRider({ riderId: 'p' as RiderId });
  w.engine.registerRider({ riderId: 'x' as RiderId });
  exec(w, { type: 'review_rider', riderId: 'x' as RiderId, approve: false, reason: 'blurry licence' });
  const snap = JSON.parse(JSON.stringify(w.engine.toSnapshot())) as ReturnType<Engine['toSnapshot']>;
  const e = Engine.restore(snap, { clock: new SimulatedClock(w.clock.now()), config: { riderReview: true } });
  t.match(e.getRider('p' as RiderId), { ok: true, value: { review: { status: 'pending' } } });
  t.match(e.getRider('x' as RiderId), {
    ok: true,
    value: { review: { status: 'rejected', reason: 'blurry licence' } },
  });

  const off = world();
  const r = off.rider('free', near(100));
  t.match(off.engine.getRider(r), { ok: true, value: { state: 'online.idle', review: { status: 'approved' } } });
  t.notOk(
    off.engine.toSnapshot().riders.some((row) => 'review' in row),
    'approved riders add nothing to a snapshot',
  );
});
