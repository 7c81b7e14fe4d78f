import type { H3Cell } from '../protocol/index.js';
import { getResolution } from 'h3-js';
import { ROW } from './cell-index.js';
import type { Engine } from './engine.js';
import { cellOf } from './geo.js';
import { TERMINAL_ORDER_STATES, holdsKitchen } from './machines/order-machine.js';

/**
 * Checks the engine's invariants across every actor and answers one line per
 * violation (empty when all hold):
 * - an order has at most one live offer and a rider holds at most one, and
 *   both sides of every offer agree;
 * - an assigned or picked-up order has exactly one rider, and that rider lists it (as its lead
 *   job or a stacked one); a rider holds no more jobs than its capacity, stacked jobs and a
 *   stack offer only beside a lead job, and sits in the stacking index exactly when it could stack;
 * - no order is delivered without a pickup;
 * - a rider is in the available index exactly when idle, connected, positioned and not handed over,
 *   in the shard that owns its cell; a positioned rider's cell is the one its position is in;
 * - restaurant open-order counts match the orders.
 * O(actors): for tests and the simulator, not for the hot path.
 */
/** The rider states that hold a job (and so may hold stacked jobs and a stack offer). */
const JOB_STATES: readonly string[] = ['online.to_pickup', 'online.at_pickup', 'online.delivering'];

