import { PositionStatus, isLatitude, isLongitude } from '../protocol/index.js';
import { Row, ROW } from './cell-index.js';
import type { EngineCore } from './core.js';
import { fastDistanceM } from './geo.js';
import type { RiderRecord } from './records.js';
import { jobsOf, routeOf } from './dispatch/stacking.js';
import { clearTarget } from './release.js';
import { Col } from './rider-table.js';

/**
 * The hot path: applies a rider position in place. No XState transition and
 * no allocation unless the rider leaves the disc inside its H3 cell or reaches
 * a pickup or drop geofence. `heading` and `speed` may be NaN when unknown.
 */
export function applyPosition(
  core: EngineCore,
  r: RiderRecord,
  lat: number,
  lng: number,
  accuracy: number,
  heading: number,
  speed: number,
  at: number,
): PositionStatus {
  if (!isValidFix(lat, lng, accuracy, heading, speed, at)) return PositionStatus.INVALID;
  const d = r.table.data;
  const b = r.base;
  if (at <= d[b + Col.POS_AT]!) return PositionStatus.OUT_OF_ORDER;
  const now = core.clock.now();
  const cfg = core.config;
  if (now - at > cfg.positionStaleMs) return PositionStatus.STALE;
  // Accepting a time far ahead would refuse every real position after it as out of order.
  if (at - now > cfg.maxClockSkewMs) return PositionStatus.FUTURE;
  placeRider(core, r, lat, lng, accuracy, heading, speed, at);
  const tLat = d[b + Col.TARGET_LAT]!;
  if (tLat === tLat && fastDistanceM(lat, lng, tLat, d[b + Col.TARGET_LNG]!) < cfg.arrivalRadiusM) arrived(core, r);
  return PositionStatus.APPLIED;
}

/** Whether the numbers of a fix make a position at all; NaN heading and speed mean unknown. */
export function isValidFix(
  lat: number,
  lng: number,
  accuracy: number,
  heading: number,
  speed: number,
  at: number,
): boolean {
  // Comparisons, not Number.isFinite calls, keep this cheap.
  return (
    isLatitude(lat) &&
    isLongitude(lng) &&
    at > 0 &&
    at < Infinity &&
    accuracy >= 0 &&
    accuracy < Infinity &&
    !(speed < 0) &&
    speed !== Infinity &&
    !(heading < 0) &&
    !(heading >= 360)
  );
}

/**
 * Writes a position into `r` in place and moves it to its new cell (and shard,
 * and index slot) when it left the disc inside its cell: no geofence, no event.
 * The hot path, a snapshot load and a read mirror all place riders here.
 */
export function placeRider(
  core: EngineCore,
  r: RiderRecord,
  lat: number,
  lng: number,
  accuracy: number,
  heading: number,
  speed: number,
  at: number,
): void {
  const d = r.table.data;
  const b = r.base;
  d[b + Col.LAT] = lat;
  d[b + Col.LNG] = lng;
  d[b + Col.ACCURACY] = accuracy;
  d[b + Col.HEADING] = heading;
  d[b + Col.SPEED] = speed;
  d[b + Col.POS_AT] = at;
  if (!(fastDistanceM(lat, lng, d[b + Col.DISC_LAT]!, d[b + Col.DISC_LNG]!) < d[b + Col.DISC_R]!))
    core.space.relocate(r);
  // Its search row, if it is available (engine/cell-index.ts); relocate has moved it to its new cell.
  const rows = r.indexRows;
  if (rows !== null) {
    const o = r.indexSlot * ROW;
    rows[o + Row.LAT] = lat;
    rows[o + Row.LNG] = lng;
    rows[o + Row.POS_AT] = at;
    rows[o + Row.SPEED] = speed;
    rows[o + Row.HEADING] = heading;
  }
}

/** The rider entered the geofence of its next stop: the first of its route (dispatch/stacking.ts). */
function arrived(core: EngineCore, r: RiderRecord): void {
  clearTarget(r);
  const stop = routeOf(jobsOf(core, r))[0];
  if (stop === undefined) return;
  const orderId = stop.orderId;
  if (stop.kind === 'drop') core.emit('rider', r, { type: 'rider_arrived_drop', orderId });
  else if (orderId !== r.snap.context.orderId) core.emit('rider', r, { type: 'rider_arrived_pickup', orderId });
  else if (r.state === 'online.to_pickup' && core.stepRider(r, { type: 'ARRIVED_PICKUP', orderId }))
    core.emit('rider', r, { type: 'rider_arrived_pickup', orderId });
}
