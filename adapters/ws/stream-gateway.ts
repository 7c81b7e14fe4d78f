/**
 * `/v1/stream` and the seed API's `/ws`: JSON events for customers,
 * restaurants (and riders, admins) watching orders. A socket authenticates at
 * upgrade (like the rider endpoint) or, for clients written against the seed,
 * with a first message `{"type":"authenticate","token":...}` within
 * `authTimeoutMs`. Once authenticated, a customer, restaurant or rider hears
 * every live order it is a party to (its feed, from a {@link PartyIndex}) with
 * no `subscribe`; a subscription to one order (checked with the access policy,
 * `order.read`) stays for clients that want it, and an order is never sent
 * twice to a socket that has both.
 * Fan-out goes through uWS topics, so a slow subscriber is skipped by uWS
 * rather than holding memory; the rider's location is published at most once
 * per `locationIntervalMs` per order. Protocol: docs/streams.md.
 */
import { createHash } from 'node:crypto';
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { authorize, type Clock, type Engine, type EngineLogger } from '../../engine/index.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import {
  CloseCode,
  ok,
  parseOrderId,
  reject,
  type EngineEvent,
  type ErrorCode,
  type OrderId,
  type Principal,
  type Result,
  type RiderId,
} from '../../protocol/index.js';
import { isChatChannel } from '../../engine/index.js';
import type { ChatService } from '../chat/chat-service.js';
import { durableGate } from './durable-gate.js';
import type { WsLimits } from './limits.js';
import { seedStatus } from '../../protocol/rest/order-status.js';
import { PartyIndex, partyKeyOf, type EventParties } from './party-index.js';
import { streamMessage, type StreamOut } from './stream-messages.js';
import { TokenBucket } from './token-bucket.js';
import { authenticatingUpgrade, openAfterUpgrade } from './upgrade-auth.js';

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
  /** One line per socket opened, authenticated and closed, with the connection id and the caller. */
  readonly lifecycle?: { info(o: Record<string, unknown>): void };
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
  /** Chat per order over the stream (`chat` in, `chat_message` out); none: `chat` is refused. */
  readonly chat?: ChatService;
}

export interface StreamRoutes {
  readonly stats: StreamStats;
  /** Tells an order's watchers and its customer's feed something already durable elsewhere (a refund the gateway accepted). */
  notify(orderId: string, message: string): void;
  close(code: number, reason: string): void;
}

/** Per path: connections open and opened, messages in, closes by code. */
export interface StreamPathStats {
  connections: number;
  opened: number;
  messages: number;
  closes: Record<number, number>;
}

export interface StreamStats {
  connections: number;
  published: number;
  locations: number;
  fed: number;
  readonly paths: Readonly<Record<string, StreamPathStats>>;
}

interface StreamConn {
  /** This process's number for the connection, for logs (`connection_id`). */
  readonly connectionId: string;
  readonly path: string;
  principal: Principal | null;
  ws: WebSocket<StreamConn> | null;
  timer: unknown;
  frames: TokenBucket;
  subs: Set<OrderId>;
  /** The party key whose feed this socket hears, once joined. */
  party: string | undefined;
}

/** A client's message as parsed, before each field is checked. */
interface ClientMessage {
  type?: unknown;
  token?: unknown;
  order_id?: unknown;
  channel?: unknown;
  body?: unknown;
  client_msg_id?: unknown;
}

const orderTopic = (id: string) => `order/${id}`;
const locationTopic = (id: string) => `loc/${id}`;
const textOf = (m: ArrayBuffer) => Buffer.from(m).toString('utf8');

