import type { OfferOutcome } from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import type { OrderMachineEvent } from '../machines/order-machine.js';
import type { OrderRecord, RiderRecord } from '../records.js';
import { joinBatch, policyOf } from './batch.js';
import { gaveUp, noCandidate, offer, waitUntil } from './offer.js';
import { endRiderOffer } from '../release.js';
import { bestStack, freeRiderFirst, rideS, stackedMatch } from './stacking.js';

export { keepTrace, noCandidate, offer } from './offer.js';

/**
 * Matching orchestration: an order enters its search, is offered to the best
 * rider its candidate source finds, searches again later when there is none,
 * and is given up past its give-up time. Scoring lives in ring-search.ts,
 * finding candidates behind the CandidateSource port, the batched policy in
 * batch.ts, the offer itself in offer.ts.
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
 * `offer_from_candidates` command goes on from there (the batched policy
 * needs the engine's own index). Under the batched policy the order joins its
 * shard's batch instead.
 */
export function tryOffer(core: EngineCore, o: OrderRecord): void {
  const t0 = core.stopwatch.nowMicros();
  const now = core.now();
  const source = core.candidates;
  if (source.answersLater) {
    // Past its give-up time the order is cancelled, so a silent source cannot keep it forever.
    if (gaveUp(core, o, now)) return;
    waitUntil(core, o, now + core.config.dispatchRetryMs);
    source.ask(o, now);
    return;
  }
  if (policyOf(core, o) === 'batched') {
    joinBatch(core, o, now);
    return;
  }
  const match = source.find(o, now);
  let stack = bestStack(core, o, now);
  if (stack !== undefined && match !== undefined && freeRiderFirst(core, o, match.rider, now)) stack = undefined;
  // Stack when the order adds less to a busy rider's route than a free rider would ride for it.
  if (stack !== undefined && (match === undefined || stack.addedS < match.etaS + rideS(core, o, now))) {
    const trace = { ...core.search.lastTrace(o, now, stack.rider), why: 'stacked' as const };
    offer(core, o, stackedMatch(o, stack, match), now, t0, trace);
  } else if (match) offer(core, o, match, now, t0);
  else noCandidate(core, o, now);
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
  endRiderOffer(core, r, o.id);
  core.emit('order', o, { type: 'order_offer_ended', riderId: r.id, offerId, outcome });
  core.emit('rider', r, { type: 'rider_offer_ended', orderId: o.id, offerId, outcome });
  tryOffer(core, o);
}
