import {
  CancelReason,
  type OrderId,
  type RegisterRider,
  type Result,
  type RiderId,
  type RiderStatus,
  OK,
  VEHICLE_TYPES,
  isIdString,
  reject,
} from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { syncOrderDeadlines } from '../deadline-rules.js';
import { tryOffer } from '../dispatch/dispatch.js';
import type { RiderMachineEvent, RiderState } from '../machines/rider-machine.js';
import { RiderRecord } from '../records.js';
import { jobsOf } from '../dispatch/stacking.js';
import { cancelVia, clearTarget } from '../release.js';

export function registerRider(core: EngineCore, cmd: RegisterRider): Result {
  if (!isIdString(cmd.riderId)) return reject('INVALID_ARGUMENT', 'riderId must be a UUID or a slug');
  const capacity = cmd.capacity ?? 1;
  if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= 8))
    return reject('INVALID_ARGUMENT', 'capacity must be an integer in 1..8');
  const vehicle = cmd.vehicle ?? null;
  if (vehicle !== null && !(VEHICLE_TYPES as readonly string[]).includes(vehicle))
    return reject('INVALID_ARGUMENT', `vehicle must be one of ${VEHICLE_TYPES.join(', ')}`);
  if (core.riders.has(cmd.riderId)) return reject('RIDER_EXISTS', `rider ${cmd.riderId} exists`);
  const r = new RiderRecord(cmd.riderId, core.riderTable, core.riderStep.initial(), 'offline', capacity);
  r.vehicle = vehicle;
  if (core.config.riderReview) r.review = 'pending';
  core.riders.set(r.id, r);
  core.emit('rider', r, { type: 'rider_registered', capacity, vehicle });
  return OK;
}

export function riderOnline(core: EngineCore, id: RiderId): Result {
  const r = core.riders.get(id);
  if (r && r.review !== 'approved')
    return reject(
      'RIDER_NOT_APPROVED',
      r.review === 'pending'
        ? `rider ${id}'s documents wait for review; it can go online once an operator approves them`
        : `rider ${id}'s documents were rejected (${r.reviewReason}); send them again for another review`,
    );
  return riderStep(core, id, { type: 'GO_ONLINE' }, (r) => {
    // GO_ONLINE clears graceUntil; a rider who went offline while disconnected still has that deadline armed.
    core.deadlines.set('grace', r.id, 0);
    r.idleSince = core.now();
    core.emit('rider', r, { type: 'rider_online' });
  });
}

/** An operator's decision on a pending rider's documents. */
export function reviewRider(core: EngineCore, id: RiderId, approve: boolean, reason: string | undefined): Result {
  const r = core.riders.get(id);
  if (!r) return reject('RIDER_NOT_FOUND', `no rider ${id}`);
  if (r.review !== 'pending')
    return reject('RIDER_INVALID_TRANSITION', `rider ${id} is ${r.review}, not pending review`);
  const why = (reason ?? '').trim().slice(0, 500);
  if (!approve && why === '') return reject('INVALID_ARGUMENT', 'a rejection needs a reason the rider is shown');
  r.review = approve ? 'approved' : 'rejected';
  r.reviewReason = approve ? '' : why;
  core.emit('rider', r, { type: 'rider_reviewed', decision: r.review, reason: r.reviewReason });
  return OK;
}

/** The rider sent its documents again: a rejected rider waits for another review. */
export function submitRiderDocuments(core: EngineCore, id: RiderId): Result {
  const r = core.riders.get(id);
  if (!r) return reject('RIDER_NOT_FOUND', `no rider ${id}`);
  if (r.review !== 'rejected') return OK;
  r.review = 'pending';
  core.emit('rider', r, { type: 'rider_documents_submitted' });
  return OK;
}

/** Goes offline. A held offer passes to the next rider, an unpicked job is reassigned; a rider carrying food is refused. */
export function riderOffline(core: EngineCore, id: RiderId): Result {
  const r = core.riders.get(id);
  const carrying = r === undefined ? undefined : jobsOf(core, r).find((o) => o.state === 'picked_up');
  if (carrying !== undefined) return reject('RIDER_HAS_ACTIVE_JOB', `rider ${id} is carrying order ${carrying.id}`);
  const held = r === undefined ? null : heldBy(r);
  return riderStep(core, id, { type: 'GO_OFFLINE' }, (rr) => {
    core.emit('rider', rr, { type: 'rider_offline', reason: 'requested' });
    if (held) leftAll(core, rr, held);
  });
}

export function riderBreak(core: EngineCore, id: RiderId): Result {
  return riderStep(core, id, { type: 'BREAK' }, (r) => core.emit('rider', r, { type: 'rider_break_started' }));
}

export function riderResume(core: EngineCore, id: RiderId): Result {
  return riderStep(core, id, { type: 'RESUME' }, (r) => {
    r.idleSince = core.now();
    core.emit('rider', r, { type: 'rider_break_ended' });
  });
}

/**
 * What a rider app (or the REST call) asks for: online resumes a break and is
 * a no-op for a rider already online; break and offline as their commands.
 */
export function setRiderStatus(core: EngineCore, id: RiderId, status: RiderStatus): Result {
  if (status === 'break') return riderBreak(core, id);
  if (status === 'offline') return riderOffline(core, id);
  const r = core.riders.get(id);
  if (r?.state === 'on_break') return riderResume(core, id);
  if (r?.state.startsWith('online.')) return OK;
  return riderOnline(core, id);
}

