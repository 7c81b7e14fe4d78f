/**
 * The operators' live map: `GET /console` (the page), `GET /console/h3.js`
 * (h3-js's browser build, served from node_modules: nothing comes from the
 * internet) and the WebSocket `/v1/console`, which sends admins a snapshot
 * of the city (adapters/console/city-view.ts) every `intervalMs`.
 *
 * A browser cannot set headers on a WebSocket, so the page sends its token
 * as the first message, `{"type":"authenticate","token":...}`, within the
 * stream's authentication timeout (a token at upgrade, as on the other
 * sockets, works too). Only an admin (`admin.inspect` in the access policy)
 * is admitted; anyone else gets an `error` message saying why and the
 * socket is closed with 4003. Snapshots are computed once per interval, and
 * only while an admin watches. Protocol: docs/console.md.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { authorize, type Clock, type Engine, type EngineLogger } from '../../engine/index.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import {
  CONSOLE_SUBPROTOCOL,
  CONSOLE_WS_PATH,
  CloseCode,
  ok,
  type ConsoleServerMessage,
  type ErrorCode,
  type Principal,
  type Result,
} from '../../protocol/index.js';
import type { WsLimits } from '../ws/limits.js';
import { authenticatingUpgrade, openAfterUpgrade } from '../ws/upgrade-auth.js';
import { CityView } from './city-view.js';

export const CONSOLE_PAGE_PATH = '/console';
const TOPIC = 'console';
/** Largest message a console client may send, bytes (a token fits). */
const MAX_CONSOLE_MESSAGE = 16_384;

export interface ConsoleRouteOptions {
  readonly engine: Engine;
  readonly identity: IdentityVerifier;
  readonly clock: Clock;
  readonly limits: WsLimits;
  readonly logger?: EngineLogger;
  /** Time between snapshots; default 1000 ms. */
  readonly intervalMs?: number;
}

export interface ConsoleRoutes {
  readonly stats: { watchers: number; snapshots: number };
  close(): void;
}

interface ConsoleConn {
  /** Set once admitted. */
  principal: Principal | null;
  /** An admin's principal verified at upgrade, admitted when the socket opens. */
  atUpgrade: Principal | null;
  ws: WebSocket<ConsoleConn> | null;
  timer: unknown;
}

const page = readFileSync(new URL('./console.html', import.meta.url), 'utf8');
const h3Script = readFileSync(createRequire(import.meta.url).resolve('h3-js/dist/h3-js.umd.js'), 'utf8');

/** Whether `p` may watch the city: admins only. */
export function mayWatch(p: Principal): Result {
  return authorize(p, 'admin.inspect');
}

