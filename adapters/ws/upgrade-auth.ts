/**
 * Authentication in the uWS upgrade handler, before any socket opens. The
 * uWebSockets.js discipline: copy what the request holds first (it dies at the
 * first await), register `res.onAborted` before awaiting, and answer inside
 * `res.cork`, except for an upgrade made after an await, which must not be
 * inside its own response's cork on this uWS build (`upgradeAfterAwait`). A
 * refusal is an HTTP status from the error table with a JSON problem body; a
 * client never gets a socket it may not have.
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
      if (!admitted.ok) res.cork(() => refuse(res, admitted.code, admitted.detail));
      else upgradeAfterAwait(res, () => res.upgrade(admitted.value, h.key, protocol, h.extensions, context));
    };
    decide().catch(() => {
      if (!aborted) res.cork(() => refuse(res, 'INTERNAL', 'authentication failed unexpectedly'));
    });
  };
}

/**
 * Open sockets of every route in this thread, any of which can hold the loop's cork while another
 * socket is upgraded after an await (`upgradeAfterAwait`). uWS runs one loop per thread, so a socket
 * of any app or route will do. `openAfterUpgrade` keeps it.
 */
const corkHolders = new Set<WebSocket<object>>();

/**
 * Makes an upgrade decided after an await without `HttpResponse.cork` around it.
 *
 * The pinned uWS build's `cork` goes on using the response after its callback returns: it uncorks
 * through the socket's old address. An upgrade inside the callback has moved the socket to the
 * WebSocket context, and the move freed the old block (jemalloc) or its tail (glibc), so `cork`
 * reads freed memory. Under jemalloc the process dies with SIGSEGV once something has reused that
 * block (a storm of rider connections waiting on a key fetch did it); under glibc the new socket is
 * sometimes closed with 1006 (docs/streams.md). `cork` does this only when nothing is corked when
 * it is called; otherwise it just calls its callback. So the upgrade runs in `res.cork` (uWS.js
 * warns about writes made outside one) inside the cork of another open socket, and the 101 answer
 * is written without the cork buffer: a few more system calls, once per connection. With no other
 * socket open it runs bare, and uWS prints its warning that writes should be corked. When the
 * check finished within the microtasks of uWS's own upgrade handler, uWS's parser has the socket
 * corked already, and the upgrade runs as if it had been made there.
 */
function upgradeAfterAwait(res: HttpResponse, upgrade: () => void): void {
  const holder = corkHolders.values().next().value;
  if (holder === undefined) upgrade();
  else holder.cork(() => res.cork(upgrade));
}

type OpenHandler<UD> = (ws: WebSocket<UD>) => void;
type CloseHandler<UD> = (ws: WebSocket<UD>, code: number, message: ArrayBuffer) => void;

/**
 * A route's `open` and `close`, with the open work moved out of uWS's upgrade, and the socket
 * offered to `upgradeAfterAwait` as a cork holder while it is open.
 *
 * `open` only queues the work: it runs as a microtask once the upgrade has returned, corked on
 * the new socket, before anything from the network is handled. An upgrade made by
 * `upgradeAfterAwait` leaves the new socket uncorked (another holds the cork), so work done inside
 * it would send each frame on its own. Moving the work out was also the first workaround for the
 * freed-memory read (docs/streams.md), when upgrades were still made inside their own `cork`. A
 * socket closed before its open work ran is dropped quietly: the route never saw it open, so its
 * `close` is not called either.
 */
export function openAfterUpgrade<UD extends object>(
  open: OpenHandler<UD>,
  close: CloseHandler<UD>,
): { open: OpenHandler<UD>; close: CloseHandler<UD> } {
  const pending = new WeakSet<UD>();
  return {
    open: (ws) => {
      corkHolders.add(ws);
      const ud = ws.getUserData();
      pending.add(ud);
      queueMicrotask(() => {
        if (pending.delete(ud)) ws.cork(() => open(ws));
      });
    },
    close: (ws, code, message) => {
      corkHolders.delete(ws);
      if (!pending.delete(ws.getUserData())) close(ws, code, message);
    },
  };
}
