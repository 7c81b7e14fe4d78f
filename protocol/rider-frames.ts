/**
 * The rider protocol's codec: MessagePack arrays `[type, seq, ...fields]`
 * (rider → server) and `[type, ...fields]` (server → rider), encoded with
 * msgpackr in standard mode (no record extension) so any MessagePack library
 * can speak it. Decoders never throw: bad input becomes a {@link FrameError}
 * with a code from the error table. See protocol/rider-protocol.md.
 */
import { Packr, Unpackr } from 'msgpackr';
import type { ErrorCode } from './errors.js';
import type { OrderId } from './ids.js';
import { Frame, OfferEndCode, RiderLimits, RiderStatusCode, StopKind } from './rider-codes.js';
import type { PositionFix } from './rider-position-codec.js';
import type { RouteStop } from './engine-events.js';

export { readPositionFrame, type PositionFix } from './rider-position-codec.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** A rider → server frame, decoded and validated. */
export type ClientFrame =
  | { readonly type: typeof Frame.POSITION; readonly seq: number; readonly fix: PositionFix }
  | { readonly type: typeof Frame.POSITION_BATCH; readonly seq: number; readonly fixes: readonly PositionFix[] }
  | { readonly type: typeof Frame.STATUS; readonly seq: number; readonly status: RiderStatusCode }
  | {
      readonly type: typeof Frame.ACCEPT | typeof Frame.DECLINE | typeof Frame.PICKED_UP | typeof Frame.DELIVERED;
      readonly seq: number;
      readonly orderId: OrderId;
    }
  | { readonly type: typeof Frame.PING; readonly seq: number; readonly clientTime: number }
  | { readonly type: typeof Frame.AUTH; readonly seq: number; readonly token: string };

/** A server → rider frame. */
export type ServerFrame =
  | {
      readonly type: typeof Frame.WELCOME;
      readonly lastSeq: number;
      readonly riderId: string;
      readonly serverTime: number;
      readonly tokenExpiresAt: number;
    }
  | { readonly type: typeof Frame.ACK; readonly lastSeq: number }
  | {
      readonly type: typeof Frame.OFFER;
      readonly orderId: string;
      readonly offerId: string;
      readonly expiresAt: number;
      readonly pickupLat: number;
      readonly pickupLng: number;
      readonly dropLat: number;
      readonly dropLng: number;
      readonly pickupDistanceM: number;
      readonly pickupEtaS: number;
      readonly payout: number | null;
      /**
       * A stacked offer (the rider would carry several orders): the whole route after accepting,
       * this order's stops among the others; absent from an offer of a rider's only job.
       */
      readonly stops?: readonly RouteStop[];
    }
  | {
      readonly type: typeof Frame.OFFER_ENDED;
      readonly orderId: string;
      readonly offerId: string;
      readonly outcome: OfferEndCode;
    }
  | {
      readonly type: typeof Frame.ASSIGNED;
      readonly orderId: string;
      readonly offerId: string;
      /** The rider's whole route when it now holds several jobs; absent for a rider's only job. */
      readonly stops?: readonly RouteStop[];
    }
  | { readonly type: typeof Frame.ORDER_UPDATE; readonly orderId: string; readonly status: string; readonly at: number }
  | { readonly type: typeof Frame.ERROR; readonly seq: number; readonly code: string; readonly detail: string }
  | { readonly type: typeof Frame.PONG; readonly clientTime: number; readonly serverTime: number };

/** A frame that could not be decoded or failed validation. `seq` is 0 when unknown. */
export interface FrameError {
  readonly ok: false;
  readonly code: Extract<ErrorCode, 'FRAME_INVALID' | 'FRAME_TOO_LARGE'>;
  readonly detail: string;
  readonly seq: number;
}

export type Decoded<F> = { readonly ok: true; readonly frame: F } | FrameError;

const bad = (detail: string, seq = 0): FrameError => ({ ok: false, code: 'FRAME_INVALID', detail, seq });
const isSeq = (x: unknown): x is number =>
  typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= RiderLimits.MAX_SEQ;
const isTime = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x > 0 && x < 8.64e15;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const isId = (x: unknown): x is string => typeof x === 'string' && x.length <= RiderLimits.MAX_ID_LENGTH && ID.test(x);
const STATUS_VALUES: ReadonlySet<unknown> = new Set(Object.values(RiderStatusCode));

