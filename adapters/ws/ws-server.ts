/**
 * The WebSocket server: one uWebSockets.js app on one port carrying the rider
 * endpoint (`/v1/rider`) and the customer/restaurant streams (`/v1/stream`,
 * and `/ws` for clients of the seed API). Options are checked and frozen
 * here; the routes get them read-only.
 */
import uWS from 'uWebSockets.js';
import type { Clock, Engine, EngineLogger } from '../../engine/index.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import { CloseCode, type PositionFix, type RiderId } from '../../protocol/index.js';
import { resolveWsLimits, type WsLimits } from './limits.js';
import { attachRiderRoute, type RiderRoute } from './rider-gateway.js';
import type { RiderResumeStore } from './rider-resume.js';
import { attachStreamRoutes, type StreamRoutes } from './stream-gateway.js';

export interface WsServerOptions {
  readonly engine: Engine;
  readonly identity: IdentityVerifier;
  readonly clock: Clock;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Default 127.0.0.1: TLS and public exposure belong to the proxy in front. */
  readonly host?: string;
  readonly limits?: Partial<WsLimits>;
  /** Browser origins allowed to connect (`*` for any). Requests without Origin (native apps) always may. */
  readonly allowedOrigins?: readonly string[];
  readonly trail?: (riderId: RiderId, fix: PositionFix) => void;
  /** Called after each rider position the engine applied. */
  readonly onPosition?: (riderId: RiderId, lat: number, lng: number) => void;
  readonly logger?: EngineLogger;
  /** Rider frames and stream messages wait for it (see RiderRouteOptions.durable, StreamRouteOptions.durable); none: sent at once. */
  readonly durable?: () => Promise<void>;
  /** Where riders' resume points outlive this process (RiderRouteOptions.resume); none: in memory only. */
  readonly resume?: RiderResumeStore;
  /** How often positions' seqs go to `resume`, engine ms (default 1000). */
  readonly resumeFlushMs?: number;
}

export interface WsServer {
  readonly port: number;
  readonly limits: WsLimits;
  readonly rider: RiderRoute;
  readonly stream: StreamRoutes;
  /** Stops listening and closes every socket with 4010 (shutting down). */
  close(): void;
}

/** Builds the app, attaches the routes and listens. Rejects when the port cannot be bound. */
export function startWsServer(options: WsServerOptions): Promise<WsServer> {
  const limits = resolveWsLimits(options.limits);
  const allowedOrigins = Object.freeze([...(options.allowedOrigins ?? [])]);
  const common = Object.freeze({
    engine: options.engine,
    identity: options.identity,
    clock: options.clock,
    limits,
    allowedOrigins,
    ...(options.trail ? { trail: options.trail } : {}),
    ...(options.onPosition ? { onPosition: options.onPosition } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const app = uWS.App();
  const routes = options.durable ? { ...common, durable: options.durable } : common;
  const rider = attachRiderRoute(app, {
    ...routes,
    ...(options.resume ? { resume: options.resume } : {}),
    ...(options.resumeFlushMs !== undefined ? { resumeFlushMs: options.resumeFlushMs } : {}),
  });
  const stream = attachStreamRoutes(app, routes);
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').end('not found');
  });
  return new Promise((resolve, reject) => {
    app.listen(options.host ?? '127.0.0.1', options.port, (socket) => {
      if (socket === false) {
        reject(new Error(`cannot listen on ${options.host ?? '127.0.0.1'}:${options.port}`));
        return;
      }
      let closed = false;
      resolve({
        port: uWS.us_socket_local_port(socket),
        limits,
        rider,
        stream,
        close() {
          if (closed) return;
          closed = true;
          uWS.us_listen_socket_close(socket);
          rider.close(CloseCode.SHUTTING_DOWN, 'SHUTTING_DOWN');
          stream.close(CloseCode.SHUTTING_DOWN, 'SHUTTING_DOWN');
        },
      });
    });
  });
}
