import { CancelReason, type DecisionTrace, type EventBody } from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { syncOrderDeadlines } from '../deadline-rules.js';
import { fastDistanceM } from '../geo.js';
import { riderPayout } from '../payout.js';
import { MAX_TRACES, type OrderRecord } from '../records.js';
import { cancelVia } from '../release.js';
import type { Match } from './ring-search.js';

/** The two ends of a search, greedy or batched: an offer to the chosen rider, or no one for now. */

/**
 * Makes the exclusive offer of `match` and reports the match latency since `t0`.
 * `trace` is the decision, by default the search that found `match` (call right after it).
 */
export function offer(
  core: EngineCore,
  o: OrderRecord,
  match: Match,
  now: number,
  t0: number,
  trace: DecisionTrace = core.search.lastTrace(o, now, match.rider),
): void {
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
  keepTrace(o, trace);
  o.offerEtaS = match.etaS;
  core.stepOrder(o, { type: 'OFFER', riderId: r.id, offerId, expiresAt, payout });
  core.stepRider(
    r,
    match.stops === undefined
      ? { type: 'OFFER', orderId: o.id, offerId }
      : { type: 'STACK_OFFER', orderId: o.id, offerId },
  );
  r.offers++;
  core.space.syncIndex(r);
  const body: Extract<EventBody, { type: 'order_offered' }> = {
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
  };
  // Set only for a stack, so a lone offer allocates no empty object to spread.
  if (match.stops !== undefined) body.stops = [...match.stops];
  core.emit('order', o, body);
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

/** Cancels a searching order past its give-up time (no rider); true when it did. */
export function gaveUp(core: EngineCore, o: OrderRecord, now: number): boolean {
  if (now < o.snap.context.giveUpAt) return false;
  cancelVia(core, o.id, { type: 'GIVE_UP' }, 'system', CancelReason.NO_RIDER);
  return true;
}

/**
 * A searching order waits, without an event (nothing was searched yet), until
 * `until` or its give-up time if sooner: its retry deadline is armed there, so
 * a wait that nothing ends (a silent source, a batch lost in a restart) only
 * delays it.
 */
export function waitUntil(core: EngineCore, o: OrderRecord, until: number): void {
  core.stepOrder(o, { type: 'NO_CANDIDATE', retryAt: Math.min(until, o.snap.context.giveUpAt) });
  syncOrderDeadlines(core, o);
}

/**
 * No rider for a searching order: give up past its give-up time, else search again later.
 * `trace` is why, by default the search that just found no one.
 */
export function noCandidate(
  core: EngineCore,
  o: OrderRecord,
  now: number,
  trace: () => DecisionTrace = () => core.search.lastTrace(o, now, null),
): void {
  if (gaveUp(core, o, now)) return;
  const retryAt = Math.min(now + core.config.dispatchRetryMs, o.snap.context.giveUpAt);
  const why = keepTrace(o, trace());
  core.stepOrder(o, { type: 'NO_CANDIDATE', retryAt });
  core.emit('order', o, { type: 'order_no_rider', candidates: 0, retryAt, trace: why });
  syncOrderDeadlines(core, o);
}

/** Keeps `trace` with the order's latest decisions (bounded) and answers it. */
export function keepTrace(o: OrderRecord, trace: DecisionTrace): DecisionTrace {
  if (o.traces.length >= MAX_TRACES) o.traces.shift();
  o.traces.push(trace);
  return trace;
}
