/**
 * End-to-end harness for the WebSocket edges: the real Firebase Auth emulator
 * for identities, the real uWS server on a free port, the `ws` package as the
 * client transport, and an engine on a simulated clock (so offers and token
 * expiry happen when a test says, not when the wall clock does).
 */
import WebSocket from 'ws';
import { parseFirebaseConfig } from '../../adapters/identity/config.js';
import { createFirebaseIdentity, type FirebaseIdentity } from '../../adapters/identity/firebase-identity.js';
import type { WsLimits } from '../../adapters/ws/limits.js';
import type { RiderResumeStore } from '../../adapters/ws/rider-resume.js';
import { startWsServer, type WsServer } from '../../adapters/ws/ws-server.js';
import { Engine, SimulatedClock, offsetM } from '../../engine/index.js';
import {
  RIDER_PATH,
  RIDER_SUBPROTOCOL,
  decodeServerFrame,
  type RestaurantId,
  type RiderSocketFactory,
  type ServerFrame,
} from '../../protocol/index.js';
import { EMULATOR_HOST, useAuthEmulator, type Teardownable } from './firebase-emulator.js';
import { makeUser, type TestUser } from './firebase-users.js';

export const CENTRE = { lat: 12.9352, lng: 77.6245 } as const;
export const near = (m: number, bearing = 90) => offsetM(CENTRE.lat, CENTRE.lng, bearing, m);

export interface Harness {
  readonly clock: SimulatedClock;
  readonly engine: Engine;
  readonly identity: FirebaseIdentity;
  readonly server: WsServer;
  readonly url: string;
  rider(label?: string): Promise<TestUser & { riderId: string }>;
  user(claims?: Record<string, unknown>): Promise<TestUser>;
  /** A restaurant at the centre, open. */
  restaurant(id?: string): RestaurantId;
}

/** Starts everything for one test file; teardown stops it. */
export async function startHarness(
  t: Teardownable,
  opts: {
    limits?: Partial<WsLimits>;
    allowedOrigins?: readonly string[];
    durable?: () => Promise<void>;
    resume?: RiderResumeStore;
  } = {},
): Promise<Harness> {
  process.env['FIREBASE_AUTH_EMULATOR_HOST'] = EMULATOR_HOST;
  await useAuthEmulator(t);
  const identity = createFirebaseIdentity(parseFirebaseConfig({ NODE_ENV: 'test' }));
  const clock = new SimulatedClock(Date.now());
  const engine = new Engine({ clock, seed: 11 });
  const server = await startWsServer({
    engine,
    identity,
    clock,
    port: 0,
    logger: { error: (m, d) => console.error('gateway:', m, d) },
    limits: opts.limits ?? {},
    allowedOrigins: opts.allowedOrigins ?? ['https://app.example.test'],
    ...(opts.durable ? { durable: opts.durable } : {}),
    ...(opts.resume ? { resume: opts.resume } : {}),
  });
  t.teardown(async () => {
    server.close();
    engine.stop();
    await identity.close();
  });
  let n = 0;
  return {
    clock,
    engine,
    identity,
    server,
    url: `ws://127.0.0.1:${server.port}${RIDER_PATH}`,
    async rider(label = 'rider') {
      const riderId = `${label}-${process.pid}-${++n}`;
      const u = await makeUser(identity.auth, { label, claims: { role: 'rider', rider_id: riderId } });
      return { ...u, riderId };
    },
    user: (claims) => makeUser(identity.auth, claims ? { claims } : {}),
    restaurant(id = `rest-${++n}`) {
      const r = engine.registerRestaurant({
        restaurantId: id as RestaurantId,
        location: CENTRE,
        prepMinutes: 10,
        capacity: 50,
      });
      if (!r.ok) throw new Error(r.detail);
      return id as RestaurantId;
    },
  };
}

/** The Node factory of the rider client: the token goes in the Authorization header. */
export const nodeSocket: RiderSocketFactory = (url, protocols, token) =>
  new WebSocket(url, protocols, {
    headers: { authorization: `Bearer ${token}` },
  }) as unknown as ReturnType<RiderSocketFactory>;

/** A raw test connection: every decoded server frame, and the close. */
export interface RawConn {
  readonly ws: WebSocket;
  readonly frames: ServerFrame[];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The upgrade's HTTP refusal, if any: status and parsed problem body. */
  readonly refused: Promise<{ status: number; body: { code?: string } } | null>;
  next(pred: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  send(bytes: Uint8Array): void;
}

export function connect(
  url: string,
  opts: { token?: string; protocols?: string[]; headers?: Record<string, string> } = {},
): RawConn {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  const ws = new WebSocket(url, opts.protocols ?? [RIDER_SUBPROTOCOL], { headers });
  const frames: ServerFrame[] = [];
  const waiters = new Set<{ pred: (f: ServerFrame) => boolean; done: (f: ServerFrame) => void }>();
  let refusedResolve: (v: { status: number; body: { code?: string } } | null) => void = () => undefined;
  const refused = new Promise<{ status: number; body: { code?: string } } | null>((r) => (refusedResolve = r));
  ws.on('unexpected-response', (_req, res) => {
    closeInfo = `refused ${res.statusCode ?? 0}`;
    let body = '';
    res.on('data', (c: Buffer) => (body += c.toString()));
    res.on('end', () => {
      let parsed: { code?: string } = {};
      try {
        parsed = JSON.parse(body) as { code?: string };
      } catch {
        /* not JSON */
      }
      refusedResolve({ status: res.statusCode ?? 0, body: parsed });
    });
  });
  ws.on('error', (err) => (closeInfo = `error ${String(err)}`));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      refusedResolve(null);
      resolve();
    });
    ws.once('close', () => reject(new Error('closed before open')));
  });
  opened.catch(() => undefined);
  let closeInfo = 'none';
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => {
      closeInfo = `${closeInfo}; ${code} ${reason.toString()}`;
      resolve({ code, reason: reason.toString() });
    }),
  );
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary) return;
    const d = decodeServerFrame(new Uint8Array(data));
    if (!d.ok) return;
    frames.push(d.frame);
    for (const w of waiters)
      if (w.pred(d.frame)) {
        waiters.delete(w);
        w.done(d.frame);
      }
  });
  return {
    ws,
    frames,
    opened,
    closed,
    refused,
    next(pred, timeoutMs = 15_000) {
      const seen = frames.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out waiting for a frame; got ${JSON.stringify(frames)}, socket state ${ws.readyState}, close ${closeInfo}`,
              ),
            ),
          timeoutMs,
        );
        waiters.add({
          pred,
          done: (f) => {
            clearTimeout(timer);
            resolve(f);
          },
        });
      });
    },
    send: (bytes) => ws.send(bytes),
  };
}