/**
 * Checks a position's values; answers a reason, or undefined when valid.
 * `heading` and `speed` may be NaN (unknown on the wire as nil).
 */
export function checkFix(
  lat: number,
  lng: number,
  accuracy: number,
  heading: number,
  speed: number,
  at: number,
): string | undefined {
  if (!(lat >= -90 && lat <= 90)) return 'lat must be in [-90, 90]';
  if (!(lng >= -180 && lng <= 180)) return 'lng must be in [-180, 180]';
  if (!(accuracy >= 0 && accuracy < 1e6)) return 'accuracy must be metres in [0, 1e6)';
  if (heading === heading && !(heading >= 0 && heading < 360)) return 'heading must be degrees in [0, 360) or nil';
  if (speed === speed && !(speed >= 0 && speed < 200)) return 'speed must be m/s in [0, 200) or nil';
  if (!isTime(at)) return 'time must be epoch milliseconds';
  return undefined;
}

function fixOf(a: unknown[], i: number, seq: number): PositionFix | FrameError {
  const [lat, lng, accuracy, heading, speed, at] = [a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5]];
  if (typeof lat !== 'number' || typeof lng !== 'number' || typeof accuracy !== 'number' || typeof at !== 'number') {
    return bad('lat, lng, accuracy and time must be numbers', seq);
  }
  if ((heading !== null && typeof heading !== 'number') || (speed !== null && typeof speed !== 'number')) {
    return bad('heading and speed must be numbers or nil', seq);
  }
  const h = heading ?? NaN;
  const s = speed ?? NaN;
  const why = checkFix(lat, lng, accuracy, h, s, at);
  return why === undefined ? { lat, lng, accuracy, heading: h, speed: s, at } : bad(why, seq);
}

/**
 * Decodes one rider → server frame. The size limits are checked first, so an
 * oversize frame is refused before any parsing.
 */
export function decodeClientFrame(bytes: Uint8Array): Decoded<ClientFrame> {
  if (bytes.length > RiderLimits.MAX_AUTH_FRAME_BYTES) {
    return { ok: false, code: 'FRAME_TOO_LARGE', detail: `frame of ${bytes.length} bytes`, seq: 0 };
  }
  let v: unknown;
  try {
    v = unpackr.unpack(bytes);
  } catch {
    return bad('not a MessagePack value');
  }
  if (!Array.isArray(v) || v.length < 2) return bad('a frame is an array [type, seq, ...]');
  const [type, seq] = v as unknown[];
  if (!isSeq(seq)) return bad('seq must be an integer in [0, 2^32)');
  if (type !== Frame.AUTH && bytes.length > RiderLimits.MAX_FRAME_BYTES) {
    return {
      ok: false,
      code: 'FRAME_TOO_LARGE',
      detail: `frame of ${bytes.length} bytes; the limit is ${RiderLimits.MAX_FRAME_BYTES}`,
      seq,
    };
  }
  const a = v as unknown[];
  const arity = (n: number): FrameError | undefined =>
    a.length === n ? undefined : bad(`frame type ${String(type)} has ${n} elements`, seq);
  switch (type) {
    case Frame.POSITION: {
      const e = arity(8);
      if (e) return e;
      const fix = fixOf(a, 2, seq);
      return 'ok' in fix ? fix : { ok: true, frame: { type, seq, fix } };
    }
    case Frame.POSITION_BATCH: {
      const list = a[2];
      if (a.length !== 3 || !Array.isArray(list))
        return bad('a batch is [2, seq, [[lat, lng, accuracy, heading, speed, time], ...]]', seq);
      if (list.length === 0 || list.length > RiderLimits.MAX_BATCH)
        return bad(`a batch holds 1 to ${RiderLimits.MAX_BATCH} positions`, seq);
      const fixes: PositionFix[] = [];
      for (const p of list as unknown[]) {
        if (!Array.isArray(p) || p.length !== 6) return bad('each batch entry has 6 elements', seq);
        const fix = fixOf(p, 0, seq);
        if ('ok' in fix) return fix;
        fixes.push(fix);
      }
      return { ok: true, frame: { type, seq, fixes } };
    }
    case Frame.STATUS: {
      const status = a[2];
      if (a.length !== 3 || !STATUS_VALUES.has(status))
        return bad('status must be 1 (online), 2 (break) or 3 (offline)', seq);
      return { ok: true, frame: { type, seq, status: status as RiderStatusCode } };
    }
    case Frame.ACCEPT:
    case Frame.DECLINE:
    case Frame.PICKED_UP:
    case Frame.DELIVERED: {
      const orderId = a[2];
      if (a.length !== 3 || !isId(orderId)) return bad('orderId must be an id of at most 64 safe characters', seq);
      return { ok: true, frame: { type, seq, orderId: orderId as OrderId } };
    }
    case Frame.PING: {
      const clientTime = a[2];
      if (a.length !== 3 || typeof clientTime !== 'number' || !Number.isFinite(clientTime))
        return bad('ping carries the client time', seq);
      return { ok: true, frame: { type, seq, clientTime } };
    }
    case Frame.AUTH: {
      const token = a[2];
      if (a.length !== 3 || typeof token !== 'string' || token.length === 0)
        return bad('auth carries a token string', seq);
      return { ok: true, frame: { type, seq, token } };
    }
    default:
      return bad(`unknown frame type ${typeof type === 'number' ? type : typeof type}`, seq);
  }
}

