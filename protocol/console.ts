/**
 * The operators' console socket, `/v1/console` (docs/console.md): JSON text
 * messages. A client sends `authenticate` first; an admin then gets
 * `authenticated` and a `snapshot` of the city every `interval_ms`.
 */
import type { ErrorCode } from './errors.js';

export const CONSOLE_WS_PATH = '/v1/console';
export const CONSOLE_SUBPROTOCOL = 'dispatch.console.v1';

export interface CityCounters {
  /** Riders not offline (on a break included), as the engine counts them. */
  readonly ridersOnline: number;
  /** Riders the engine would offer an order to now (its dispatch index). */
  readonly ridersIdle: number;
  /** Riders holding an offer or a job. */
  readonly ridersBusy: number;
  readonly ridersOnBreak: number;
  /** Orders not yet delivered or cancelled, as the engine counts them. */
  readonly ordersLive: number;
  /** Live orders without a rider yet (unpaid, at the restaurant, being offered). */
  readonly ordersWaiting: number;
  /** Live orders with a rider on the way to the pickup or the drop. */
  readonly ordersEnRoute: number;
  /** Orders delivered since the server started. */
  readonly delivered: number;
  /** Orders cancelled since the server started. */
  readonly cancelled: number;
}

/** One point of the latency chart: the assignments made since the previous snapshot. */
export interface LatencyPoint {
  readonly at: number;
  readonly count: number;
  readonly p50Ms: number;
  readonly maxMs: number;
}

export interface CitySnapshot {
  readonly at: number;
  readonly seq: number;
  readonly res: number;
  readonly counters: CityCounters;
  /** `[h3 cell, idle riders, waiting orders]` of every cell with an online rider or a live order (counts may be 0). */
  readonly cells: readonly (readonly [string, number, number])[];
  /** `[rider id, lat, lng, state]` of every online rider with a known position. */
  readonly riders: readonly (readonly [string, number, number, string])[];
  readonly latency: readonly LatencyPoint[];
}

/** What the console socket sends. */
export type ConsoleServerMessage =
  | {
      readonly type: 'authenticated';
      readonly data: { uid: string; role: string; expires_at: string; interval_ms: number };
    }
  | { readonly type: 'snapshot'; readonly data: CitySnapshot }
  | { readonly type: 'error'; readonly data: { code: ErrorCode; message: string } };

/** What a console client sends: only this, once. */
export interface ConsoleAuthenticate {
  readonly type: 'authenticate';
  readonly token: string;
}
