/**
 * The one error-code table. Every edge maps a code through this table: REST to
 * `http` with a JSON problem body, gRPC to `grpc`, the WebSocket edges to an
 * error frame or close code of their own protocol. Expected outcomes (an offer
 * that expired, a command the state does not allow) are results carrying one
 * of these codes, never exceptions.
 */
export interface ErrorSpec {
  /** HTTP status the REST edge answers with. */
  readonly http: number;
  /** gRPC status name the admin edge answers with. */
  readonly grpc: GrpcStatusName;
  /** A short human title; the detail of each occurrence travels beside it. */
  readonly title: string;
}

export type GrpcStatusName =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

const spec = (http: number, grpc: GrpcStatusName, title: string): ErrorSpec => ({ http, grpc, title });

export const ErrorCodes = {
  // Input
  INVALID_ARGUMENT: spec(400, 'INVALID_ARGUMENT', 'A field is missing, of the wrong type or out of range'),
  POSITION_INVALID: spec(400, 'INVALID_ARGUMENT', 'Position has non-finite or out-of-range values'),
  POSITION_OUT_OF_ORDER: spec(409, 'FAILED_PRECONDITION', 'Position is older than the last one applied'),
  OUT_OF_SERVICE_AREA: spec(422, 'FAILED_PRECONDITION', 'Location is outside the service area'),
  INVALID_JSON: spec(400, 'INVALID_ARGUMENT', 'The body is not valid JSON'),
  BODY_TOO_LARGE: spec(413, 'RESOURCE_EXHAUSTED', 'The body is larger than this endpoint accepts'),
  UNSUPPORTED_MEDIA_TYPE: spec(415, 'INVALID_ARGUMENT', 'The body must be application/json'),
  ROUTE_NOT_FOUND: spec(404, 'NOT_FOUND', 'No such endpoint'),
  METHOD_NOT_ALLOWED: spec(405, 'INVALID_ARGUMENT', 'The endpoint does not take this method'),
  METHOD_NOT_IMPLEMENTED: spec(501, 'INVALID_ARGUMENT', 'The server does not know this HTTP method'),
  VALUE_TAKEN: spec(409, 'ALREADY_EXISTS', 'A value that must be unique is already used by another record'),
  CONSTRAINT_VIOLATED: spec(409, 'FAILED_PRECONDITION', 'The change breaks a rule of the stored data'),
  IDEMPOTENCY_KEY_INVALID: spec(
    400,
    'INVALID_ARGUMENT',
    'The Idempotency-Key header must be 1 to 255 visible ASCII characters',
  ),
  IDEMPOTENCY_KEY_REUSED: spec(422, 'FAILED_PRECONDITION', 'This Idempotency-Key was used with a different request'),
  IDEMPOTENCY_IN_FLIGHT: spec(409, 'ABORTED', 'A request with this Idempotency-Key is still being processed'),

  // Identity and access
  AUTH_TOKEN_MISSING: spec(401, 'UNAUTHENTICATED', 'No bearer token was given'),
  AUTH_TOKEN_INVALID: spec(401, 'UNAUTHENTICATED', 'The token is malformed, forged or for another project'),
  AUTH_TOKEN_EXPIRED: spec(401, 'UNAUTHENTICATED', 'The token has expired'),
  AUTH_TOKEN_REVOKED: spec(401, 'UNAUTHENTICATED', 'The token has been revoked'),
  AUTH_USER_DISABLED: spec(401, 'UNAUTHENTICATED', 'The user account is disabled'),
  AUTH_EMAIL_UNVERIFIED: spec(403, 'PERMISSION_DENIED', 'The user email address is not verified'),
  AUTH_PHONE_UNVERIFIED: spec(403, 'PERMISSION_DENIED', 'The user has no verified phone number'),
  AUTH_ROLE_FORBIDDEN: spec(403, 'PERMISSION_DENIED', 'The caller role may not make this call'),
  AUTH_OBJECT_FORBIDDEN: spec(403, 'PERMISSION_DENIED', 'The caller may not act on this object'),
  AUTH_UNAVAILABLE: spec(503, 'UNAVAILABLE', 'The identity service cannot be reached'),

  // Aggregates
  ORDER_NOT_FOUND: spec(404, 'NOT_FOUND', 'No such order'),
  ORDER_EXISTS: spec(409, 'ALREADY_EXISTS', 'An order with this id exists'),
  ORDER_INVALID_TRANSITION: spec(409, 'FAILED_PRECONDITION', 'The order state does not allow this'),
  ORDER_CANCEL_NOT_ALLOWED: spec(409, 'FAILED_PRECONDITION', 'This party may no longer cancel the order'),
  RIDER_NOT_FOUND: spec(404, 'NOT_FOUND', 'No such rider'),
  RIDER_EXISTS: spec(409, 'ALREADY_EXISTS', 'A rider with this id exists'),
  RIDER_INVALID_TRANSITION: spec(409, 'FAILED_PRECONDITION', 'The rider state does not allow this'),
  RIDER_NOT_APPROVED: spec(409, 'FAILED_PRECONDITION', "The rider's documents are not approved yet (or were rejected)"),
  RIDER_HAS_ACTIVE_JOB: spec(409, 'FAILED_PRECONDITION', 'The rider is carrying food and cannot do this'),
  RIDER_NOT_ASSIGNED: spec(403, 'PERMISSION_DENIED', 'The order is not assigned to this rider'),
  RESTAURANT_NOT_FOUND: spec(404, 'NOT_FOUND', 'No such restaurant'),
  RESTAURANT_EXISTS: spec(409, 'ALREADY_EXISTS', 'A restaurant with this id exists'),
  RESTAURANT_INVALID_TRANSITION: spec(409, 'FAILED_PRECONDITION', 'The restaurant state does not allow this'),
  RESTAURANT_CLOSED: spec(409, 'FAILED_PRECONDITION', 'The restaurant is closed'),
  RESTAURANT_BUSY: spec(409, 'FAILED_PRECONDITION', 'The restaurant is not taking orders right now'),
  RESTAURANT_AT_CAPACITY: spec(409, 'FAILED_PRECONDITION', 'The restaurant has as many open orders as it can cook'),
  RESTAURANT_NOT_OWNER: spec(403, 'PERMISSION_DENIED', 'The order belongs to another restaurant'),
  SHARD_DRAINING: spec(503, 'UNAVAILABLE', 'This area is drained by an operator and takes no new orders for now'),

  // Catalog, payments and profiles (REST)
  MENU_ITEM_NOT_FOUND: spec(422, 'FAILED_PRECONDITION', 'An ordered item is not on the restaurant menu'),
  MENU_ITEM_UNAVAILABLE: spec(409, 'FAILED_PRECONDITION', 'An ordered item is not available right now'),
  PAYMENT_NOT_FOUND: spec(404, 'NOT_FOUND', 'No such payment'),
  PAYMENT_AMOUNT_MISMATCH: spec(422, 'FAILED_PRECONDITION', 'The amount differs from the order total'),
  PAYMENT_NOT_ALLOWED: spec(409, 'FAILED_PRECONDITION', 'The order does not take a payment now'),
  PAYMENT_GATEWAY_REFUSED: spec(502, 'INTERNAL', 'The payment gateway refused the request'),
  WEBHOOK_SIGNATURE_INVALID: spec(401, 'UNAUTHENTICATED', 'The webhook signature does not match its body'),
  PROFILE_NOT_FOUND: spec(404, 'NOT_FOUND', 'No profile for this account yet'),
  PUSH_TOKEN_NOT_FOUND: spec(404, 'NOT_FOUND', 'No such push token on this account'),
  CHAT_CLOSED: spec(409, 'FAILED_PRECONDITION', 'The conversation is not open for this'),

  // Offers
  OFFER_NOT_FOUND: spec(409, 'FAILED_PRECONDITION', 'The rider holds no live offer for this order'),
  OFFER_EXPIRED: spec(409, 'FAILED_PRECONDITION', 'The offer has expired or was withdrawn'),

  // Streams (rider protocol and /v1/stream)
  FRAME_INVALID: spec(400, 'INVALID_ARGUMENT', 'The frame could not be decoded or failed validation'),
  FRAME_TOO_LARGE: spec(413, 'RESOURCE_EXHAUSTED', 'The frame is larger than the protocol allows'),
  PROTOCOL_UNSUPPORTED: spec(426, 'FAILED_PRECONDITION', 'No protocol version the server speaks was offered'),
  ORIGIN_FORBIDDEN: spec(403, 'PERMISSION_DENIED', 'Browser connections from this origin are not allowed'),
  AUTH_TIMEOUT: spec(401, 'UNAUTHENTICATED', 'The connection did not authenticate in time'),
  CONNECTION_REPLACED: spec(409, 'ABORTED', 'A newer connection of the same principal took over'),
  SLOW_CONSUMER: spec(429, 'RESOURCE_EXHAUSTED', 'The client is not reading what the server must deliver'),

  // Engine
  COMMAND_QUEUED: spec(409, 'ABORTED', 'The command was issued while another ran; it is queued to run right after'),

  // Cluster (docs/scale.md): this process lost a partition's lease and a newer owner has written.
  // 503: the command was not applied here, and a retry reaches the partition's new owner.
  FENCED: spec(503, 'UNAVAILABLE', 'This process no longer owns the partition; a newer owner has written'),
  // A command sent over NATS found no engine owning its partition (none subscribed, or none answered in time).
  NO_PARTITION_OWNER: spec(503, 'UNAVAILABLE', 'No engine owns this part of the city right now; retry shortly'),

  // Infrastructure
  RATE_LIMITED: spec(429, 'RESOURCE_EXHAUSTED', 'Too many requests'),
  // REST request bodies over a limit: the edge's (edge/Caddyfile) or a route's own.
  DEPENDENCY_UNAVAILABLE: spec(503, 'UNAVAILABLE', 'A service this call needs is down'),
  INTERNAL: spec(500, 'INTERNAL', 'Internal error'),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ErrorCodes;

/** A refused command: a code from the table plus what went wrong this time. */
export interface Rejection {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly detail: string;
}

/** What every engine command returns: a value, or a coded rejection. */
export type Result<T = null> = { readonly ok: true; readonly value: T } | Rejection;

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
/** The shared success of commands that return nothing. */
export const OK: Result = Object.freeze({ ok: true, value: null });
export const reject = (code: ErrorCode, detail: string): Rejection => ({ ok: false, code, detail });

export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && Object.hasOwn(ErrorCodes, s);
}