/** Decodes one server → rider frame (for clients). Never throws. */
export function decodeServerFrame(bytes: Uint8Array): Decoded<ServerFrame> {
  let v: unknown;
  try {
    v = unpackr.unpack(bytes);
  } catch {
    return bad('not a MessagePack value');
  }
  if (!Array.isArray(v) || v.length < 2) return bad('a frame is an array [type, ...]');
  const a = v as unknown[];
  const n = (i: number) => a[i] as number;
  const s = (i: number) => a[i] as string;
  const shape = (len: number, nums: number[], strs: number[]): boolean =>
    a.length === len && nums.every((i) => typeof a[i] === 'number') && strs.every((i) => typeof a[i] === 'string');
  switch (a[0]) {
    case Frame.WELCOME:
      return shape(5, [1, 3, 4], [2])
        ? ok({ type: Frame.WELCOME, lastSeq: n(1), riderId: s(2), serverTime: n(3), tokenExpiresAt: n(4) })
        : bad('bad welcome');
    case Frame.ACK:
      return shape(2, [1], []) ? ok({ type: Frame.ACK, lastSeq: n(1) }) : bad('bad ack');
    case Frame.OFFER: {
      const stops = a.length === 12 ? decodeStops(a[11]) : undefined;
      const base =
        (a.length === 11 || stops !== undefined) &&
        shape(a.length, [3, 4, 5, 6, 7, 8, 9], [1, 2]) &&
        (a[10] === null || typeof a[10] === 'number');
      return base
        ? ok({
            type: Frame.OFFER,
            orderId: s(1),
            offerId: s(2),
            expiresAt: n(3),
            pickupLat: n(4),
            pickupLng: n(5),
            dropLat: n(6),
            dropLng: n(7),
            pickupDistanceM: n(8),
            pickupEtaS: n(9),
            payout: a[10] as number | null,
            ...(stops === undefined ? {} : { stops }),
          })
        : bad('bad offer');
    }
    case Frame.OFFER_ENDED:
      return shape(4, [3], [1, 2])
        ? ok({ type: Frame.OFFER_ENDED, orderId: s(1), offerId: s(2), outcome: n(3) as OfferEndCode })
        : bad('bad offer_ended');
    case Frame.ASSIGNED: {
      const stops = a.length === 4 ? decodeStops(a[3]) : undefined;
      return (a.length === 3 || stops !== undefined) && shape(a.length, [], [1, 2])
        ? ok({ type: Frame.ASSIGNED, orderId: s(1), offerId: s(2), ...(stops === undefined ? {} : { stops }) })
        : bad('bad assigned');
    }
    case Frame.ORDER_UPDATE:
      return shape(4, [3], [1, 2])
        ? ok({ type: Frame.ORDER_UPDATE, orderId: s(1), status: s(2), at: n(3) })
        : bad('bad order_update');
    case Frame.ERROR:
      return shape(4, [1], [2, 3]) ? ok({ type: Frame.ERROR, seq: n(1), code: s(2), detail: s(3) }) : bad('bad error');
    case Frame.PONG:
      return shape(3, [1, 2], []) ? ok({ type: Frame.PONG, clientTime: n(1), serverTime: n(2) }) : bad('bad pong');
    default:
      return bad('unknown frame type');
  }
}

const ok = <F>(frame: F): Decoded<F> => ({ ok: true, frame });