export function checkInvariants(engine: Engine): string[] {
  const { riders, orders, restaurants, shards, available, stacks } = engine.internals;
  const stackIndex = stacks.entries();
  const out: string[] = [];
  const offeredTo = new Map<string, string>();
  const heldBy = new Map<string, number>();
  const open = new Map<string, number>();

  for (const o of orders.values()) {
    const c = o.snap.context;
    if (holdsKitchen(o.state)) open.set(o.restaurantId, (open.get(o.restaurantId) ?? 0) + 1);
    if (o.state === 'dispatching.offered') {
      const r = c.riderId ? riders.get(c.riderId) : undefined;
      const lead = r?.state === 'online.offered' && r.snap.context.orderId === o.id;
      if (!r) out.push(`order ${o.id} offered to missing rider ${c.riderId}`);
      else if (!lead && r.snap.context.stackOffer?.orderId !== o.id)
        out.push(`order ${o.id} offered to ${r.id}, which is ${r.state} with ${r.snap.context.orderId}`);
      if (c.riderId) {
        const prev = offeredTo.get(c.riderId);
        if (prev) out.push(`rider ${c.riderId} holds offers for ${prev} and ${o.id}`);
        offeredTo.set(c.riderId, o.id);
      }
    } else if (o.state === 'assigned' || o.state === 'picked_up') {
      const r = c.riderId ? riders.get(c.riderId) : undefined;
      const want = o.state === 'assigned' ? ['online.to_pickup', 'online.at_pickup'] : ['online.delivering'];
      const stacked = r?.snap.context.stack.includes(o.id) === true;
      if (!r) out.push(`order ${o.id} is ${o.state} with no rider`);
      else if (stacked ? !JOB_STATES.includes(r.state) : r.snap.context.orderId !== o.id || !want.includes(r.state))
        out.push(`order ${o.id} is ${o.state} to ${r.id}, which is ${r.state} with ${r.snap.context.orderId}`);
      if (c.riderId) heldBy.set(c.riderId, (heldBy.get(c.riderId) ?? 0) + 1);
    } else if (c.riderId !== null && !TERMINAL_ORDER_STATES.has(o.state)) {
      out.push(`order ${o.id} is ${o.state} but names rider ${c.riderId}`);
    }
    if (o.state === 'delivered' && !(c.pickedUpAt > 0)) out.push(`order ${o.id} delivered without pickup`);
  }

  const rowWanted = new Float64Array(ROW);
  for (const r of riders.values()) {
    const jobId = r.snap.context.orderId;
    const busy =
      r.state === 'online.offered' ||
      r.state === 'online.to_pickup' ||
      r.state === 'online.at_pickup' ||
      r.state === 'online.delivering';
    if (busy && !jobId) out.push(`rider ${r.id} is ${r.state} with no order`);
    const { stack, stackOffer } = r.snap.context;
    const jobs = heldBy.get(r.id) ?? 0;
    const listed = r.state === 'online.offered' || !jobId ? 0 : 1 + stack.length;
    if (jobs !== listed) out.push(`rider ${r.id} lists ${listed} jobs, ${jobs} orders name it`);
    if (listed > r.capacity) out.push(`rider ${r.id} holds ${listed} jobs beyond its capacity ${r.capacity}`);
    if ((stack.length > 0 || stackOffer !== null) && !JOB_STATES.includes(r.state))
      out.push(`rider ${r.id} is ${r.state} with stacked jobs or a stack offer`);
    if (stackOffer !== null && offeredTo.get(r.id) !== stackOffer.orderId)
      out.push(`rider ${r.id} holds a stack offer of ${stackOffer.orderId}, which is not offered to it`);
    const lead = jobId === null ? undefined : orders.get(jobId);
    const heading =
      r.capacity > 1 && (r.state === 'online.to_pickup' || r.state === 'online.at_pickup')
        ? lead?.restaurantId
        : undefined;
    if (stackIndex.get(r) !== heading)
      out.push(`rider ${r.id} is listed for stacking at ${stackIndex.get(r)}, not ${heading}`);
    if (!busy && jobId) out.push(`rider ${r.id} is ${r.state} but lists order ${jobId}`);
    if (busy && jobId) {
      const o = orders.get(jobId);
      if (!o || o.snap.context.riderId !== r.id)
        out.push(
          `rider ${r.id} lists order ${jobId}, which is ${o?.state ?? 'missing'} with rider ${o?.snap.context.riderId}`,
        );
    }
    const want = r.state === 'online.idle' && r.snap.context.graceUntil === 0 && r.cell !== null && r.away === null;
    const indexed = r.indexCell !== null;
    if (want !== indexed)
      out.push(
        `rider ${r.id} is ${r.state}${r.snap.context.graceUntil ? ' (disconnected)' : ''}${r.away === null ? '' : ` (handed over to ${r.away})`} but ${indexed ? 'is' : 'is not'} in the available index`,
      );
    const slot = r.indexedIn === null ? undefined : shards.get(r.indexedIn)?.available.get(r.indexCell!)?.[r.indexSlot];
    const bucket = r.indexedIn === null ? undefined : shards.get(r.indexedIn)?.available.bucket(r.indexCell!);
    if (
      indexed &&
      (r.indexCell !== r.cell || r.indexedIn !== r.shardKey || slot !== r || r.indexRows !== bucket?.rows)
    ) {
      out.push(`rider ${r.id} sits in the wrong index slot`);
    } else if (indexed) {
      const rows = r.indexRows!;
      r.writeRow(rowWanted, 0);
      for (let k = 0; k < ROW; k++)
        if (!Object.is(rows[r.indexSlot * ROW + k], rowWanted[k]))
          out.push(
            `rider ${r.id}'s search row holds ${rows[r.indexSlot * ROW + k]} in column ${k}, not ${rowWanted[k]}`,
          );
    }
    if (r.shardKey !== null && !shards.get(r.shardKey)?.riders.has(r.id))
      out.push(`rider ${r.id} missing from its shard ${r.shardKey}`);
    if (r.cell !== null && r.cell !== cellOf(r.lat, r.lng, getResolution(r.cell)))
      out.push(`rider ${r.id} at ${r.lat},${r.lng} is kept in cell ${r.cell}, not the one its position is in`);
  }

  let indexed = 0;
  for (const s of shards.values()) {
    indexed += s.available.size;
    for (const r of s.riders.values())
      if (r.shardKey !== s.key) out.push(`rider ${r.id} listed by shard ${s.key} it is not in`);
  }
  let wantIndexed = 0;
  const perCoarse = new Map<H3Cell, number>();
  for (const r of riders.values()) {
    if (r.indexCell === null) continue;
    wantIndexed++;
    const c = available.coarseOf(r.indexCell);
    perCoarse.set(c, (perCoarse.get(c) ?? 0) + 1);
    if (r.countedIn !== c) out.push(`rider ${r.id} is counted in ${r.countedIn}, not its coarse cell ${c}`);
  }
  if (indexed !== wantIndexed) out.push(`index holds ${indexed} riders, ${wantIndexed} think they are indexed`);
  const counted = new Map(available.counts());
  for (const c of new Set([...counted.keys(), ...perCoarse.keys()]))
    if (counted.get(c) !== perCoarse.get(c))
      out.push(`coarse cell ${c} counts ${counted.get(c) ?? 0} available riders, ${perCoarse.get(c) ?? 0} are`);

  for (const rest of restaurants.values()) {
    const n = open.get(rest.id) ?? 0;
    // Evicted orders are all terminal, so the count of live ones is exact.
    if (n !== rest.openOrders) out.push(`restaurant ${rest.id} counts ${rest.openOrders} open orders, ${n} exist`);
  }
  return out;
}
