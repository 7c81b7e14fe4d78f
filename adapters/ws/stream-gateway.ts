/**
 * `/v1/stream` and the seed API's `/ws`: JSON events for customers,
 * restaurants (and riders, admins) watching orders. A socket authenticates at
 * upgrade (like the rider endpoint) or, for clients written against the seed,
 * with a first message `{"type":"authenticate","token":...}` within
 * `authTimeoutMs`. Subscriptions are per order and checked with the access
 * policy (`order.read`): the order's customer, its restaurant, its rider.
 * Fan-out goes through uWS topics, so a slow subscriber is skipped by uWS
 * rather than holding memory; the rider's location is published at most once
 * per `locationIntervalMs` per order. Protocol: docs/streams.md.
 */
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { authorize, type Clock, type Engine, type EngineLogger } from '../../engine/index.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import {
  CloseCode, ok, parseOrderId, reject, type EngineEvent, type ErrorCode, type OrderId, type Principal, type Result,
} from '../../protocol/index.js';
import { durableGate } from './durable-gate.js';
import type { WsLimits } from './limits.js';
import { streamMessage, type StreamOut } from './stream-messages.js';
import { TokenBucket } from './token-bucket.js';
import { authenticatingUpgrade } from './upgrade-auth.js';

export const STREAM_PATHS = ['/v1/stream', '/ws'] as const;
export const STREAM_SUBPROTOCOL = 'dispatch.stream.v1';
/** Largest message a stream client may send, bytes. */
export const MAX_STREAM_MESSAGE = 4096;

export interface StreamRouteOptions {
  readonly engine: Engine;
  readonly identity: IdentityVerifier;
  readonly clock: Clock;
  readonly limits: WsLimits;
  readonly allowedOrigins: readonly string[];
  readonly logger?: EngineLogger;
  /**
   * Resolves once every engine event emitted so far is durable (the server's
   * `WriteBehind.barrier`), as for the rider route. Given, nothing that tells
   * of the engine's state (`subscribed` and its snapshot, `order_status_update`,
   * `notification`, `location_update`, `unsubscribed`) leaves before the events
   * behind it are durable, and these go out in the order they were made: a
   * customer is never told of a transition a crash could take back. None: at
   * once (the route alone, as in tests).
   */
  readonly durable?: () => Promise<void>;
}

export interface StreamRoutes {
  readonly stats: { connections: number; published: number; locations: number };
  /** Tells an order's watchers something that is already durable elsewhere (a refund the gateway accepted). */
  notify(orderId: string, message: string): void;
  close(code: number, reason: string): void;
}

interface StreamConn {
  principal: Principal | null;
  ws: WebSocket<StreamConn> | null;
  timer: unknown;
  frames: TokenBucket;
  subs: Set<OrderId>;
}

const orderTopic = (id: string) => `order/${id}`;
const locationTopic = (id: string) => `loc/${id}`;
const textOf = (m: ArrayBuffer) => Buffer.from(m).toString('utf8');

