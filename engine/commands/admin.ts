import { getResolution, isValidCell } from 'h3-js';
import {
  DISPATCH_POLICIES,
  type DispatchPolicy,
  type DispatchSettings,
  type H3Cell,
  type OrderId,
  type Result,
  type RiderId,
  OK,
  ok,
  reject,
} from '../../protocol/index.js';
import { applyDispatchSettings, dispatchSettings } from '../config.js';
import type { EngineCore } from '../core.js';
import { syncOrderDeadlines } from '../deadline-rules.js';
import { keepTrace, tryOffer } from '../dispatch/dispatch.js';
import { fastDistanceM } from '../geo.js';
import { riderPayout } from '../payout.js';
import type { OrderRecord, RiderRecord } from '../records.js';
import { dropJob, endRiderOffer } from '../release.js';

/**
 * What operators may do beyond the parties' own commands (the admin service):
 * assign an order to a chosen rider, take a job from one rider and give it to
 * another, drain a shard, change the dispatch settings. The invariants hold as
 * for any command: an order has at most one rider (offered or assigned), a
 * rider at most one order; an operator's choice overrides only who is chosen.
 */

/**
 * Assigns a dispatching order (searching, or offered to someone else) or one
 * still being prepared to `riderId` at once. The rider must be online, idle
 * and connected. A live offer to another rider is withdrawn first. The events
 * are those of an offer accepted at once (`order_offered`, `order_assigned`
 * and the rider's), so every consumer (the rider app, the streams, storage)
 * hears what it already understands.
 */
export function forceAssign(core: EngineCore, orderId: OrderId, riderId: RiderId): Result {
  const o = core.orders.get(orderId);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
  const r = core.riders.get(riderId);
  if (!r) return reject('RIDER_NOT_FOUND', `no rider ${riderId}`);
  if (o.state === 'assigned' || o.state === 'picked_up')
    return reject(
      'ORDER_INVALID_TRANSITION',
      `order ${orderId} is ${o.state}: use reassign to move it to another rider`,
    );
  if (o.state !== 'preparing' && o.state !== 'dispatching.searching' && o.state !== 'dispatching.offered')
    return reject(
      'ORDER_INVALID_TRANSITION',
      `order ${orderId} is ${o.state}; only a preparing or dispatching order can be assigned`,
    );
  const offeredTo = o.state === 'dispatching.offered' ? o.snap.context.riderId : null;
  if (offeredTo !== riderId) {
    const free = idleRider(r);
    if (!free.ok) return free;
  }
  if (o.state === 'preparing') {
    const giveUpAt = core.now() + core.config.dispatchGiveUpMs;
    core.stepOrder(o, { type: 'DISPATCH_DUE', giveUpAt });
    core.emit('order', o, { type: 'order_dispatchable', giveUpAt });
  } else if (offeredTo !== null && offeredTo !== riderId) {
    withdrawOffer(core, o);
  }
  if (offeredTo !== riderId) offerTo(core, o, r);
  assign(core, o, r);
  return OK;
}

/**
 * Takes an assigned order that is not yet picked up from its rider (released
 * back to idle) and assigns it to `riderId`, or, with none, puts it back in
 * the search (never offered to the released rider again). Food already with a
 * rider cannot move: cancel the order instead.
 */
export function reassign(core: EngineCore, orderId: OrderId, riderId: RiderId | undefined): Result {
  const o = core.orders.get(orderId);
  if (!o) return reject('ORDER_NOT_FOUND', `no order ${orderId}`);
  if (o.state === 'picked_up')
    return reject('RIDER_HAS_ACTIVE_JOB', `order ${orderId} is picked up: the food is with its rider; cancel instead`);
  if (o.state !== 'assigned')
    return reject(
      'ORDER_INVALID_TRANSITION',
      `order ${orderId} is ${o.state}; only an assigned order can be reassigned`,
    );
  const from = core.riders.get(o.snap.context.riderId as RiderId);
  if (!from) return reject('RIDER_NOT_FOUND', `order ${orderId} names a rider the engine does not hold`);
  let to: RiderRecord | undefined;
  if (riderId !== undefined) {
    if (riderId === from.id)
      return reject('INVALID_ARGUMENT', `order ${orderId} is already assigned to rider ${riderId}`);
    to = core.riders.get(riderId);
    if (!to) return reject('RIDER_NOT_FOUND', `no rider ${riderId}`);
    const free = idleRider(to);
    if (!free.ok) return free;
  }
  const now = core.now();
  core.stepOrder(o, { type: 'UNASSIGN', giveUpAt: now + core.config.dispatchGiveUpMs });
  dropJob(core, from, orderId, 'RELEASE');
  core.emit('order', o, { type: 'order_unassigned', riderId: from.id, reason: 'admin_reassign' });
  core.emit('rider', from, { type: 'rider_released', orderId, reason: 'admin_reassign' });
  if (to) {
    offerTo(core, o, to);
    assign(core, o, to);
  } else {
    syncOrderDeadlines(core, o);
    tryOffer(core, o);
  }
  return OK;
}

/**
 * Drains (or undrains) a shard, named by its key: an H3 cell at the engine's
 * shard resolution. A drained shard takes no new orders (`SHARD_DRAINING`);
 * what it holds runs to its end, so an operator can empty it before moving it.
 */
export function drainShard(core: EngineCore, shard: string, drained: boolean): Result {
  const key = shardKey(core, shard);
  if (!key.ok) return key;
  if (typeof drained !== 'boolean') return reject('INVALID_ARGUMENT', 'drained must be true or false');
  if (drained) core.drained.add(key.value);
  else core.drained.delete(key.value);
  return OK;
}

