import { CancelReason, type DecisionTrace, type OfferOutcome } from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { syncOrderDeadlines } from '../deadline-rules.js';
import { fastDistanceM } from '../geo.js';
import type { OrderMachineEvent } from '../machines/order-machine.js';
import { riderPayout } from '../payout.js';
import { MAX_TRACES, type OrderRecord, type RiderRecord } from '../records.js';
import { cancelVia } from '../release.js';
import type { Match } from './ring-search.js';

/**
 * Matching orchestration: an order enters its search, is offered to the best
 * rider its candidate source finds, searches again later when there is none,
 * and is given up past its give-up time. Scoring lives in ring-search.ts,
 * finding candidates behind the CandidateSource port.
 */

/** The order's dispatch time came (or the food is ready): it starts searching. */
export function startDispatch(core: EngineCore, o: OrderRecord): void {
  const giveUpAt = core.now() + core.config.dispatchGiveUpMs;
  if (!core.stepOrder(o, { type: 'DISPATCH_DUE', giveUpAt })) return;
  core.emit('order', o, { type: 'order_dispatchable', giveUpAt });
  tryOffer(core, o);
}

/**
 * Offers a searching order to the best rider, or schedules another search, or
 * gives up. Match latency runs from here (the order is dispatchable) to the
 * offer event. A source that answers later is asked instead, and the
 * `offer_from_candidates` command goes on from there.
 */
export function tryOffer(core: EngineCore, o: OrderRecord): void {
  const t0 = core.stopwatch.nowMicros();
  const now = core.now();
  const source = core.candidates;
  if (source.answersLater) {
    const giveUpAt = o.snap.context.giveUpAt;
    // Past its give-up time the order is cancelled, so a silent source cannot keep it forever.
    if (now >= giveUpAt) {
      cancelVia(core, o.id, { type: 'GIVE_UP' }, 'system', CancelReason.NO_RIDER);
      return;
    }
    // Arms the retry, so an answer that never comes only delays the order; no event, as nothing was searched yet.
    core.stepOrder(o, { type: 'NO_CANDIDATE', retryAt: Math.min(now + core.config.dispatchRetryMs, giveUpAt) });
    syncOrderDeadlines(core, o);
    source.ask(o, now);
    return;
  }
  const match = source.find(o, now);
  if (match) offer(core, o, match, now, t0);
  else noCandidate(core, o, now);
}

/** Makes the exclusive offer of `match` and reports the match latency since `t0`. */
export function offer(core: EngineCore, o: OrderRecord, match: Match, now: number, t0: number): void {
  const r = match.rider;
  const ctx = o.snap.context;
  const offerId = `${o.id}.${ctx.offers + 1}`;
  const expiresAt = now + core.config.offerTimeoutMs;
  const payout = riderPayout(
    core.config.payout,
    fastDistanceM(o.pickup.lat, o.pickup.lng, o.drop.lat, o.drop.lng),
    match.distanceM,
    core.config.detourFactor,
  );
  const trace = keepTrace(o, core.search.lastTrace(o, now, r));
  core.stepOrder(o, { type: 'OFFER', riderId: r.id, offerId, expiresAt, payout });
  core.stepRider(r, { type: 'OFFER', orderId: o.id, offerId });
  r.offers++;
  core.space.syncIndex(r);
  core.emit('order', o, {
    type: 'order_offered',
    riderId: r.id,
    offerId,
    expiresAt,
    pickupDistanceM: Math.round(match.distanceM),
    pickupEtaS: Math.round(match.etaS),
    pickup: o.pickup,
    drop: o.drop,
    payout,
    trace,
  });
  core.emit('rider', r, { type: 'rider_offered', orderId: o.id, offerId, expiresAt });
  syncOrderDeadlines(core, o);
  core.onMatch?.({
    orderId: o.id,
    riderId: r.id,
    micros: core.stopwatch.nowMicros() - t0,
    candidates: match.candidates,
    ring: match.ring,
    distanceM: match.distanceM,
  });
}

/** No rider for a searching order: give up past its give-up time, else search again later. */
export function noCandidate(core: EngineCore, o: OrderRecord, now: number): void {
  const giveUpAt = o.snap.context.giveUpAt;
  if (now >= giveUpAt) {
    cancelVia(core, o.id, { type: 'GIVE_UP' }, 'system', CancelReason.NO_RIDER);
    return;
  }
  const retryAt = Math.min(now + core.config.dispatchRetryMs, giveUpAt);
  const trace = keepTrace(o, core.search.lastTrace(o, now, null));
  core.stepOrder(o, { type: 'NO_CANDIDATE', retryAt });
  core.emit('order', o, { type: 'order_no_rider', candidates: 0, retryAt, trace });
  syncOrderDeadlines(core, o);
}

/** An offer ended without acceptance: free the rider and offer the order to the next one. */
export function endOffer(
  core: EngineCore,
  o: OrderRecord,
  r: RiderRecord,
  outcome: Exclude<OfferOutcome, 'withdrawn'>,
  event: OrderMachineEvent,
): void {
  const offerId = o.snap.context.offerId!;
  core.stepOrder(o, event);
  core.stepRider(r, { type: 'OFFER_ENDED', orderId: o.id });
  core.emit('order', o, { type: 'order_offer_ended', riderId: r.id, offerId, outcome });
  core.emit('rider', r, { type: 'rider_offer_ended', orderId: o.id, offerId, outcome });
  core.space.syncIndex(r);
  tryOffer(core, o);
}

/** Keeps `trace` with the order's latest decisions (bounded) and answers it. */
export function keepTrace(o: OrderRecord, trace: DecisionTrace): DecisionTrace {
  if (o.traces.length >= MAX_TRACES) o.traces.shift();
  o.traces.push(trace);
  return trace;
}
