import {
  type EngineCommand,
  type HandedRider,
  isLatitude,
  isLongitude,
  ok,
  PositionStatus,
  reject,
  type Result,
  type RiderId,
} from '../../protocol/index.js';
import { getHexagonEdgeLengthAvg, gridDisk } from 'h3-js';
import type { H3Cell } from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { tryOffer } from '../dispatch/dispatch.js';
import { cellOf, fastDistanceM } from '../geo.js';
import type { RiderRecord } from '../records.js';
import { riderFromRow, snapshotRow, writeRiderRow } from '../snapshot-codec.js';
import type { RiderSnapshotRow } from '../snapshot.js';

/**
 * A rider moving between the partitions of a cluster (docs/scale.md,
 * "Handover"). The partition a free rider's positions have left hands it
 * over: it keeps the rider as a tombstone (`away`), which takes no command and
 * no offer, and answers the rider's row; the partition the rider is in now
 * takes it over from that row and serves it from then on, its events going on
 * from the row's seq. An engine that runs alone never hands a rider over.
 */

/** The partition a free rider leaves hands it over; answers the row the next partition takes it over from. */
export function handOverRider(core: EngineCore, riderId: RiderId, to: string): Result<HandedRider> {
  const r = core.riders.get(riderId);
  if (r === undefined) return reject('RIDER_NOT_FOUND', `no rider ${riderId}`);
  if (typeof to !== 'string' || to === '')
    return reject('INVALID_ARGUMENT', 'hand_over_rider needs the partition it goes to');
  // Asked again (the take-over's answer was lost): the same row, so the take-over can be asked again.
  if (r.away === to) return ok(snapshotRow(core, 'rider', riderId) as unknown as HandedRider);
  if (r.away !== null) return reject('NO_PARTITION_OWNER', `rider ${riderId} was handed over to partition ${r.away}`);
  const c = r.snap.context;
  if (c.orderId !== null || c.stack.length > 0 || c.stackOffer !== null) {
    return reject(
      'RIDER_INVALID_TRANSITION',
      `rider ${riderId} holds an offer or a job: it stays with its partition until it is free`,
    );
  }
  r.away = to;
  // Its grace deadline is the next partition's now: a tombstone must never emit again.
  core.deadlines.set('grace', r.id, 0);
  core.space.syncIndex(r);
  core.emit('rider', r, { type: 'rider_handed_over', to });
  return ok(snapshotRow(core, 'rider', riderId) as unknown as HandedRider);
}

/**
 * Takes a rider over from the partition that handed it over, with the row it
 * answered. A row no newer than the rider held here is a repeated take-over:
 * nothing changes and the answer is ok, so the partition handing over may ask
 * again whenever it is unsure.
 */
export function takeOverRider(core: EngineCore, cmd: Extract<EngineCommand, { type: 'take_over_rider' }>): Result {
  const row = cmd.row as unknown as RiderSnapshotRow | null;
  if (
    row === null ||
    typeof row !== 'object' ||
    row.id !== cmd.riderId ||
    !Number.isInteger(row.seq) ||
    typeof row.context !== 'object' ||
    !Array.isArray(row.stats)
  ) {
    return reject(
      'INVALID_ARGUMENT',
      `take_over_rider needs rider ${cmd.riderId}'s row as hand_over_rider answered it`,
    );
  }
  const held = core.riders.get(cmd.riderId);
  if (held !== undefined && held.seq >= row.seq) return ok(null);
  const { away: _away, ...here } = row;
  const r = held ?? riderFromRow(core, here);
  if (held !== undefined) writeRiderRow(core, held, here);
  core.space.syncIndex(r);
  if (r.capacity > 1) core.stacks.sync(r, core.orders);
  core.deadlines.set('grace', r.id, r.snap.context.graceUntil);
  core.emit('rider', r, { type: 'rider_taken_over', from: cmd.from });
  // Lent for an order (the border search): offered it now, before its next position could send it back.
  const o = cmd.forOrder === undefined ? undefined : core.orders.get(cmd.forOrder);
  if (o !== undefined && o.state === 'dispatching.searching') tryOffer(core, o);
  return ok(null);
}

/**
 * The border search, this partition's side: its nearest free rider to a neighbour's pickup,
 * within `withinM`, fresh and positioned, handed over to the neighbour (answered with its row),
 * or null when it has none to lend. The search walks the index rings around the point, out to
 * the ring that covers `withinM`, as a dispatch's does.
 */
export function lendRider(
  core: EngineCore,
  cmd: Extract<EngineCommand, { type: 'lend_rider' }>,
): Result<HandedRider | null> {
  const { withinM, to } = cmd;
  // Commands come as data from other processes: a missing place is refused, not a crash.
  const near = cmd.near as { lat: unknown; lng: unknown } | null | undefined;
  if (
    typeof near !== 'object' ||
    near === null ||
    !isLatitude(near.lat) ||
    !isLongitude(near.lng) ||
    !(withinM > 0 && withinM <= 50_000) ||
    typeof to !== 'string' ||
    to === ''
  ) {
    return reject(
      'INVALID_ARGUMENT',
      'lend_rider needs a place, a distance in (0, 50000] m and the partition it goes to',
    );
  }
  const cfg = core.config;
  const now = core.now();
  const centre = cellOf(near.lat, near.lng, cfg.indexResolution);
  const rings = Math.min(cfg.maxRing, Math.ceil(withinM / (getHexagonEdgeLengthAvg(cfg.indexResolution, 'm') * 1.5)));
  let best: RiderRecord | undefined;
  let bestD = Infinity;
  for (const cell of gridDisk(centre, rings)) {
    const riders = core.space.shardOfCell(cell as H3Cell)?.available.get(cell as H3Cell);
    if (riders === undefined) continue;
    for (const r of riders) {
      if (now - r.posAt > cfg.positionStaleMs) continue;
      const d = fastDistanceM(r.lat, r.lng, near.lat, near.lng);
      if (d <= withinM && (d < bestD || (d === bestD && best !== undefined && r.id < best.id))) {
        best = r;
        bestD = d;
      }
    }
  }
  if (best === undefined) return ok(null);
  return handOverRider(core, best.id, to);
}

/**
 * A command naming a rider this partition handed over: positions are not the
 * tombstone's (`UNKNOWN_RIDER`, dropped), anything else is the other
 * partition's (`NO_PARTITION_OWNER`: a gateway sends it again, there). Undefined
 * for every other command.
 */
export function awayRider(core: EngineCore, cmd: EngineCommand): Result<unknown> | undefined {
  if (cmd.type === 'hand_over_rider' || cmd.type === 'take_over_rider') return undefined;
  const id = (cmd as { readonly riderId?: unknown }).riderId;
  if (typeof id !== 'string') return undefined;
  const away = core.riders.get(id as RiderId)?.away ?? null;
  if (away === null) return undefined;
  if (cmd.type === 'update_rider_position') return ok(PositionStatus.UNKNOWN_RIDER);
  return reject('NO_PARTITION_OWNER', `rider ${id} was handed over to partition ${away}: send it there`);
}