/**
 * A rider's connection opened: an unknown rider is registered, a rider within
 * a disconnect's grace period is reconnected, anyone else is left as is.
 */
export function riderConnected(core: EngineCore, id: RiderId): Result {
  const r = core.riders.get(id);
  if (r === undefined) return registerRider(core, { riderId: id });
  return r.snap.context.graceUntil !== 0 ? riderReconnected(core, id) : OK;
}

/** The rider's connection dropped: it keeps its state for the grace period, but gets no offers. */
export function riderDisconnected(core: EngineCore, id: RiderId): Result {
  const graceUntil = core.now() + core.config.disconnectGraceMs;
  const r = core.riders.get(id);
  if (r && r.snap.context.graceUntil !== 0)
    return reject('RIDER_INVALID_TRANSITION', `rider ${id} is already disconnected`);
  return riderStep(core, id, { type: 'DISCONNECT', graceUntil }, (rr) => {
    core.emit('rider', rr, { type: 'rider_disconnected', graceUntil });
    core.deadlines.set('grace', rr.id, graceUntil);
  });
}

export function riderReconnected(core: EngineCore, id: RiderId): Result {
  return riderStep(core, id, { type: 'RECONNECT' }, (r) => {
    core.deadlines.set('grace', r.id, 0);
    core.emit('rider', r, { type: 'rider_reconnected' });
  });
}

/** The grace period of a disconnected rider ran out: it goes offline and leaves whatever it held. */
export function graceExpired(core: EngineCore, id: RiderId): void {
  const r = core.riders.get(id);
  if (!r) return;
  const held = heldBy(r);
  if (!core.stepRider(r, { type: 'GRACE_EXPIRED' })) return;
  core.emit('rider', r, { type: 'rider_offline', reason: 'grace_expired' });
  core.space.syncIndex(r);
  leftAll(core, r, held);
}

/** What a rider holds before it goes offline: its lead offer or job (in state `before`), stacked jobs and a stack offer. */
interface Held {
  readonly before: RiderState;
  readonly lead: OrderId | null;
  readonly stack: readonly OrderId[];
  readonly stackOffer: OrderId | null;
}

function heldBy(r: RiderRecord): Held {
  const c = r.snap.context;
  return { before: r.state, lead: c.orderId, stack: c.stack, stackOffer: c.stackOffer?.orderId ?? null };
}

/** The rider went offline holding `held`: each offer and job is left as {@link riderLeftJob} says. */
function leftAll(core: EngineCore, r: RiderRecord, held: Held): void {
  if (held.stackOffer) riderLeftJob(core, r, 'online.offered', held.stackOffer);
  if (held.lead) riderLeftJob(core, r, held.before, held.lead);
  for (const id of held.stack)
    riderLeftJob(core, r, core.orders.get(id)?.state === 'picked_up' ? 'online.delivering' : 'online.to_pickup', id);
}

/**
 * The rider went offline (asked, or its grace ran out) while holding `orderId`
 * in state `before`: an offer passes to the next rider, a job not yet picked up
 * is searched again, and food in the rider's hands cancels the order.
 */
function riderLeftJob(core: EngineCore, r: RiderRecord, before: RiderState, orderId: OrderId): void {
  const o = core.orders.get(orderId);
  if (!o) return;
  clearTarget(r);
  if (before === 'online.offered') {
    const offerId = o.snap.context.offerId!;
    r.expiries++;
    core.stepOrder(o, { type: 'OFFER_EXPIRED' });
    core.emit('order', o, { type: 'order_offer_ended', riderId: r.id, offerId, outcome: 'withdrawn' });
    core.emit('rider', r, { type: 'rider_offer_ended', orderId, offerId, outcome: 'withdrawn' });
    tryOffer(core, o);
  } else if (before === 'online.delivering') {
    cancelVia(core, o.id, { type: 'CANCEL', by: 'system' }, 'system', CancelReason.RIDER_LOST, r.id);
  } else {
    core.stepOrder(o, { type: 'UNASSIGN', giveUpAt: core.now() + core.config.dispatchGiveUpMs });
    core.emit('order', o, { type: 'order_unassigned', riderId: r.id, reason: 'rider_offline' });
    core.emit('rider', r, { type: 'rider_released', orderId, reason: 'rider_offline' });
    syncOrderDeadlines(core, o);
    tryOffer(core, o);
  }
}

/** Steps the rider's machine, then runs `then` and keeps the index in step; a refused step is a coded rejection. */
function riderStep(core: EngineCore, id: RiderId, event: RiderMachineEvent, then: (r: RiderRecord) => void): Result {
  const r = core.riders.get(id);
  if (!r) return reject('RIDER_NOT_FOUND', `no rider ${id}`);
  if (!core.stepRider(r, event)) {
    const disconnected = r.snap.context.graceUntil ? ' (disconnected)' : '';
    return reject(
      'RIDER_INVALID_TRANSITION',
      `${event.type} is not allowed for rider ${id} in state ${r.state}${disconnected}`,
    );
  }
  then(r);
  core.space.syncIndex(r);
  return OK;
}
