/**
 * The rider protocol's numbers: frame type codes, close codes, status and
 * outcome codes, limits. The one source of wire truth for the gateway
 * (adapters/ws/) and the rider client (protocol/rider-client.ts); the
 * document is protocol/rider-protocol.md.
 */

/** The WebSocket subprotocol of this version; negotiated at upgrade. */
export const RIDER_SUBPROTOCOL = 'dispatch.v1';
/** Path of the rider endpoint. */
export const RIDER_PATH = '/v1/rider';
/** Browsers cannot set headers: a subprotocol entry with this prefix carries the token. */
export const TOKEN_SUBPROTOCOL_PREFIX = 'bearer.';

/**
 * Frame type codes: the first element of every frame array. 1-19 travel rider
 * → server, 20-39 server → rider.
 */
export const Frame = {
  // Rider → server: [type, seq, ...fields]
  POSITION: 1,
  POSITION_BATCH: 2,
  STATUS: 3,
  ACCEPT: 4,
  DECLINE: 5,
  PICKED_UP: 6,
  DELIVERED: 7,
  PING: 8,
  AUTH: 9,
  // Server → rider: [type, ...fields]
  WELCOME: 20,
  ACK: 21,
  OFFER: 22,
  OFFER_ENDED: 23,
  ASSIGNED: 24,
  ORDER_UPDATE: 25,
  ERROR: 26,
  PONG: 27,
} as const;
export type Frame = (typeof Frame)[keyof typeof Frame];

/** Rider status values of a STATUS frame. */
export const RiderStatusCode = {
  ONLINE: 1,
  BREAK: 2,
  OFFLINE: 3,
} as const;
export type RiderStatusCode = (typeof RiderStatusCode)[keyof typeof RiderStatusCode];

/** What a stop of a stacked OFFER's route is: `[kind, order_id, lat, lng]`. */
export const StopKind = {
  PICKUP: 1,
  DROP: 2,
} as const;
export type StopKind = (typeof StopKind)[keyof typeof StopKind];

/** How an offer ended, in an OFFER_ENDED frame. */
export const OfferEndCode = {
  DECLINED: 1,
  EXPIRED: 2,
  WITHDRAWN: 3,
} as const;
export type OfferEndCode = (typeof OfferEndCode)[keyof typeof OfferEndCode];

/**
 * Close codes, in the 4000 range the WebSocket spec leaves to applications.
 * Standard codes the server may also use: 1000 (normal), 1001 (shutting down),
 * 1006 (no close frame: network, or a message above the server's 64 KiB hard cap), 1011 (server bug).
 */
export const CloseCode = {
  /** A fresh token frame failed verification, or named another rider. */
  AUTH_FAILED: 4001,
  /** The token that opened the socket expired and no fresh one arrived. */
  TOKEN_EXPIRED: 4002,
  /** The principal's role may not use this endpoint (in-band auth of `/ws`). */
  FORBIDDEN: 4003,
  /** A newer connection of the same rider took over. Do not reconnect automatically. */
  REPLACED: 4004,
  /** A frame larger than the protocol allows for its type. */
  FRAME_TOO_LARGE: 4005,
  /** Text frames, or too many undecodable frames in a row. */
  PROTOCOL_ERROR: 4006,
  /** Frames arrived far faster than the rate limit allows. */
  RATE_LIMITED: 4007,
  /** The client stopped reading: the server could not queue a frame it must deliver. */
  SLOW_CONSUMER: 4008,
  /** No authentication within the allowed time (stream endpoints, in-band auth). */
  AUTH_TIMEOUT: 4009,
  /** The server is shutting down; reconnect with backoff. */
  SHUTTING_DOWN: 4010,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which a client must not reconnect without user action (or a new token). */
export const TERMINAL_CLOSE_CODES: ReadonlySet<number> = new Set([
  CloseCode.AUTH_FAILED,
  CloseCode.FORBIDDEN,
  CloseCode.REPLACED,
]);

/** Wire limits every implementation shares. */
export const RiderLimits = {
  /** Largest frame of any type but AUTH, bytes. */
  MAX_FRAME_BYTES: 1024,
  /** Largest AUTH frame (a Firebase ID token with claims fits), bytes. */
  MAX_AUTH_FRAME_BYTES: 4096,
  /** Most positions in one POSITION_BATCH (fits in MAX_FRAME_BYTES with float64 coordinates). */
  MAX_BATCH: 16,
  /** Largest sequence number; a client wraps to 1 only on a fresh session. */
  MAX_SEQ: 0xffff_ffff,
  /** Longest id (order, offer) accepted in a frame. */
  MAX_ID_LENGTH: 64,
} as const;
