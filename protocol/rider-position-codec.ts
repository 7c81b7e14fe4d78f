/**
 * The position frame's fast path: reads `[1, seq, lat, lng, accuracy,
 * heading, speed, time]` straight from the bytes into a reusable object, with
 * no MessagePack parser and no allocation. It accepts only the exact shape
 * (a fixarray of 8, numbers or nil where allowed) and valid values; anything
 * else answers false and the caller takes the general decoder, which says what
 * is wrong. Positions are the most frequent frame in the system.
 */
import { Frame, RiderLimits } from './rider-codes.js';

/** One position fix. `heading` and `speed` are NaN when unknown (nil on the wire). */
export interface PositionFix {
  /** Degrees, WGS 84. */
  lat: number;
  lng: number;
  /** Horizontal accuracy, metres. */
  accuracy: number;
  /** Degrees clockwise from north, [0, 360), or NaN. */
  heading: number;
  /** Metres per second, or NaN. */
  speed: number;
  /** Device time of the fix, epoch ms. */
  at: number;
}

/** Where {@link readPositionFrame} writes; reuse one per process. */
export interface PositionScratch extends PositionFix {
  seq: number;
}

/** A fresh scratch object. */
export const positionScratch = (): PositionScratch => ({
  seq: 0,
  lat: 0,
  lng: 0,
  accuracy: 0,
  heading: NaN,
  speed: NaN,
  at: 0,
});

const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

let pos = 0;

/** Reads one MessagePack number (or nil as NaN, when `nilOk`); answers undefined-free: sets `pos` to -1 on failure. */
function num(b: Uint8Array, nilOk: boolean): number {
  const p = pos;
  if (p < 0 || p >= b.length) return fail();
  const t = b[p]!;
  if (t <= 0x7f) {
    pos = p + 1;
    return t;
  }
  if (t >= 0xe0) {
    pos = p + 1;
    return t - 256;
  }
  switch (t) {
    case 0xc0:
      if (!nilOk) return fail();
      pos = p + 1;
      return NaN;
    case 0xcb: {
      if (p + 9 > b.length) return fail();
      if (LITTLE) for (let i = 0; i < 8; i++) f64b[i] = b[p + 8 - i]!;
      else for (let i = 0; i < 8; i++) f64b[i] = b[p + 1 + i]!;
      pos = p + 9;
      return f64[0]!;
    }
    case 0xca: {
      if (p + 5 > b.length) return fail();
      if (LITTLE) for (let i = 0; i < 4; i++) f32b[i] = b[p + 4 - i]!;
      else for (let i = 0; i < 4; i++) f32b[i] = b[p + 1 + i]!;
      pos = p + 5;
      return f32[0]!;
    }
    case 0xcc:
      if (p + 2 > b.length) return fail();
      pos = p + 2;
      return b[p + 1]!;
    case 0xcd:
      if (p + 3 > b.length) return fail();
      pos = p + 3;
      return (b[p + 1]! << 8) | b[p + 2]!;
    case 0xce:
      if (p + 5 > b.length) return fail();
      pos = p + 5;
      return ((b[p + 1]! << 24) >>> 0) + ((b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!);
    case 0xcf: {
      if (p + 9 > b.length) return fail();
      const hi = ((b[p + 1]! << 24) >>> 0) + ((b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!);
      const lo = ((b[p + 5]! << 24) >>> 0) + ((b[p + 6]! << 16) | (b[p + 7]! << 8) | b[p + 8]!);
      // Above 2^53 precision is lost; the value checks refuse such times anyway.
      pos = p + 9;
      return hi * 4294967296 + lo;
    }
    case 0xd0:
      if (p + 2 > b.length) return fail();
      pos = p + 2;
      return (b[p + 1]! << 24) >> 24;
    case 0xd1:
      if (p + 3 > b.length) return fail();
      pos = p + 3;
      return (((b[p + 1]! << 8) | b[p + 2]!) << 16) >> 16;
    case 0xd2:
      if (p + 5 > b.length) return fail();
      pos = p + 5;
      return (b[p + 1]! << 24) | (b[p + 2]! << 16) | (b[p + 3]! << 8) | b[p + 4]!;
    default:
      return fail();
  }
}

function fail(): number {
  pos = -1;
  return NaN;
}

/**
 * Reads a well-formed, valid position frame into `out`. Answers false, with
 * `out` in an unspecified state, for anything else (the general decoder then
 * explains). Never throws, never allocates.
 */
export function readPositionFrame(b: Uint8Array, out: PositionScratch): boolean {
  if (b.length < 10 || b.length > RiderLimits.MAX_FRAME_BYTES || b[0] !== 0x98 || b[1] !== Frame.POSITION) return false;
  pos = 2;
  const seq = num(b, false);
  const lat = num(b, false);
  const lng = num(b, false);
  const accuracy = num(b, false);
  const heading = num(b, true);
  const speed = num(b, true);
  const at = num(b, false);
  if (pos !== b.length) return false;
  if (!(Number.isInteger(seq) && seq >= 0 && seq <= RiderLimits.MAX_SEQ)) return false;
  if (!(lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180 && accuracy >= 0 && accuracy < 1e6)) return false;
  if (heading === heading && !(heading >= 0 && heading < 360)) return false;
  if (speed === speed && !(speed >= 0 && speed < 200)) return false;
  if (!(Number.isInteger(at) && at > 0 && at < 8.64e15)) return false;
  out.seq = seq;
  out.lat = lat;
  out.lng = lng;
  out.accuracy = accuracy;
  out.heading = heading;
  out.speed = speed;
  out.at = at;
  return true;
}
