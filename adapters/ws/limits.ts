/**
 * The WebSocket edges' limits, parsed once and frozen. Each limit has its
 * documented close or error code (protocol/rider-protocol.md, docs/streams.md).
 */
import { RiderLimits } from '../../protocol/index.js';

export interface WsLimits {
  /**
   * uWS hard cap on a received message. Kept far above the protocol's own
   * limits (1 KiB, 4 KiB for AUTH), which the route enforces with close code
   * 4005: in the pinned uWS build, a message over this cap drops the
   * connection without a close frame and can later drop an unrelated
   * connection too (see docs/streams.md, "Known issue").
   */
  readonly maxPayloadBytes: number;
  /** Seconds without traffic before uWS closes; it pings automatically before then. */
  readonly idleTimeoutS: number;
  /** Positions a second a rider may send (token bucket); the excess is refused with RATE_LIMITED. */
  readonly positionsPerSecond: number;
  readonly positionBurst: number;
  /** Frames of any kind a second; beyond this the socket is a flood and is closed with 4007. */
  readonly framesPerSecond: number;
  readonly frameBurst: number;
  /** Undecodable frames in a row before closing with 4006. */
  readonly maxInvalidFrames: number;
  /** Above this many buffered bytes, droppable frames (acks, pongs, locations) are skipped. */
  readonly softBackpressureBytes: number;
  /** uWS maxBackpressure: a frame that must be delivered and cannot be queued closes with 4008. */
  readonly maxBackpressureBytes: number;
  /** Position frames between two acks (commands are acked at once). */
  readonly ackEvery: number;
  /** A position time further than this in the future is refused (device clock wrong). */
  readonly maxClockSkewMs: number;
  /** Stream endpoints: time allowed for in-band authentication. */
  readonly authTimeoutMs: number;
  /** Stream endpoints: least interval between two location updates of one order to a client. */
  readonly locationIntervalMs: number;
  /** Stream endpoints: orders one socket may watch at once. */
  readonly maxSubscriptions: number;
}

export const defaultWsLimits: WsLimits = Object.freeze({
  maxPayloadBytes: 64 * 1024,
  idleTimeoutS: 32,
  positionsPerSecond: 5,
  positionBurst: 10,
  framesPerSecond: 40,
  frameBurst: 80,
  maxInvalidFrames: 10,
  softBackpressureBytes: 16 * 1024,
  maxBackpressureBytes: 256 * 1024,
  ackEvery: 8,
  maxClockSkewMs: 30_000,
  authTimeoutMs: 5_000,
  locationIntervalMs: 1_000,
  maxSubscriptions: 20,
});

/** Merges overrides onto the defaults, checks them and freezes the result. */
export function resolveWsLimits(input: Partial<WsLimits> = {}): WsLimits {
  const l = { ...defaultWsLimits, ...input };
  for (const [k, v] of Object.entries(l)) {
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0))
      throw new RangeError(`ws limit ${k} must be a finite number ≥ 0`);
  }
  if (l.maxPayloadBytes < RiderLimits.MAX_AUTH_FRAME_BYTES)
    throw new RangeError(`maxPayloadBytes must be ≥ ${RiderLimits.MAX_AUTH_FRAME_BYTES}`);
  if (l.softBackpressureBytes > l.maxBackpressureBytes)
    throw new RangeError('softBackpressureBytes must be ≤ maxBackpressureBytes');
  return Object.freeze(l);
}