/**
 * Sets how a shard matches orders to riders (`greedy` or `batched`), or with
 * `default` hands it back to the engine's `dispatchPolicy`. Effective for the
 * shard's next search; orders already waiting in a batch are matched when
 * their batch would have closed, under the new policy.
 */
export function setShardPolicy(core: EngineCore, shard: string, policy: string): Result {
  const key = shardKey(core, shard);
  if (!key.ok) return key;
  if (policy === 'default') core.policies.delete(key.value);
  else if ((DISPATCH_POLICIES as readonly string[]).includes(policy))
    core.policies.set(key.value, policy as DispatchPolicy);
  else
    return reject(
      'INVALID_ARGUMENT',
      `policy must be one of ${[...DISPATCH_POLICIES, 'default'].join(', ')}, got ${JSON.stringify(policy)}`,
    );
  // A batch left open is matched when its orders' retries fire; under greedy each then searches alone.
  if (policy !== 'batched') core.batches.delete(key.value);
  return OK;
}

/** `shard` as a shard key: an H3 cell at the engine's shard resolution. */
function shardKey(core: EngineCore, shard: string): Result<H3Cell> {
  const res = core.config.shardResolution;
  if (typeof shard !== 'string' || !isValidCell(shard) || getResolution(shard) !== res)
    return reject('INVALID_ARGUMENT', `shard must be an H3 cell at resolution ${res}, got ${JSON.stringify(shard)}`);
  return ok(shard as H3Cell);
}

/** Changes dispatch settings at once; the next search, offer and retry use them. Answers the settings after. */
export function setDispatchConfig(core: EngineCore, patch: unknown): Result<DispatchSettings> {
  const next = applyDispatchSettings(core.config, patch);
  if (!next.ok) return next;
  core.config = next.value;
  return ok(dispatchSettings(next.value));
}

/** OK when `r` can take a job now: online, idle (no offer, no job) and connected. */
function idleRider(r: RiderRecord): Result {
  if (r.state !== 'online.idle')
    return reject('RIDER_INVALID_TRANSITION', `rider ${r.id} is ${r.state}; only an idle online rider can take a job`);
  if (r.snap.context.graceUntil !== 0)
    return reject('RIDER_INVALID_TRANSITION', `rider ${r.id} is disconnected; it cannot take a job now`);
  return OK;
}

/** Ends the live offer of `o` as withdrawn; its rider goes back to idle and will not be offered it again. */
function withdrawOffer(core: EngineCore, o: OrderRecord): void {
  const heldBy = o.snap.context.riderId as RiderId;
  const held = core.riders.get(heldBy);
  const offerId = o.snap.context.offerId!;
  core.stepOrder(o, { type: 'OFFER_EXPIRED' });
  core.emit('order', o, { type: 'order_offer_ended', riderId: heldBy, offerId, outcome: 'withdrawn' });
  if (held && endRiderOffer(core, held, o.id))
    core.emit('rider', held, { type: 'rider_offer_ended', orderId: o.id, offerId, outcome: 'withdrawn' });
}

/** The operator's offer of a searching order to `r`: the same steps and events as dispatch's, with no match timing. */
function offerTo(core: EngineCore, o: OrderRecord, r: RiderRecord): void {
  const now = core.now();
  const offerId = `${o.id}.${o.snap.context.offers + 1}`;
  const expiresAt = now + core.config.offerTimeoutMs;
  const toPickupM = r.posAt > 0 ? fastDistanceM(r.lat, r.lng, o.pickup.lat, o.pickup.lng) : 0;
  const payout = riderPayout(
    core.config.payout,
    fastDistanceM(o.pickup.lat, o.pickup.lng, o.drop.lat, o.drop.lng),
    toPickupM,
    core.config.detourFactor,
  );
  const trace = keepTrace(o, {
    why: 'forced',
    chosen: r.id,
    ring: -1,
    considered: 0,
    skipped: { stale: 0, passedBefore: 0, tooFar: 0, unavailable: 0 },
    candidates: [core.search.terms(r, toPickupM, o, now)],
  });
  core.stepOrder(o, { type: 'OFFER', riderId: r.id, offerId, expiresAt, payout });
  core.stepRider(r, { type: 'OFFER', orderId: o.id, offerId });
  core.emit('order', o, {
    type: 'order_offered',
    riderId: r.id,
    offerId,
    expiresAt,
    pickupDistanceM: Math.round(toPickupM),
    pickupEtaS: r.posAt > 0 ? Math.round(core.search.etaS(r, o.pickup.lat, o.pickup.lng, now)) : 0,
    pickup: o.pickup,
    drop: o.drop,
    payout,
    trace,
  });
  core.emit('rider', r, { type: 'rider_offered', orderId: o.id, offerId, expiresAt });
}

/** The offered rider takes the job, as an accepted offer does. */
function assign(core: EngineCore, o: OrderRecord, r: RiderRecord): void {
  const offerId = o.snap.context.offerId!;
  core.stepOrder(o, { type: 'ACCEPT', riderId: r.id });
  core.stepRider(r, { type: 'ACCEPT', orderId: o.id });
  r.targetLat = o.pickup.lat;
  r.targetLng = o.pickup.lng;
  core.emit('order', o, { type: 'order_assigned', riderId: r.id, offerId });
  core.emit('rider', r, { type: 'rider_assigned', orderId: o.id });
  core.space.syncIndex(r);
  syncOrderDeadlines(core, o);
}