/** Registers the stream routes on `app`. */
export function attachStreamRoutes(app: TemplatedApp, o: StreamRouteOptions): StreamRoutes {
  const { engine, clock, limits } = o;
  const conns = new Set<StreamConn>();
  const stats = { connections: 0, published: 0, locations: 0 };
  /** Orders someone watches, with the rider position last published (to skip unchanged ones). */
  const watched = new Map<OrderId, number>();
  /** Orders with a subscription held for durability: watched, though no socket has joined their topics yet. */
  const joining = new Map<OrderId, number>();

  const newConn = (principal: Principal | null): StreamConn => ({
    principal, ws: null, timer: undefined, frames: new TokenBucket(limits.framesPerSecond, limits.frameBurst, clock.now()), subs: new Set(),
  });
  const send = (c: StreamConn, m: StreamOut): void => {
    c.ws?.send(JSON.stringify(m), false);
  };
  // What tells of engine state waits for durability, in one queue for the route, so each socket
  // gets it in the order it was made. Replies that tell nothing of it (authenticated, pong, error) go at once.
  const hold = durableGate(o.durable, clock);
  const fail = (c: StreamConn, code: ErrorCode, message: string): void => send(c, { type: 'error', data: { code, message } });

  const armExpiry = (c: StreamConn, at: number): void => {
    if (c.timer !== undefined) clock.clearTimeout(c.timer as never);
    c.timer = clock.setTimeout(() => {
      c.timer = undefined;
      c.ws?.end(c.principal ? CloseCode.TOKEN_EXPIRED : CloseCode.AUTH_TIMEOUT, c.principal ? 'AUTH_TOKEN_EXPIRED' : 'AUTH_TIMEOUT');
    }, Math.max(0, at - clock.now()));
  };

  const authenticated = (c: StreamConn, p: Principal): void => {
    c.principal = p;
    armExpiry(c, p.expiresAt);
    send(c, { type: 'authenticated', data: { uid: p.uid, role: p.role, expires_at: new Date(p.expiresAt).toISOString() } });
  };

  const authenticate = (c: StreamConn, token: unknown): void => {
    if (typeof token !== 'string') return fail(c, 'AUTH_TOKEN_MISSING', 'authenticate needs a token');
    void o.identity.verify(token).then((res) => {
      if (c.ws === null) return;
      if (!res.ok) {
        fail(c, res.code, res.detail);
        c.ws.end(CloseCode.AUTH_FAILED, res.code);
        return;
      }
      if (c.principal !== null && c.principal.uid !== res.value.uid) {
        fail(c, 'AUTH_OBJECT_FORBIDDEN', 'a socket keeps its user; open a new one');
        c.ws.end(CloseCode.AUTH_FAILED, 'AUTH_OBJECT_FORBIDDEN');
        return;
      }
      authenticated(c, res.value);
    }, (err: unknown) => o.logger?.error('stream authentication failed', err));
  };

  const canRead = (p: Principal, id: OrderId): Result<string> => {
    const v = engine.getOrder(id);
    // An order that does not exist and one that is not yours answer alike: no probing for ids.
    if (!v.ok) return reject('AUTH_OBJECT_FORBIDDEN', `order.read: order ${id} is not yours`);
    const o2 = v.value;
    const allowed = authorize(p, 'order.read', {
      customerId: o2.customerId, restaurantId: o2.restaurantId, ...(o2.riderId ? { riderId: o2.riderId } : {}),
    });
    return allowed.ok ? ok(o2.state) : allowed;
  };

  const subscribe = (c: StreamConn, raw: unknown): void => {
    const p = c.principal;
    if (p === null) return fail(c, 'AUTH_TOKEN_MISSING', 'authenticate first');
    const id = parseOrderId(raw);
    if (id === undefined) return fail(c, 'INVALID_ARGUMENT', 'order_id must be an order id');
    if (!c.subs.has(id) && c.subs.size >= limits.maxSubscriptions) return fail(c, 'RATE_LIMITED', `at most ${limits.maxSubscriptions} orders per socket`);
    const allowed = canRead(p, id);
    if (!allowed.ok) return fail(c, allowed.code, allowed.detail);
    c.subs.add(id);
    if (!watched.has(id)) watched.set(id, 0);
    const snapshot = streamMessage.snapshot(id, allowed.value, clock.now());
    // The topics are joined when the snapshot goes, not before: an update held from before the
    // snapshot would otherwise reach the socket ahead of it (and of `subscribed`).
    joining.set(id, (joining.get(id) ?? 0) + 1);
    hold(() => {
      const n = joining.get(id)! - 1;
      if (n === 0) joining.delete(id);
      else joining.set(id, n);
      if (c.ws === null) return;
      if (!watched.has(id)) watched.set(id, 0);
      c.ws.subscribe(orderTopic(id));
      c.ws.subscribe(locationTopic(id));
      send(c, { type: 'subscribed', data: { order_id: id } });
      send(c, snapshot);
    });
  };

  const unsubscribe = (c: StreamConn, raw: unknown): void => {
    const id = parseOrderId(raw);
    if (id === undefined || !c.subs.delete(id)) return fail(c, 'INVALID_ARGUMENT', 'not subscribed to this order');
    // In the same queue as `subscribed`, so the two keep their order; updates held until then still reach the socket.
    hold(() => {
      if (c.ws === null) return;
      c.ws.unsubscribe(orderTopic(id));
      c.ws.unsubscribe(locationTopic(id));
      send(c, { type: 'unsubscribed', data: { order_id: id } });
    });
  };

  const onMessage = (ws: WebSocket<StreamConn>, m: ArrayBuffer): void => {
    const c = ws.getUserData();
    if (!c.frames.take(clock.now())) return ws.end(CloseCode.RATE_LIMITED, 'RATE_LIMITED');
    if (m.byteLength > MAX_STREAM_MESSAGE) return ws.end(CloseCode.FRAME_TOO_LARGE, 'FRAME_TOO_LARGE');
    let msg: { type?: unknown; token?: unknown; order_id?: unknown };
    try {
      msg = JSON.parse(textOf(m)) as typeof msg;
    } catch {
      return fail(c, 'FRAME_INVALID', 'messages are JSON objects');
    }
    if (typeof msg !== 'object' || msg === null) return fail(c, 'FRAME_INVALID', 'messages are JSON objects');
    switch (msg.type) {
      case 'authenticate': return authenticate(c, msg.token);
      case 'subscribe': return subscribe(c, msg.order_id);
      case 'unsubscribe': return unsubscribe(c, msg.order_id);
      case 'ping': return send(c, { type: 'pong', data: { at: new Date(clock.now()).toISOString() } });
      default: return fail(c, 'FRAME_INVALID', `unknown message type ${JSON.stringify(msg.type)}`);
    }
  };

  const publish = (topic: string, m: StreamOut): void => {
    const text = JSON.stringify(m);
    hold(() => {
      stats.published++;
      app.publish(topic, text, false);
    });
  };

  const unsubscribeEngine = engine.subscribe((e: EngineEvent) => {
    if (e.aggregate !== 'order' || !watched.has(e.id as OrderId)) return;
    if (app.numSubscribers(orderTopic(e.id)) === 0 && !joining.has(e.id as OrderId)) {
      watched.delete(e.id as OrderId);
      return;
    }
    for (const m of streamMessage.fromEvent(e)) publish(orderTopic(e.id), m);
  });

  /** Rider positions never emit events (hot path): a throttled sweep publishes them to watchers. */
  let sweep: unknown;
  const sweepLocations = (): void => {
    sweep = clock.setTimeout(sweepLocations, limits.locationIntervalMs);
    for (const [id, lastAt] of watched) {
      if (app.numSubscribers(locationTopic(id)) === 0) {
        if (app.numSubscribers(orderTopic(id)) === 0 && !joining.has(id)) watched.delete(id);
        continue;
      }
      const v = engine.getOrder(id);
      if (!v.ok || v.value.riderId === null || (v.value.state !== 'assigned' && v.value.state !== 'picked_up')) continue;
      const r = engine.getRider(v.value.riderId);
      const pos = r.ok ? r.value.position : null;
      if (pos === null || pos.at === lastAt) continue;
      watched.set(id, pos.at);
      stats.locations++;
      publish(locationTopic(id), streamMessage.location(id, pos));
    }
  };
  sweep = clock.setTimeout(sweepLocations, limits.locationIntervalMs);

  for (const path of STREAM_PATHS) {
    app.ws<StreamConn>(path, {
      maxPayloadLength: limits.maxPayloadBytes,
      idleTimeout: limits.idleTimeoutS,
      sendPingsAutomatically: true,
      maxBackpressure: limits.maxBackpressureBytes,
      upgrade: authenticatingUpgrade<StreamConn>({
        identity: o.identity, allowedOrigins: o.allowedOrigins, subprotocol: STREAM_SUBPROTOCOL, optionalSubprotocol: true,
        anonymous: () => newConn(null),
        admit: (p) => ok(newConn(p)),
      }),
      open: (ws) => {
        const c = ws.getUserData();
        c.ws = ws;
        conns.add(c);
        stats.connections++;
        if (c.principal) authenticated(c, c.principal);
        else armExpiry(c, clock.now() + limits.authTimeoutMs);
      },
      message: (ws, m) => {
        try {
          onMessage(ws, m);
        } catch (err) {
          o.logger?.error('stream message handler failed', err);
          ws.end(1011, 'INTERNAL');
        }
      },
      close: (ws) => {
        const c = ws.getUserData();
        c.ws = null;
        conns.delete(c);
        stats.connections--;
        if (c.timer !== undefined) clock.clearTimeout(c.timer as never);
      },
    });
  }

  return {
    stats,
    notify(orderId, message) {
      const at = new Date(clock.now()).toISOString();
      publish(orderTopic(orderId), { type: 'notification', data: { order_id: orderId, message, at } });
    },
    close(code, reason) {
      unsubscribeEngine();
      clock.clearTimeout(sweep as never);
      for (const c of [...conns]) c.ws?.end(code, reason);
    },
  };
}
