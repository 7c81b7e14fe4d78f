import t from 'tap';
import type { DecisionTrace, EngineEvent, OrderId, RiderId } from '../../engine/index.js';
import { near, world } from './world.js';

/** The decision trace each offer (and each search that found no one) carries, and keeps in memory. */

const traceOf = (e: EngineEvent | undefined): DecisionTrace => {
  if (e?.type !== 'order_offered' && e?.type !== 'order_no_rider') throw new Error(`no trace on ${e?.type}`);
  if (!e.trace) throw new Error('trace missing');
  return e.trace;
};
const offersOf = (events: readonly EngineEvent[], o: OrderId) =>
  events.filter((e) => e.id === o && (e.type === 'order_offered' || e.type === 'order_no_rider'));

t.test('an offer says whom it weighed, each score term, and why the winner won', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const ids = ['t1', 't2', 't3', 't4', 't5', 't6', 't7'].map((id, i) => w.rider(id, near(150 + i * 120, i * 50)));
  const o = w.order(rest);
  const tr = traceOf(offersOf(w.events, o)[0]);
  t.equal(tr.why, 'best_score');
  t.ok(tr.candidates.length >= 1 && tr.candidates.length <= 5, `${tr.candidates.length} candidates kept`);
  t.ok(tr.considered >= tr.candidates.length);
  t.equal(tr.chosen, tr.candidates[0]!.riderId, 'the first candidate is the chosen one');
  t.match(w.engine.getOrder(o), { ok: true, value: { riderId: tr.chosen } });
  for (let i = 1; i < tr.candidates.length; i++)
    t.ok(tr.candidates[i - 1]!.score <= tr.candidates[i]!.score, 'best first');
  // Replaying the decision from the trace alone: each score is its terms, and the lowest wins.
  for (const c of tr.candidates) {
    const sum = c.etaS - c.idleBonusS + c.acceptancePenaltyS + c.headingPenaltyS;
    t.ok(Math.abs(sum - c.score) < 1e-9, `${c.riderId}: terms add up to the score`);
    t.ok(ids.includes(c.riderId));
  }
  const replayed = [...tr.candidates].sort((a, b) => a.score - b.score || (a.riderId < b.riderId ? -1 : 1))[0];
  t.equal(replayed?.riderId, tr.chosen);
  t.same(w.engine.orderDecisions(o), [tr], 'kept in memory for the live order');
});

t.test('riders passed over are counted by reason', async (t) => {
  const w = world({ maxPickupDistanceM: 1_000 });
  const rest = w.restaurant();
  const a = w.rider('near-a', near(100));
  w.rider('near-b', near(300));
  w.rider('far', near(1_500));
  const stale = w.rider('stale', near(200));
  w.clock.advance(w.engine.config.positionStaleMs + 1_000);
  // Fresh positions for all but `stale`.
  w.move(a, near(100));
  w.move('near-b' as RiderId, near(300));
  w.move('far' as RiderId, near(1_500));
  const o = w.order(rest);
  const first = traceOf(offersOf(w.events, o)[0]);
  t.equal(first.chosen, a);
  t.equal(first.skipped.stale, 1, `${stale} has a stale position`);
  t.equal(first.skipped.tooFar, 1, 'far is beyond the pickup radius');
  t.equal(first.skipped.passedBefore, 0);
  t.ok(w.engine.declineOffer(a, o).ok);
  const second = traceOf(offersOf(w.events, o)[1]);
  t.equal(second.chosen, 'near-b');
  t.equal(second.skipped.passedBefore, 1, 'the rider who declined');
  t.ok(w.engine.declineOffer('near-b' as RiderId, o).ok);
  const none = traceOf(offersOf(w.events, o)[2]);
  t.match(none, { why: 'none', chosen: null, considered: 0, candidates: [] });
  t.equal(none.skipped.passedBefore, 2);
});

t.test('an operator choice is traced as forced; memory keeps the latest few only', async (t) => {
  const w = world();
  const rest = w.restaurant();
  const r = w.rider('solo', near(2_000));
  const o = w.order(rest, { prepMinutes: 30 });
  const out = w.engine.execute({ type: 'force_assign', orderId: o, riderId: r });
  if (out.queued) return t.fail('queued');
  t.match(traceOf(out.events.find((e) => e.type === 'order_offered')), {
    why: 'forced',
    chosen: r,
    candidates: [{ riderId: r }],
  });

  const o2 = w.order(rest);
  for (let i = 0; i < 20; i++) w.clock.advance(w.engine.config.dispatchRetryMs);
  const searches = offersOf(w.events, o2).length;
  t.ok(searches > 8, `${searches} searches traced in events`);
  t.equal(w.engine.orderDecisions(o2)?.length, 8, 'memory holds the latest 8');
});