/** Registers the console's page, script and socket on `app`. */
export function attachConsoleRoutes(app: TemplatedApp, o: ConsoleRouteOptions): ConsoleRoutes {
  const { clock } = o;
  const intervalMs = o.intervalMs ?? 1000;
  const city = new CityView(o.engine);
  const conns = new Set<ConsoleConn>();
  const stats = { watchers: 0, snapshots: 0 };

  const serve = (path: string, type: string, body: string) =>
    app.get(path, (res) => {
      res.cork(() => {
        res
          .writeHeader('content-type', type)
          .writeHeader('cache-control', 'no-store')
          .writeHeader('x-content-type-options', 'nosniff')
          .end(body);
      });
    });
  serve(CONSOLE_PAGE_PATH, 'text/html; charset=utf-8', page);
  serve(`${CONSOLE_PAGE_PATH}/h3.js`, 'text/javascript; charset=utf-8', h3Script);

  const send = (c: ConsoleConn, m: ConsoleServerMessage) => c.ws?.send(JSON.stringify(m), false);
  const refuse = (c: ConsoleConn, code: ErrorCode, message: string, close: number) => {
    send(c, { type: 'error', data: { code, message } });
    c.ws?.end(close, code);
  };

  const armExpiry = (c: ConsoleConn, at: number): void => {
    if (c.timer !== undefined) clock.clearTimeout(c.timer as never);
    c.timer = clock.setTimeout(
      () => {
        c.timer = undefined;
        if (c.principal) refuse(c, 'AUTH_TOKEN_EXPIRED', 'the token expired; sign in again', CloseCode.TOKEN_EXPIRED);
        else refuse(c, 'AUTH_TOKEN_MISSING', 'no token was sent in time', CloseCode.AUTH_TIMEOUT);
      },
      Math.max(0, at - clock.now()),
    );
  };

  const admitted = (c: ConsoleConn, p: Principal): void => {
    const allowed = mayWatch(p);
    if (!allowed.ok) {
      refuse(c, allowed.code, `the console is for admins; this token's role is ${p.role}`, CloseCode.FORBIDDEN);
      return;
    }
    c.principal = p;
    armExpiry(c, p.expiresAt);
    send(c, {
      type: 'authenticated',
      data: { uid: p.uid, role: p.role, expires_at: new Date(p.expiresAt).toISOString(), interval_ms: intervalMs },
    });
    c.ws?.subscribe(TOPIC);
    stats.watchers++;
    send(c, { type: 'snapshot', data: city.snapshot(clock.now()) });
  };

  const onMessage = (c: ConsoleConn, m: ArrayBuffer): void => {
    if (m.byteLength > MAX_CONSOLE_MESSAGE) {
      c.ws?.end(CloseCode.FRAME_TOO_LARGE, 'FRAME_TOO_LARGE');
      return;
    }
    let msg: { type?: unknown; token?: unknown };
    try {
      msg = JSON.parse(Buffer.from(m).toString('utf8')) as typeof msg;
    } catch {
      send(c, { type: 'error', data: { code: 'FRAME_INVALID', message: 'messages are JSON objects' } });
      return;
    }
    if (typeof msg !== 'object' || msg === null || msg.type !== 'authenticate') {
      send(c, { type: 'error', data: { code: 'FRAME_INVALID', message: 'the only message is authenticate' } });
      return;
    }
    if (c.principal !== null) {
      send(c, { type: 'error', data: { code: 'FRAME_INVALID', message: 'already authenticated' } });
      return;
    }
    if (typeof msg.token !== 'string' || msg.token === '') {
      refuse(c, 'AUTH_TOKEN_MISSING', 'authenticate needs a token', CloseCode.AUTH_FAILED);
      return;
    }
    o.identity.verify(msg.token).then(
      (res) => {
        if (c.ws === null) return;
        if (!res.ok) refuse(c, res.code, res.detail, CloseCode.AUTH_FAILED);
        else admitted(c, res.value);
      },
      (err: unknown) => {
        o.logger?.error('console authentication failed', err);
        refuse(c, 'DEPENDENCY_UNAVAILABLE', 'the token could not be checked; try again', CloseCode.AUTH_FAILED);
      },
    );
  };

  app.ws<ConsoleConn>(CONSOLE_WS_PATH, {
    maxPayloadLength: MAX_CONSOLE_MESSAGE,
    idleTimeout: o.limits.idleTimeoutS,
    sendPingsAutomatically: true,
    maxBackpressure: o.limits.maxBackpressureBytes,
    upgrade: authenticatingUpgrade<ConsoleConn>({
      identity: o.identity,
      // The page is served by this server, under whatever origin a proxy gives it, and the socket
      // carries no ambient credential (no cookie: the token is sent explicitly), so another site's
      // page gains nothing by connecting. The browser-origin allowlist guards the other sockets.
      allowedOrigins: ['*'],
      subprotocol: CONSOLE_SUBPROTOCOL,
      optionalSubprotocol: true,
      anonymous: () => ({ principal: null, atUpgrade: null, ws: null, timer: undefined }),
      admit: (p) => {
        const allowed = mayWatch(p);
        return allowed.ok ? ok({ principal: null, atUpgrade: p, ws: null, timer: undefined }) : allowed;
      },
    }),
    message: (ws, m) => {
      try {
        onMessage(ws.getUserData(), m);
      } catch (err) {
        o.logger?.error('console message handler failed', err);
        ws.end(1011, 'INTERNAL');
      }
    },
    ...openAfterUpgrade<ConsoleConn>(
      (ws) => {
        const c = ws.getUserData();
        c.ws = ws;
        conns.add(c);
        if (c.atUpgrade !== null) admitted(c, c.atUpgrade);
        else armExpiry(c, clock.now() + o.limits.authTimeoutMs);
      },
      (ws) => {
        const c = ws.getUserData();
        c.ws = null;
        conns.delete(c);
        if (c.principal !== null) stats.watchers--;
        if (c.timer !== undefined) clock.clearTimeout(c.timer as never);
      },
    ),
  });

  let tick: unknown;
  const loop = (): void => {
    tick = clock.setTimeout(loop, intervalMs);
    if (stats.watchers === 0) return;
    stats.snapshots++;
    const m: ConsoleServerMessage = { type: 'snapshot', data: city.snapshot(clock.now()) };
    app.publish(TOPIC, JSON.stringify(m), false);
  };
  tick = clock.setTimeout(loop, intervalMs);

  return {
    stats,
    close: () => {
      clock.clearTimeout(tick as never);
      city.close();
      for (const c of conns) c.ws?.end(CloseCode.SHUTTING_DOWN, 'SHUTTING_DOWN');
    },
  };
}
