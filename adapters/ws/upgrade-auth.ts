/**
 * Authentication in the uWS upgrade handler, before any socket opens. The
 * uWebSockets.js discipline: copy what the request holds first (it dies at the
 * first await), register `res.onAborted` before awaiting, and answer inside
 * `res.cork`. A refusal is an HTTP status from the error table with a JSON
 * problem body; a client never gets a socket it may not have.
 */
import type { HttpRequest, HttpResponse, WebSocket, us_socket_context_t } from 'uWebSockets.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import {
  ErrorCodes,
  TOKEN_SUBPROTOCOL_PREFIX,
  type ErrorCode,
  type Principal,
  type Result,
} from '../../protocol/index.js';

/** What an upgrade request says, copied out of the short-lived `HttpRequest`. */
export interface UpgradeHeaders {
  readonly key: string;
  readonly extensions: string;
  readonly protocols: readonly string[];
  readonly origin: string;
  readonly authorization: string;
  readonly queryToken: string;
}

export function readUpgrade(req: HttpRequest): UpgradeHeaders {
  return {
    key: req.getHeader('sec-websocket-key'),
    extensions: req.getHeader('sec-websocket-extensions'),
    protocols: req
      .getHeader('sec-websocket-protocol')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    origin: req.getHeader('origin'),
    authorization: req.getHeader('authorization'),
    queryToken: req.getQuery('token') ?? '',
  };
}

/**
 * The bearer token, from (in order) the `Authorization: Bearer` header
 * (native clients), a `bearer.<token>` subprotocol entry or the `token` query
 * parameter (browsers, which cannot set headers on a WebSocket).
 */
export function tokenOf(h: UpgradeHeaders): string {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h.authorization);
  if (m?.[1] !== undefined) return m[1];
  const entry = h.protocols.find((p) => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
  if (entry !== undefined) return entry.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
  return h.queryToken;
}

/** True when the request comes from a native client (no Origin) or an allowed browser origin. */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  return origin === '' || allowed.includes('*') || allowed.includes(origin);
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  409: 'Conflict',
  413: 'Payload Too Large',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The JSON problem body of a refusal: `{ code, title, status, detail }`. */
export function problemBody(code: ErrorCode, detail: string): string {
  const spec = ErrorCodes[code];
  return JSON.stringify({ code, title: spec.title, status: spec.http, detail });
}

/** Answers an upgrade with the HTTP status of `code`. Call inside a cork. */
export function refuse(res: HttpResponse, code: ErrorCode, detail: string): void {
  const http = ErrorCodes[code].http;
  res
    .writeStatus(`${http} ${STATUS_TEXT[http] ?? 'Error'}`)
    .writeHeader('content-type', 'application/problem+json')
    .end(problemBody(code, detail), true);
}

export interface UpgradeAuthOptions<UD> {
  readonly identity: IdentityVerifier;
  readonly allowedOrigins: readonly string[];
  /** The subprotocol the client must offer; the server answers with it. */
  readonly subprotocol: string;
  /** True: a client may offer no subprotocol (the server then answers with none). */
  readonly optionalSubprotocol?: boolean;
  /** User data for a request without any token (in-band authentication follows); absent: refuse it. */
  readonly anonymous?: () => UD;
  /**
   * Decides on the verified principal (role, ids): user data for the socket, or a rejection; a
   * promise when the decision needs a lookup (the socket opens once it settles).
   */
  readonly admit: (p: Principal) => Result<UD> | Promise<Result<UD>>;
}

/**
 * The whole upgrade handler: origin and subprotocol checks, token
 * verification, the admission decision, then `res.upgrade` unless the client
 * went away meanwhile.
 */
export function authenticatingUpgrade<UD>(opts: UpgradeAuthOptions<UD>) {
  return (res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void => {
    const h = readUpgrade(req);
    let aborted = false;
    res.onAborted(() => (aborted = true));
    if (!originAllowed(h.origin, opts.allowedOrigins)) {
      refuse(res, 'ORIGIN_FORBIDDEN', `origin ${h.origin} is not allowed`);
      return;
    }
    const offered = h.protocols.includes(opts.subprotocol);
    if (!offered && !(opts.optionalSubprotocol === true && h.protocols.length === 0)) {
      refuse(res, 'PROTOCOL_UNSUPPORTED', `offer the subprotocol ${opts.subprotocol}`);
      return;
    }
    const protocol = offered ? opts.subprotocol : '';
    const token = tokenOf(h);
    if (token === '' && opts.anonymous) {
      res.upgrade(opts.anonymous(), h.key, protocol, h.extensions, context);
      return;
    }
    if (token === '') {
      refuse(res, 'AUTH_TOKEN_MISSING', 'send Authorization: Bearer <Firebase ID token>');
      return;
    }
    const decide = async (): Promise<void> => {
      const verified = await opts.identity.verify(token);
      if (aborted) return;
      const admitted = verified.ok ? await opts.admit(verified.value) : verified;
      if (aborted) return;
      res.cork(() => {
        if (!admitted.ok) refuse(res, admitted.code, admitted.detail);
        else res.upgrade(admitted.value, h.key, protocol, h.extensions, context);
      });
    };
    decide().catch(() => {
      if (!aborted) res.cork(() => refuse(res, 'INTERNAL', 'authentication failed unexpectedly'));
    });
  };
}

type OpenHandler<UD> = (ws: WebSocket<UD>) => void;
type CloseHandler<UD> = (ws: WebSocket<UD>, code: number, message: ArrayBuffer) => void;

/**
 * A route's `open` and `close`, with the open work moved out of uWS's upgrade.
 *
 * The pinned uWS build reads freed memory in `res.cork` after an upgrade made inside it: the
 * socket's old HTTP state, in the tail that the move to the WebSocket context freed, and it
 * closes the new socket when that word reads as "connection: close" (docs/streams.md). The word
 * still holds the old state, which is harmless, unless an allocation made meanwhile reuses the
 * freed tail, and what runs meanwhile is `open`. So `open` here only queues the work: it runs as
 * a microtask once `cork` has returned, corked on the socket, before anything from the network
 * is handled. A socket closed before its open work ran is dropped quietly: the route never saw
 * it open, so its `close` is not called either.
 */
export function openAfterUpgrade<UD extends object>(
  open: OpenHandler<UD>,
  close: CloseHandler<UD>,
): { open: OpenHandler<UD>; close: CloseHandler<UD> } {
  const pending = new WeakSet<UD>();
  return {
    open: (ws) => {
      const ud = ws.getUserData();
      pending.add(ud);
      queueMicrotask(() => {
        if (pending.delete(ud)) ws.cork(() => open(ws));
      });
    },
    close: (ws, code, message) => {
      if (!pending.delete(ws.getUserData())) close(ws, code, message);
    },
  };
}
