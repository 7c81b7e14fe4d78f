import type { DecisionTrace, DispatchPolicy } from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { arrivalAt } from '../eta.js';
import type { OrderRecord } from '../records.js';
import { assign, FORBIDDEN } from './assignment.js';
import { gaveUp, noCandidate, offer, waitUntil } from './offer.js';
import type { Candidate } from './ring-search.js';
import { bestStack, freeRiderFirst, rideS, stackedMatch, type StackMatch } from './stacking.js';

/**
 * Batched dispatch: a shard collects its dispatchable orders for
 * `batchWindowMs`, then assigns them together by a least-cost matching of
 * orders to riders, where greedy would offer each order its best rider in
 * turn and leave the next order a worse one.
 *
 * The window needs no timer of its own: an order that joins a batch arms its
 * retry deadline at the batch's close, and the first such deadline to fire
 * runs every batch due (one assignment across the shards that close then).
 * The others find their order offered (or searching again later) and do
 * nothing. After a restart an order's retry still fires and opens a new batch,
 * so a waiting order loses one window at most and never waits on memory that
 * was lost.
 */

/** The policy of the shard owning `o`'s pickup: the shard's own, else the engine's default. */
export function policyOf(core: EngineCore, o: OrderRecord): DispatchPolicy {
  return core.policies.get(core.space.parentOf(o.pickupCell)) ?? core.config.dispatchPolicy;
}

/**
 * A searching order under the batched policy: it joins its shard's open batch
 * (opening one if there is none) and waits for the close, silently, as for an
 * external source; at or past the close the batches due run, this one with it.
 * Closes fall on multiples of `batchWindowMs` of engine time, so neighbouring
 * shards close together and their riders near a border go to whichever order
 * needs them more, not to the shard that ran first.
 */
export function joinBatch(core: EngineCore, o: OrderRecord, now: number): void {
  if (gaveUp(core, o, now)) return;
  const key = core.space.parentOf(o.pickupCell);
  let batch = core.batches.get(key);
  if (batch === undefined) {
    const w = core.config.batchWindowMs;
    batch = { closesAt: (Math.floor(now / w) + 1) * w, orders: new Set() };
    core.batches.set(key, batch);
  }
  batch.orders.add(o);
  if (now >= batch.closesAt) {
    runBatches(core, now);
    return;
  }
  waitUntil(core, o, batch.closesAt);
}

/**
 * Closes every batch due by `now`, as one: each order still searching gets its best few
 * candidates from the ring search (as its trace keeps them), and the pairs
 * are chosen by least total cost (the rider's score plus the lateness against
 * the customer's promise), most pairs first. Matched orders are offered at
 * once. An order left without a rider because its few candidates went to
 * others is then searched greedily among the riders still free (its trace says
 * `best_score`); only an order with no one at all searches again after
 * `dispatchRetryMs`, as in greedy.
 */
export function runBatches(core: EngineCore, now: number): void {
  const sw = core.stopwatch;
  const orders: OrderRecord[] = [];
  for (const [key, batch] of core.batches) {
    if (batch.closesAt > now) continue;
    core.batches.delete(key);
    for (const o of batch.orders) if (o.state === 'dispatching.searching') orders.push(o);
  }
  if (orders.length === 0) return;

  const cfg = core.config;
  const found: Candidate[][] = [];
  const stacks: (StackMatch | undefined)[] = [];
  const searched: DecisionTrace[] = [];
  // Match latency per order: its own search, its share of the assignment, and its offer.
  const searchUs = new Float64Array(orders.length);
  const column = new Map<string, number>();
  const riders: Candidate['rider'][] = [];
  for (let i = 0; i < orders.length; i++) {
    const o = orders[i]!;
    const ts = sw.nowMicros();
    core.search.findBest(o, now);
    const top = core.search.lastTop();
    searched.push(core.search.lastTrace(o, now, null));
    let st = bestStack(core, o, now);
    if (st !== undefined && top.length > 0 && freeRiderFirst(core, o, top[0]!.rider, now)) st = undefined;
    stacks.push(st);
    // A stack competes as one more candidate: its cost is what it adds to the rider's route beyond
    // the order's own ride, as a free rider's pickup ETA is what it rides beyond that.
    if (st !== undefined) top.push({ rider: st.rider, distanceM: 0, score: st.addedS - rideS(core, o, now) });
    found.push(top);
    for (const c of top) {
      if (column.has(c.rider.id)) continue;
      column.set(c.rider.id, riders.length);
      riders.push(c.rider);
    }
    searchUs[i] = sw.nowMicros() - ts;
  }

  const rows = orders.length;
  const cols = riders.length;
  const cost = new Float64Array(rows * cols).fill(FORBIDDEN);
  const w = cfg.scoring.latenessWeight;
  for (let i = 0; i < rows; i++) {
    const o = orders[i]!;
    for (const c of found[i]!) {
      let x = c.score;
      // A stack keeps the order's promise (stacking.ts checks it): no lateness.
      if (w > 0 && c.rider !== stacks[i]?.rider) {
        const at = arrivalAt(core.eta, now, {
          pickedUp: false,
          rider: { lat: c.rider.lat, lng: c.rider.lng },
          vehicle: c.rider.vehicle,
          pickup: o.pickup,
          drop: o.drop,
          readyAt: o.readyAt > 0 ? o.readyAt : null,
        });
        x += (w * Math.max(0, at - o.promisedAt)) / 1000;
      }
      cost[i * cols + column.get(c.rider.id)!] = x;
    }
  }

  const tSolve = sw.nowMicros();
  const colOf = assign(rows, cols, cost);
  const solveShareUs = (sw.nowMicros() - tSolve) / rows;
  const left: OrderRecord[] = [];
  for (let i = 0; i < rows; i++) {
    const o = orders[i]!;
    const trace = searched[i]!;
    const j = colOf[i]!;
    if (j === -1) {
      if (found[i]!.length === 0) noCandidate(core, o, now, () => trace);
      else left.push(o);
      continue;
    }
    const c = found[i]!.find((x) => x.rider === riders[j])!;
    const st = stacks[i];
    if (st !== undefined && c.rider === st.rider) {
      const chosen: DecisionTrace = { ...trace, why: 'stacked', chosen: c.rider.id };
      offer(core, o, stackedMatch(o, st, undefined), now, sw.nowMicros() - searchUs[i]! - solveShareUs, chosen);
      continue;
    }
    const chosen: DecisionTrace = { ...trace, why: 'batch_optimal', chosen: c.rider.id };
    offer(
      core,
      o,
      {
        rider: c.rider,
        distanceM: c.distanceM,
        etaS: core.search.etaS(c.rider, o.pickup.lat, o.pickup.lng, now),
        score: c.score,
        candidates: trace.considered,
        ring: trace.ring,
      },
      now,
      sw.nowMicros() - searchUs[i]! - solveShareUs,
      chosen,
    );
  }
  // Offered riders have left the index, so these searches see only the riders still free.
  for (const o of left) {
    const t0 = sw.nowMicros();
    const match = core.search.findBest(o, now);
    if (match) offer(core, o, match, now, t0);
    else noCandidate(core, o, now);
  }
}