/** A stacked OFFER's route: a non-empty array of `[kind, order_id, lat, lng]`; undefined when malformed. */
function decodeStops(v: unknown): RouteStop[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const out: RouteStop[] = [];
  for (const x of v as unknown[]) {
    if (!Array.isArray(x) || x.length !== 4) return undefined;
    const [kind, orderId, lat, lng] = x as unknown[];
    if ((kind !== StopKind.PICKUP && kind !== StopKind.DROP) || typeof orderId !== 'string') return undefined;
    if (typeof lat !== 'number' || typeof lng !== 'number') return undefined;
    out.push({ kind: kind === StopKind.PICKUP ? 'pickup' : 'drop', orderId: orderId as OrderId, at: { lat, lng } });
  }
  return out;
}
const nil = (x: number): number | null => (x === x ? x : null);

/** Encodes any value as MessagePack (standard mode). Exposed for tests and tools. */
export const encodeRaw = (value: unknown): Uint8Array => packr.pack(value);

// ─── Rider → server ─────────────────────────────────────────────────────────

export const encodePosition = (seq: number, f: PositionFix): Uint8Array =>
  packr.pack([Frame.POSITION, seq, f.lat, f.lng, f.accuracy, nil(f.heading), nil(f.speed), f.at]);
export const encodePositionBatch = (seq: number, fixes: readonly PositionFix[]): Uint8Array =>
  packr.pack([
    Frame.POSITION_BATCH,
    seq,
    fixes.map((f) => [f.lat, f.lng, f.accuracy, nil(f.heading), nil(f.speed), f.at]),
  ]);
export const encodeStatus = (seq: number, status: RiderStatusCode): Uint8Array =>
  packr.pack([Frame.STATUS, seq, status]);
export const encodeOrderCommand = (
  type: typeof Frame.ACCEPT | typeof Frame.DECLINE | typeof Frame.PICKED_UP | typeof Frame.DELIVERED,
  seq: number,
  orderId: string,
): Uint8Array => packr.pack([type, seq, orderId]);
export const encodePing = (clientTime: number): Uint8Array => packr.pack([Frame.PING, 0, clientTime]);
export const encodeAuth = (token: string): Uint8Array => packr.pack([Frame.AUTH, 0, token]);

// ─── Server → rider ─────────────────────────────────────────────────────────

export const encodeWelcome = (
  lastSeq: number,
  riderId: string,
  serverTime: number,
  tokenExpiresAt: number,
): Uint8Array => packr.pack([Frame.WELCOME, lastSeq, riderId, serverTime, tokenExpiresAt]);
export const encodeAck = (lastSeq: number): Uint8Array => packr.pack([Frame.ACK, lastSeq]);
export const encodeOffer = (o: Omit<Extract<ServerFrame, { type: typeof Frame.OFFER }>, 'type'>): Uint8Array =>
  packr.pack([
    Frame.OFFER,
    o.orderId,
    o.offerId,
    o.expiresAt,
    o.pickupLat,
    o.pickupLng,
    o.dropLat,
    o.dropLng,
    o.pickupDistanceM,
    o.pickupEtaS,
    o.payout,
    ...(o.stops === undefined ? [] : [wireStops(o.stops)]),
  ]);
export const encodeOfferEnded = (orderId: string, offerId: string, outcome: OfferEndCode): Uint8Array =>
  packr.pack([Frame.OFFER_ENDED, orderId, offerId, outcome]);
export const encodeAssigned = (orderId: string, offerId: string, stops?: readonly RouteStop[]): Uint8Array =>
  packr.pack(
    stops === undefined ? [Frame.ASSIGNED, orderId, offerId] : [Frame.ASSIGNED, orderId, offerId, wireStops(stops)],
  );
const wireStops = (stops: readonly RouteStop[]) =>
  stops.map((x) => [x.kind === 'pickup' ? StopKind.PICKUP : StopKind.DROP, x.orderId, x.at.lat, x.at.lng]);
export const encodeOrderUpdate = (orderId: string, status: string, at: number): Uint8Array =>
  packr.pack([Frame.ORDER_UPDATE, orderId, status, at]);
export const encodeError = (seq: number, code: ErrorCode, detail: string): Uint8Array =>
  packr.pack([Frame.ERROR, seq, code, detail.slice(0, 200)]);
export const encodePong = (clientTime: number, serverTime: number): Uint8Array =>
  packr.pack([Frame.PONG, clientTime, serverTime]);