/** Registers the stream routes on `app`. */
export function attachStreamRoutes(app: TemplatedApp, o: StreamRouteOptions): StreamRoutes {
  const { engine, clock, limits } = o;
  const conns = new Set<StreamConn>();
  const stats: StreamStats = {
    connections: 0,
    published: 0,
    locations: 0,
    fed: 0,
    paths: Object.fromEntries(STREAM_PATHS.map((p) => [p, { connections: 0, opened: 0, messages: 0, closes: {} }])),
  };
  let connectionCount = 0;
  /** Live orders per party, and the sockets hearing each party's feed. */
  const index = new PartyIndex();
  index.seed(engine.toSnapshot().orders);
  const feeds = new Map<string, Set<StreamConn>>();
  /** Party keys with a join held for durability: their events are kept for the socket about to join. */
  const joiningFeed = new Map<string, number>();
  /** Orders someone watches, with the rider position last published (to skip unchanged ones). */
  const watched = new Map<OrderId, number>();
  /** Orders with a subscription held for durability: watched, though no socket has joined their topics yet. */
  const joining = new Map<OrderId, number>();

  const newConn = (path: string, principal: Principal | null): StreamConn => ({
    connectionId: `s${++connectionCount}`,
    path,
    principal,
    ws: null,
    timer: undefined,
    frames: new TokenBucket(limits.framesPerSecond, limits.frameBurst, clock.now()),
    subs: new Set(),
    party: undefined,
  });
  const send = (c: StreamConn, m: StreamOut): void => {
    c.ws?.send(JSON.stringify(m), false);
  };
  // What tells of engine state waits for durability, in one queue for the route, so each socket
  // gets it in the order it was made. Replies that tell nothing of it (authenticated, pong, error) go at once.
  const hold = durableGate(o.durable, clock);
  const fail = (c: StreamConn, code: ErrorCode, message: string): void =>
    send(c, { type: 'error', data: { code, message } });

  const armExpiry = (c: StreamConn, at: number): void => {
    if (c.timer !== undefined) clock.clearTimeout(c.timer as never);
    c.timer = clock.setTimeout(
      () => {
        c.timer = undefined;
        c.ws?.end(
          c.principal ? CloseCode.TOKEN_EXPIRED : CloseCode.AUTH_TIMEOUT,
          c.principal ? 'AUTH_TOKEN_EXPIRED' : 'AUTH_TIMEOUT',
        );
      },
      Math.max(0, at - clock.now()),
    );
  };

  const authenticated = (c: StreamConn, p: Principal): void => {
    c.principal = p;
    armExpiry(c, p.expiresAt);
    o.lifecycle?.info({
      msg: 'socket authenticated',
      route: c.path,
      connection_id: c.connectionId,
      uid: p.uid,
      role: p.role,
    });
    send(c, {
      type: 'authenticated',
      data: { uid: p.uid, role: p.role, expires_at: new Date(p.expiresAt).toISOString() },
    });
    joinFeed(c, p);
  };

  /**
   * Starts the socket's feed: a snapshot of each live order of its party (and a rider's live
   * offer), then every change. It joins when the snapshot goes, as a subscription does, so an
   * update held from before the snapshot is not sent after it.
   */
  const joinFeed = (c: StreamConn, p: Principal): void => {
    const key = partyKeyOf(p);
    if (key === undefined || c.party !== undefined) return;
    c.party = key;
    const now = clock.now();
    const snapshots: StreamOut[] = [];
    for (const id of index.ordersOf(key)) {
      const v = engine.getOrder(id);
      if (v.ok) snapshots.push(streamMessage.snapshot(id, v.value.state, v.value.foodReady, now));
    }
    if (p.role === 'rider' && p.riderId !== undefined) {
      const jobs = engine.getRiderJobs(p.riderId);
      for (const j of jobs.ok ? jobs.value : []) {
        if (j.stage !== 'offered' || j.expiresAt === null) continue;
        snapshots.push(
          streamMessage.offer({
            orderId: j.orderId,
            offerId: j.offerId,
            expiresAt: j.expiresAt,
            pickup: j.pickup,
            drop: j.drop,
            pickupDistanceM: j.pickupDistanceM,
            payout: j.payout,
            stops: j.stops,
            at: now,
          }),
        );
      }
    }
    joiningFeed.set(key, (joiningFeed.get(key) ?? 0) + 1);
    hold(() => {
      const n = joiningFeed.get(key)! - 1;
      if (n === 0) joiningFeed.delete(key);
      else joiningFeed.set(key, n);
      if (c.ws === null) return;
      let s = feeds.get(key);
      if (s === undefined) feeds.set(key, (s = new Set()));
      s.add(c);
      for (const m of snapshots) send(c, m);
    });
  };

  const leaveFeed = (c: StreamConn): void => {
    const s = c.party === undefined ? undefined : feeds.get(c.party);
    if (s === undefined) return;
    s.delete(c);
    if (s.size === 0) feeds.delete(c.party!);
  };

  const listening = (key: string | null): key is string => key !== null && (feeds.has(key) || joiningFeed.has(key));

  /**
   * Sends `text` to the feeds of `keys`, skipping a socket subscribed to `topic` (the topic
   * carries the same message to it) and a socket over its backpressure limit (uWS drops it).
   */
  const feed = (keys: readonly string[], text: string, topic: string | null): void => {
    for (const key of keys) {
      for (const c of feeds.get(key) ?? []) {
        if (c.ws === null || (topic !== null && c.ws.isSubscribed(topic))) continue;
        stats.fed++;
        c.ws.send(text, false);
      }
    }
  };

  const toFeeds = (e: EngineEvent, who: EventParties): void => {
    if (!listening(who.customer) && !listening(who.restaurant) && !listening(who.rider)) return;
    for (const { to, m } of streamMessage.forParties(e, statusNow)) {
      const all =
        to === 'parties' ? [who.customer, who.restaurant, who.rider] : to === 'customer' ? [who.customer] : [who.rider];
      const keys = all.filter(listening);
      if (keys.length === 0) continue;
      const text = JSON.stringify(m);
      // Offers never go to the order's topic; everything else does, to its explicit subscribers.
      const topic = m.type === 'offer' || m.type === 'offer_ended' ? null : orderTopic(e.id);
      hold(() => feed(keys, text, topic));
    }
  };

  const authenticate = (c: StreamConn, token: unknown): void => {
    if (typeof token !== 'string') {
      fail(c, 'AUTH_TOKEN_MISSING', 'authenticate needs a token');
      return;
    }
    void o.identity.verify(token).then(
      (res) => {
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
      },
      (err: unknown) => o.logger?.error('stream authentication failed', err),
    );
  };

  const canRead = (p: Principal, id: OrderId): Result<{ state: string; foodReady: boolean }> => {
    const v = engine.getOrder(id);
    // An order that does not exist and one that is not yours answer alike: no probing for ids.
    if (!v.ok) return reject('AUTH_OBJECT_FORBIDDEN', `order.read: order ${id} is not yours`);
    const o2 = v.value;
    const allowed = authorize(p, 'order.read', {
      customerId: o2.customerId,
      restaurantId: o2.restaurantId,
      ...(o2.riderId ? { riderId: o2.riderId } : {}),
    });
    return allowed.ok ? ok({ state: o2.state, foodReady: o2.foodReady }) : allowed;
  };

  const subscribe = (c: StreamConn, raw: unknown): void => {
    const p = c.principal;
    if (p === null) {
      fail(c, 'AUTH_TOKEN_MISSING', 'authenticate first');
      return;
    }
    const id = parseOrderId(raw);
    if (id === undefined) {
      fail(c, 'INVALID_ARGUMENT', 'order_id must be an order id');
      return;
    }
    if (!c.subs.has(id) && c.subs.size >= limits.maxSubscriptions) {
      fail(c, 'RATE_LIMITED', `at most ${limits.maxSubscriptions} orders per socket`);
      return;
    }
    const allowed = canRead(p, id);
    if (!allowed.ok) {
      fail(c, allowed.code, allowed.detail);
      return;
    }
    c.subs.add(id);
    o.lifecycle?.info({ msg: 'socket subscribed', route: c.path, connection_id: c.connectionId, order_id: id });
    if (!watched.has(id)) watched.set(id, 0);
    const snapshot = streamMessage.snapshot(id, allowed.value.state, allowed.value.foodReady, clock.now());
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
    if (id === undefined || !c.subs.delete(id)) {
      fail(c, 'INVALID_ARGUMENT', 'not subscribed to this order');
      return;
    }
    o.lifecycle?.info({ msg: 'socket unsubscribed', route: c.path, connection_id: c.connectionId, order_id: id });
    // In the same queue as `subscribed`, so the two keep their order; updates held until then still reach the socket.
    hold(() => {
      if (c.ws === null) return;
      c.ws.unsubscribe(orderTopic(id));
      c.ws.unsubscribe(locationTopic(id));
      send(c, { type: 'unsubscribed', data: { order_id: id } });
    });
  };

  /** A chat message from this socket: stored, then heard by both parties' sockets (`chat_message`). */
  const chat = (c: StreamConn, msg: ClientMessage): void => {
    const p = c.principal;
    if (p === null) {
      fail(c, 'AUTH_TOKEN_MISSING', 'authenticate first');
      return;
    }
    if (o.chat === undefined) {
      fail(c, 'FRAME_INVALID', 'chat is not served here');
      return;
    }
    const id = parseOrderId(msg.order_id);
    if (id === undefined) {
      fail(c, 'INVALID_ARGUMENT', 'order_id must be an order id');
      return;
    }
    if (!isChatChannel(msg.channel)) {
      fail(c, 'INVALID_ARGUMENT', 'channel must be rider or restaurant');
      return;
    }
    const clientId = msg.client_msg_id ?? null;
    if (clientId !== null && (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 64)) {
      fail(c, 'INVALID_ARGUMENT', 'client_msg_id must be a string of 1 to 64 characters');
      return;
    }
    o.chat.send(p, id, msg.channel, msg.body, clientId).then(
      (res) => {
        if (!res.ok) fail(c, res.code, res.detail);
      },
      (err: unknown) => {
        o.logger?.error('chat send failed', err);
        fail(c, 'DEPENDENCY_UNAVAILABLE', 'the message was not stored; send it again');
      },
    );
  };

  // Stored chat messages reach every socket of both parties at once (they are durable in Postgres already).
  o.chat?.attach((m, to, from) => {
    const text = JSON.stringify({ type: 'chat_message', data: m });
    const heard = feeds.has(to);
    feed([to, from], text, null);
    return heard;
  });

  const onMessage = (ws: WebSocket<StreamConn>, m: ArrayBuffer): void => {
    const c = ws.getUserData();
    if (!c.frames.take(clock.now())) {
      ws.end(CloseCode.RATE_LIMITED, 'RATE_LIMITED');
      return;
    }
    if (m.byteLength > MAX_STREAM_MESSAGE) {
      ws.end(CloseCode.FRAME_TOO_LARGE, 'FRAME_TOO_LARGE');
      return;
    }
    let msg: ClientMessage;
    try {
      msg = JSON.parse(textOf(m)) as typeof msg;
    } catch {
      fail(c, 'FRAME_INVALID', 'messages are JSON objects');
      return;
    }
    if (typeof msg !== 'object' || msg === null) {
      fail(c, 'FRAME_INVALID', 'messages are JSON objects');
      return;
    }
    switch (msg.type) {
      case 'authenticate': {
        authenticate(c, msg.token);
        return;
      }
      case 'subscribe': {
        subscribe(c, msg.order_id);
        return;
      }
      case 'unsubscribe': {
        unsubscribe(c, msg.order_id);
        return;
      }
      case 'ping': {
        send(c, { type: 'pong', data: { at: new Date(clock.now()).toISOString() } });
        return;
      }
      case 'chat': {
        chat(c, msg);
        return;
      }
      default: {
        fail(c, 'FRAME_INVALID', `unknown message type ${JSON.stringify(msg.type)}`);
        return;
      }
    }
  };

  const publish = (topic: string, m: StreamOut): void => {
    const text = JSON.stringify(m);
    hold(() => {
      stats.published++;
      app.publish(topic, text, false);
    });
  };

  const statusNow = (id: string): string | undefined => {
    const v = engine.getOrder(id as OrderId);
    return v.ok ? seedStatus(v.value.state, v.value.foodReady) : undefined;
  };

  const unsubscribeEngine = engine.subscribe((e: EngineEvent) => {
    const who = index.apply(e);
    if (who !== undefined) toFeeds(e, who);
    if (e.aggregate !== 'order' || !watched.has(e.id)) return;
    if (app.numSubscribers(orderTopic(e.id)) === 0 && !joining.has(e.id)) {
      watched.delete(e.id);
      return;
    }
    for (const m of streamMessage.fromEvent(e, statusNow)) publish(orderTopic(e.id), m);
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
      if (!v.ok || v.value.riderId === null || (v.value.state !== 'assigned' && v.value.state !== 'picked_up'))
        continue;
      const r = engine.getRider(v.value.riderId);
      const pos = r.ok ? r.value.position : null;
      if (pos === null || pos.at === lastAt) continue;
      watched.set(id, pos.at);
      stats.locations++;
      publish(locationTopic(id), streamMessage.location(id, pos));
    }
    sweepFeeds();
  };

  /** The same for party feeds: the customer while a rider is assigned, the restaurant until pickup. */
  const sweepFeeds = (): void => {
    for (const [id, o] of index.withRider()) {
      const keys = [o.customer, ...(o.pickedUp ? [] : [o.restaurant])].filter((k) => feeds.has(k));
      if (keys.length === 0) continue;
      const r = engine.getRider(o.rider!.slice('rider:'.length) as RiderId);
      const pos = r.ok ? r.value.position : null;
      if (pos === null || pos.at === o.lastLocationAt) continue;
      o.lastLocationAt = pos.at;
      stats.locations++;
      const text = JSON.stringify(streamMessage.location(id, pos));
      hold(() => feed(keys, text, locationTopic(id)));
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
        identity: o.identity,
        allowedOrigins: o.allowedOrigins,
        subprotocol: STREAM_SUBPROTOCOL,
        optionalSubprotocol: true,
        anonymous: () => newConn(path, null),
        admit: (p) => ok(newConn(path, p)),
      }),
      message: (ws, m) => {
        stats.paths[path]!.messages++;
        try {
          onMessage(ws, m);
        } catch (err) {
          o.logger?.error('stream message handler failed', err);
          ws.end(1011, 'INTERNAL');
        }
      },
      ...openAfterUpgrade<StreamConn>(
        (ws) => {
          const c = ws.getUserData();
          c.ws = ws;
          conns.add(c);
          stats.connections++;
          const ps = stats.paths[c.path]!;
          ps.connections++;
          ps.opened++;
          o.lifecycle?.info({
            msg: 'socket opened',
            route: c.path,
            connection_id: c.connectionId,
            ...(c.principal ? { uid: c.principal.uid, role: c.principal.role } : { authenticated: false }),
          });
          if (c.principal) authenticated(c, c.principal);
          else armExpiry(c, clock.now() + limits.authTimeoutMs);
        },
        (ws, code) => {
          const c = ws.getUserData();
          c.ws = null;
          conns.delete(c);
          leaveFeed(c);
          stats.connections--;
          const ps = stats.paths[c.path]!;
          ps.connections--;
          ps.closes[code] = (ps.closes[code] ?? 0) + 1;
          o.lifecycle?.info({
            msg: 'socket closed',
            route: c.path,
            connection_id: c.connectionId,
            ...(c.principal ? { uid: c.principal.uid } : {}),
            code,
          });
          if (c.timer !== undefined) clock.clearTimeout(c.timer as never);
        },
      ),
    });
  }

  return {
    stats,
    notify(orderId, message) {
      // One id per order and message, so an app that hears it on both its feed and a subscription shows it once.
      const id = `${orderId}.notice.${createHash('sha256').update(message).digest('hex').slice(0, 12)}`;
      const m: StreamOut = {
        type: 'notification',
        data: { id, order_id: orderId, message, at: new Date(clock.now()).toISOString() },
      };
      const topic = orderTopic(orderId);
      publish(topic, m);
      // An ended order has left the party index; the engine still holds it for its retention time.
      const v = engine.getOrder(orderId as OrderId);
      if (v.ok) {
        const key = `customer:${v.value.customerId}`;
        if (listening(key)) {
          const text = JSON.stringify(m);
          hold(() => feed([key], text, topic));
        }
      }
    },
    close(code, reason) {
      unsubscribeEngine();
      clock.clearTimeout(sweep as never);
      for (const c of [...conns]) c.ws?.end(code, reason);
    },
  };
}
