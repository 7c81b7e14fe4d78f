/**
 * The ingest bench's floor (`--floor`): the same uWS WebSocket settings, the
 * same real token check at upgrade and the same load, but a message handler
 * that only counts position frames. What it costs per position is what uWS,
 * Node's callback into JavaScript and the kernel (epoll, recv) cost before
 * any of our code runs: the part of `us_per_position` the gateway cannot
 * remove.
 */
import uWS from 'uWebSockets.js';
import { authenticatingUpgrade } from '../../adapters/ws/upgrade-auth.js';
import type { WsLimits } from '../../adapters/ws/limits.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import { Frame, RIDER_PATH, RIDER_SUBPROTOCOL, ok } from '../../protocol/index.js';

/** What the bench server reads from the floor, shaped like the rider route's stats. */
export interface FloorServer {
  readonly port: number;
  readonly rider: {
    readonly stats: {
      positions: number;
      stalePositions: number;
      rateLimited: number;
      invalidFrames: number;
      droppedFrames: number;
      connections: number;
      closes: Record<number, number>;
    };
  };
  close(): void;
}

export function startFloorServer(identity: IdentityVerifier, limits: WsLimits): Promise<FloorServer> {
  const stats = {
    positions: 0,
    stalePositions: 0,
    rateLimited: 0,
    invalidFrames: 0,
    droppedFrames: 0,
    connections: 0,
    closes: {} as Record<number, number>,
  };
  const app = uWS.App();
  app.ws<object>(RIDER_PATH, {
    maxPayloadLength: limits.maxPayloadBytes,
    idleTimeout: limits.idleTimeoutS,
    sendPingsAutomatically: true,
    maxBackpressure: limits.maxBackpressureBytes,
    closeOnBackpressureLimit: 0,
    upgrade: authenticatingUpgrade({
      identity,
      allowedOrigins: [],
      subprotocol: RIDER_SUBPROTOCOL,
      admit: () => ok({}),
    }),
    open: () => {
      stats.connections++;
    },
    message: (_ws, message) => {
      // The least a handler can do: look at the frame type.
      if (new Uint8Array(message)[1] === Frame.POSITION) stats.positions++;
    },
    close: (_ws, code) => {
      stats.connections--;
      stats.closes[code] = (stats.closes[code] ?? 0) + 1;
    },
  });
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => {
      if (socket === false) {
        reject(new Error('cannot listen'));
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(socket),
        rider: { stats },
        close: () => uWS.us_listen_socket_close(socket),
      });
    });
  });
}
