/**
 * The `/v1/rider` WebSocket route: rider frames in, engine commands out;
 * engine events in, rider frames out. It translates and enforces the wire
 * limits; every business rule stays in the engine. The engine sees rider ids
 * only, never a socket.
 */
import type { TemplatedApp, WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import type { Clock, Engine, EngineLogger, RiderHandle } from '../../engine/index.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import {
  CloseCode,
  Frame,
  OfferEndCode,
  PositionStatus,
  RIDER_PATH,
  RIDER_SUBPROTOCOL,
  RiderStatusCode,
  decodeClientFrame,
  encodeAck,
  encodeAssigned,
  encodeError,
  encodeOffer,
  encodeOfferEnded,
  encodeOrderUpdate,
  encodePong,
  encodeWelcome,
  ok,
  positionScratch,
  readPositionFrame,
  reject,
  type ClientFrame,
  type EngineEvent,
  type ErrorCode,
  type OrderId,
  seqNewer,
  type PositionFix,
  type Principal,
  type Result,
  type RiderId,
  type RiderJobView,
  type RouteStop,
} from '../../protocol/index.js';
import type { StageTimer } from '../observability/stage-profiler.js';
import type { EngineCommands } from '../engine-commands.js';
import { durableGate } from './durable-gate.js';
import type { RiderResumeStore } from './rider-resume.js';
import type { WsLimits } from './limits.js';
import { TokenBucket } from './token-bucket.js';
import { authenticatingUpgrade, openAfterUpgrade } from './upgrade-auth.js';

/** What the rider route needs; frozen by the server that builds it. */
export interface RiderRouteOptions {
  /** What the route reads (a rider's jobs, an order) and hears events from. */
  readonly engine: Engine;
  /**
   * Where the riders' commands and positions go; default `engine` itself. A cluster gateway's
   * commands travel to the rider's partition and answer later (adapters/cluster/remote-commands.ts).
   */
  readonly commands?: EngineCommands;
  readonly identity: IdentityVerifier;
  readonly clock: Clock;
  readonly limits: WsLimits;
  readonly allowedOrigins: readonly string[];
  /** Where positions too old for matching go (the trail); none: they are counted and dropped. */
  readonly trail?: (riderId: RiderId, fix: PositionFix) => void;
  /**
   * Sees every applied position, for the sampled trail. `fix` is a scratch
   * object reused for the next frame: copy what is kept.
   */
  readonly sample?: (riderId: RiderId, fix: PositionFix) => void;
  /** Called after each position the engine applied (a baseline's candidate store mirrors them). */
  readonly onPosition?: (riderId: RiderId, lat: number, lng: number) => void;
  readonly logger?: EngineLogger;
  /** One line per socket opened and closed, with the connection and rider ids. */
  readonly lifecycle?: { info(o: Record<string, unknown>): void };
  /**
   * Resolves once every engine event emitted so far is durable (the server's
   * `WriteBehind.barrier`); rejects when it cannot be made so yet. Given, no
   * frame that tells the rider something happened (WELCOME, ACK, ERROR,
   * OFFER, OFFER_ENDED, ASSIGNED, ORDER_UPDATE) leaves before the events
   * behind it are durable: a rider told ASSIGNED keeps the job through a
   * crash. None: frames go at once (the route alone, as in tests).
   */
  readonly durable?: () => Promise<void>;
  /**
   * Keeps each rider's last processed seq outside this process, so a rider resumes where it was
   * after a restart or on another server: read when a rider connects (the newer of it and this
   * process's own), written at once after a control frame and every `resumeFlushMs` for
   * positions. None: the seq lives in this process's memory only.
   */
  readonly resume?: RiderResumeStore;
  /** How often positions' seqs are written to `resume`, engine ms (default 1000). */
  readonly resumeFlushMs?: number;
  /**
   * The benchmark's stage profiler: socket messages under `positions` (less the control
   * frames, `rider_commands`), frames to riders under `rider_frames` (made, and sent once durable).
   */
  readonly stages?: StageTimer;
}

/** Counters of the rider route, for tests, the bench and metrics. */
export interface RiderRouteStats {
  connections: number;
  /** Connections opened since start. */
  opened: number;
  /** Frames other than single positions (accept, decline, batches, pings...). */
  controlFrames: number;
  positions: number;
  stalePositions: number;
  rateLimited: number;
  invalidFrames: number;
  droppedFrames: number;
  replaced: number;
  slowConsumers: number;
  /** Closes seen by the server, by close code. */
  closes: Record<number, number>;
}

/**
 * The last sequence number processed for one rider. It outlives connections
 * (a reconnect resumes from it) and is shared by the rider's connections, so
 * the hot path reads it from the socket's user data, not from a map.
 */
interface RiderSeq {
  last: number;
  /** What the resume store holds (or is being sent); -1 after a failed write, so the next flush retries. */
  saved: number;
}

/** How long a connecting rider waits for its stored resume point before this process's own is used. */
const RESUME_LOAD_TIMEOUT_MS = 500;

/** One rider's socket state; it is the socket's uWS user data. */
interface RiderConn {
  /** This process's number for the connection, for logs (`connection_id`). */
  readonly connectionId: string;
  readonly riderId: RiderId;
  readonly seq: RiderSeq;
  /** The engine's handle of this rider, set on open: positions skip the engine's lookup by id. */
  rider: RiderHandle | undefined;
  expiresAt: number;
  ws: WebSocket<RiderConn> | null;
  expiryTimer: unknown;
  positions: TokenBucket;
  frames: TokenBucket;
  invalidInRow: number;
  sinceAck: number;
  lastRateError: number;
}

const OUTCOME = {
  declined: OfferEndCode.DECLINED,
  expired: OfferEndCode.EXPIRED,
  withdrawn: OfferEndCode.WITHDRAWN,
} as const;
/** Order events a rider hears about its own order, as ORDER_UPDATE statuses. */
const ORDER_UPDATES: Readonly<Record<string, string>> = {
  order_food_ready: 'food_ready',
  order_picked_up: 'picked_up',
  order_delivered: 'delivered',
  order_cancelled: 'cancelled',
  order_unassigned: 'unassigned',
};

/** The rider route and what the server needs to run and stop it. */
export interface RiderRoute {
  readonly stats: Readonly<RiderRouteStats>;
  /** Closes every rider socket with `code` and stops listening to the engine. */
  close(code: number, reason: string): void;
}

/** Registers `/v1/rider` on `app`. */
export function attachRiderRoute(app: TemplatedApp, o: RiderRouteOptions): RiderRoute {
  const { engine, clock, limits } = o;
  const commands: EngineCommands = o.commands ?? engine;
  /** Positions by handle (no lookup by id) only where the engine applies them itself. */
  const local = commands === engine;
  const st = o.stages;
  const conns = new Map<RiderId, RiderConn>();
  /** Last sequence number processed per rider; outlives connections so a reconnect resumes. */
  const lastSeq = new Map<RiderId, RiderSeq>();
  const seqOf = (id: RiderId): RiderSeq => {
    let s = lastSeq.get(id);
    if (s === undefined) lastSeq.set(id, (s = { last: 0, saved: 0 }));
    return s;
  };
  const resume = o.resume;
  /** The rider's seq, first raised to the stored one when that is newer (another server took frames since). */
  const resumeOf = async (store: RiderResumeStore, id: RiderId): Promise<RiderSeq> => {
    let timer: NodeJS.Timeout | undefined;
    const stored = await Promise.race([
      store.load(id),
      new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error(`no answer in ${RESUME_LOAD_TIMEOUT_MS} ms`)), RESUME_LOAD_TIMEOUT_MS);
      }),
    ])
      .catch((err: unknown) => {
        // Resuming from this process's memory loses nothing: the client sends again what was not acknowledged.
        o.logger?.error(`rider ${id}: resume point unreadable; using this server’s own`, String(err));
        return 0;
      })
      .finally(() => clearTimeout(timer));
    const s = seqOf(id);
    if (seqNewer(stored, s.last)) s.last = s.saved = stored;
    return s;
  };
  const saveSeqs = (store: RiderResumeStore, entries: [RiderId, number][]): void => {
    for (const [id, seq] of entries) seqOf(id).saved = seq;
    store.save(entries).catch((err: unknown) => {
      for (const [id, seq] of entries) {
        const s = seqOf(id);
        if (s.saved === seq) s.saved = -1;
      }
      o.logger?.error(`${entries.length} riders' resume points not stored; tried again at the next flush`, String(err));
    });
  };
  let resumeTimer: unknown;
  /** Writes the seqs that moved since the last write; `again`: and comes back after `resumeFlushMs`. */
  const flushSeqs = (again: boolean): void => {
    if (resume === undefined) return;
    if (again) resumeTimer = clock.setTimeout(() => flushSeqs(true), o.resumeFlushMs ?? 1_000);
    const entries: [RiderId, number][] = [];
    for (const [id, s] of lastSeq) if (s.last !== s.saved) entries.push([id, s.last]);
    if (entries.length > 0) saveSeqs(resume, entries);
  };
  if (resume !== undefined) flushSeqs(true);
  const stats: RiderRouteStats = {
    connections: 0,
    opened: 0,
    controlFrames: 0,
    positions: 0,
    stalePositions: 0,
    rateLimited: 0,
    invalidFrames: 0,
    droppedFrames: 0,
    replaced: 0,
    slowConsumers: 0,
    closes: {},
  };
  const scratch = positionScratch();

  // Frames held until the events before them are durable, in the order they were made (durable-gate.ts).
  const hold = durableGate(o.durable, clock, st ? (release) => st.sync('rider_frames', release) : undefined);

  let connectionCount = 0;
  const admit = (p: Principal): Result<RiderConn> | Promise<Result<RiderConn>> => {
    if (p.role !== 'rider' || p.riderId === undefined)
      return reject('AUTH_ROLE_FORBIDDEN', `role '${p.role}' may not use ${RIDER_PATH}`);
    const riderId = p.riderId;
    if (resume === undefined) return ok(newConn(p, riderId, seqOf(riderId)));
    return resumeOf(resume, riderId).then((seq) => ok(newConn(p, riderId, seq)));
  };
  const newConn = (p: Principal, riderId: RiderId, seq: RiderSeq): RiderConn => {
    const now = clock.now();
    return {
      connectionId: `r${++connectionCount}`,
      riderId,
      seq,
      rider: undefined,
      expiresAt: p.expiresAt,
      ws: null,
      expiryTimer: undefined,
      positions: new TokenBucket(limits.positionsPerSecond, limits.positionBurst, now),
      frames: new TokenBucket(limits.framesPerSecond, limits.frameBurst, now),
      invalidInRow: 0,
      sinceAck: 0,
      lastRateError: 0,
    };
  };

  /** Sends a frame the rider must get, once durable; a socket that cannot take it is closed as a slow consumer. */
  const must = (c: RiderConn, bytes: Uint8Array): void => hold(() => mustNow(c, bytes));
  const mustNow = (c: RiderConn, bytes: Uint8Array): void => {
    const ws = c.ws;
    if (ws === null) return;
    // Close before the buffer passes the hard limit, not after: past maxBackpressure uWS drops every
    // frame, the close frame too, and the client would read 1006 instead of 4008.
    if (ws.getBufferedAmount() + bytes.byteLength > limits.maxBackpressureBytes || ws.send(bytes, true) === 2) {
      stats.slowConsumers++;
      ws.end(CloseCode.SLOW_CONSUMER, 'SLOW_CONSUMER');
    }
  };
  /** Sends a frame that may be skipped (acks, pongs) when the client is behind; PONG says nothing happened, so it is not held. */
  const may = (c: RiderConn, bytes: Uint8Array): void => hold(() => mayNow(c, bytes));
  const mayNow = (c: RiderConn, bytes: Uint8Array): void => {
    const ws = c.ws;
    if (ws === null) return;
    if (ws.getBufferedAmount() > limits.softBackpressureBytes) {
      stats.droppedFrames++;
      return;
    }
    ws.send(bytes, true);
  };
  const ack = (c: RiderConn): void => {
    c.sinceAck = 0;
    may(c, encodeAck(c.seq.last));
  };
  const answer = (c: RiderConn, seq: number, res: Result<unknown> | Promise<Result<unknown>>): void => {
    if (res instanceof Promise) {
      res.then(
        (r) => answer(c, seq, r),
        (err: unknown) => {
          o.logger?.error('rider command failed', err);
          must(c, encodeError(seq, 'INTERNAL', 'the command could not be run; send it again'));
        },
      );
      return;
    }
    // A control frame's seq is stored at once: a frame sent again to another server is then known.
    if (resume !== undefined) saveSeqs(resume, [[c.riderId, c.seq.last]]);
    if (res.ok) ack(c);
    else must(c, encodeError(seq, res.code, res.detail));
  };

  /** A command nobody waits for: its refusal is the rider's state (the engine knows why); a failure is logged. */
  const settle = (res: Result<unknown> | Promise<Result<unknown>>, what: string): void => {
    if (res instanceof Promise) res.catch((err: unknown) => o.logger?.error(`${what} not sent`, err));
  };

  const armExpiry = (c: RiderConn): void => {
    if (c.expiryTimer !== undefined) clock.clearTimeout(c.expiryTimer as never);
    c.expiryTimer = clock.setTimeout(
      () => {
        c.expiryTimer = undefined;
        c.ws?.end(CloseCode.TOKEN_EXPIRED, 'AUTH_TOKEN_EXPIRED');
      },
      Math.max(0, c.expiresAt - clock.now()),
    );
  };

  const refreshToken = (c: RiderConn, token: string): void => {
    void o.identity.verify(token).then(
      (res) => {
        if (c.ws === null) return;
        const p = res.ok ? res.value : null;
        if (p === null || p.role !== 'rider' || p.riderId !== c.riderId) {
          const code: ErrorCode = res.ok ? 'AUTH_OBJECT_FORBIDDEN' : res.code;
          c.ws.cork(() => {
            mustNow(c, encodeError(0, code, res.ok ? "the token is not this rider's" : res.detail));
            c.ws?.end(CloseCode.AUTH_FAILED, code);
          });
          return;
        }
        c.expiresAt = p.expiresAt;
        armExpiry(c);
        c.ws.cork(() => ack(c));
      },
      (err: unknown) => o.logger?.error('token refresh failed', err),
    );
  };

  const setStatus = (id: RiderId, s: RiderStatusCode): Result<unknown> | Promise<Result<unknown>> =>
    commands.setRiderStatus(
      id,
      s === RiderStatusCode.BREAK ? 'break' : s === RiderStatusCode.OFFLINE ? 'offline' : 'online',
    );

  const applyFix = (c: RiderConn, seq: number, f: PositionFix, now: number): void => {
    if (f.at > now + limits.maxClockSkewMs) {
      must(c, encodeError(seq, 'POSITION_INVALID', 'position time is in the future; check the device clock'));
      return;
    }
    stats.positions++;
    const st =
      c.rider !== undefined
        ? engine.updateRiderPositionOf(c.rider, f.lat, f.lng, f.accuracy, f.heading, f.speed, f.at)
        : commands.updateRiderPosition(c.riderId, f.lat, f.lng, f.accuracy, f.heading, f.speed, f.at);
    if (st instanceof Promise) {
      // `f` is a scratch object the next frame reuses: keep a copy for the answer.
      const fix = { ...f };
      st.then(
        (s) => onPositionStatus(c, seq, fix, s),
        (err: unknown) => o.logger?.error('position not sent', err),
      );
    } else onPositionStatus(c, seq, f, st);
  };

  const onPositionStatus = (c: RiderConn, seq: number, f: PositionFix, st: PositionStatus): void => {
    if (st === PositionStatus.APPLIED) {
      o.onPosition?.(c.riderId, f.lat, f.lng);
      o.sample?.(c.riderId, f);
    } else if (st === PositionStatus.STALE) {
      stats.stalePositions++;
      o.trail?.(c.riderId, {
        lat: f.lat,
        lng: f.lng,
        accuracy: f.accuracy,
        heading: f.heading,
        speed: f.speed,
        at: f.at,
      });
    } else if (st === PositionStatus.INVALID) {
      must(c, encodeError(seq, 'POSITION_INVALID', 'position values out of range'));
    }
    // OUT_OF_ORDER: an older fix than one applied; nothing to say, the newer one stands.
  };

  /** Advances the rider's sequence; false for a duplicate (already processed before a reconnect). */
  const sequence = (c: RiderConn, seq: number): boolean => {
    if (seq === 0) return true;
    // Newer on the ring 1..2^32-1 (protocol/rider-sequence.ts): the top is followed by 1, never a mute.
    if (!seqNewer(seq, c.seq.last)) return false;
    c.seq.last = seq;
    return true;
  };

  /** `now`: the clock read once for the frame (epoch ms). */
  const onFrame = (c: RiderConn, f: ClientFrame, now: number): void => {
    if (!sequence(c, f.seq)) {
      ack(c);
      return;
    }
    const id = c.riderId;
    switch (f.type) {
      case Frame.POSITION: {
        onPosition(c, f.seq, f.fix, now);
        return;
      }
      case Frame.POSITION_BATCH:
        for (const fix of f.fixes) applyFix(c, f.seq, fix, now);
        {
          ack(c);
          return;
        }
      case Frame.STATUS: {
        answer(c, f.seq, setStatus(id, f.status));
        return;
      }
      case Frame.ACCEPT: {
        answer(c, f.seq, commands.acceptOffer(id, f.orderId));
        return;
      }
      case Frame.DECLINE: {
        answer(c, f.seq, commands.declineOffer(id, f.orderId));
        return;
      }
      case Frame.PICKED_UP: {
        answer(c, f.seq, commands.pickedUp(id, f.orderId));
        return;
      }
      case Frame.DELIVERED: {
        answer(c, f.seq, commands.delivered(id, f.orderId));
        return;
      }
      case Frame.PING: {
        mayNow(c, encodePong(f.clientTime, now));
        return;
      }
      case Frame.AUTH: {
        refreshToken(c, f.token);
        return;
      }
    }
  };

  const onPosition = (c: RiderConn, seq: number, fix: PositionFix, now: number): void => {
    if (!c.positions.take(now)) {
      stats.rateLimited++;
      // One error a second is enough for the client to slow down.
      if (now - c.lastRateError >= 1000) {
        c.lastRateError = now;
        must(c, encodeError(seq, 'RATE_LIMITED', `at most ${limits.positionsPerSecond} positions a second`));
      }
      return;
    }
    applyFix(c, seq, fix, now);
    if (++c.sinceAck >= limits.ackEvery) ack(c);
  };

  const onMessage = (ws: WebSocket<RiderConn>, message: ArrayBuffer, isBinary: boolean): void => {
    const c = ws.getUserData();
    const now = clock.now();
    if (!c.frames.take(now)) {
      stats.rateLimited++;
      ws.end(CloseCode.RATE_LIMITED, 'RATE_LIMITED');
      return;
    }
    if (!isBinary) {
      ws.end(CloseCode.PROTOCOL_ERROR, 'FRAME_INVALID: text frames are not part of this protocol');
      return;
    }
    const bytes = new Uint8Array(message);
    // The hot path: a well-formed position needs no parser and no allocation.
    if (readPositionFrame(bytes, scratch)) {
      c.invalidInRow = 0;
      if (sequence(c, scratch.seq)) onPosition(c, scratch.seq, scratch, now);
      else ack(c);
      return;
    }
    const d = decodeClientFrame(bytes);
    if (!d.ok) {
      stats.invalidFrames++;
      if (d.code === 'FRAME_TOO_LARGE') {
        ws.end(CloseCode.FRAME_TOO_LARGE, 'FRAME_TOO_LARGE');
        return;
      }
      // Nothing was applied, so nothing to wait for (and the close below must not overtake it).
      mustNow(c, encodeError(d.seq, d.code, d.detail));
      if (++c.invalidInRow >= limits.maxInvalidFrames) ws.end(CloseCode.PROTOCOL_ERROR, 'FRAME_INVALID');
      return;
    }
    c.invalidInRow = 0;
    stats.controlFrames++;
    if (st) st.sync('rider_commands', () => onFrame(c, d.frame, now));
    else onFrame(c, d.frame, now);
  };

  const onEvent = (e: EngineEvent): void => {
    let c: RiderConn | undefined;
    switch (e.type) {
      case 'order_offered':
        c = conns.get(e.riderId);
        if (c) {
          must(
            c,
            encodeOffer({
              orderId: e.id,
              offerId: e.offerId,
              expiresAt: e.expiresAt,
              pickupLat: e.pickup.lat,
              pickupLng: e.pickup.lng,
              dropLat: e.drop.lat,
              dropLng: e.drop.lng,
              pickupDistanceM: e.pickupDistanceM,
              pickupEtaS: e.pickupEtaS,
              payout: e.payout ?? null,
              ...(e.stops === undefined ? {} : { stops: e.stops }),
            }),
          );
        }
        return;
      case 'rider_offer_ended':
        c = conns.get(e.id);
        if (c) must(c, encodeOfferEnded(e.orderId, e.offerId, OUTCOME[e.outcome]));
        return;
      case 'order_assigned':
        c = conns.get(e.riderId);
        if (c) must(c, encodeAssigned(e.id, e.offerId, routeOf(c.riderId)));
        return;
      default: {
        const status = ORDER_UPDATES[e.type];
        if (status === undefined) return;
        const riderId = 'riderId' in e && e.riderId ? e.riderId : orderRider(e.id as OrderId);
        c = riderId ? conns.get(riderId) : undefined;
        if (c) must(c, encodeOrderUpdate(e.id, status, e.at));
      }
    }
  };
  /**
   * A new connection hears again of the rider's live offer or job: the frame
   * that told it may have died with the old socket (or the app restarted).
   * Queued after WELCOME, in the same order as live frames, so an OFFER_ENDED
   * or ORDER_UPDATE made meanwhile follows it.
   */
  const resendJobs = (c: RiderConn): void => {
    const v = engine.getRiderJobs(c.riderId);
    if (v.ok) for (const j of v.value) resendJob(c, j);
  };
  const resendJob = (c: RiderConn, j: RiderJobView): void => {
    if (j.stage === 'offered') {
      must(
        c,
        encodeOffer({
          orderId: j.orderId,
          offerId: j.offerId,
          expiresAt: j.expiresAt!,
          pickupLat: j.pickup.lat,
          pickupLng: j.pickup.lng,
          dropLat: j.drop.lat,
          dropLng: j.drop.lng,
          // An offered rider always has a position (matching needs one); 0 only guards the type.
          pickupDistanceM: j.pickupDistanceM ?? 0,
          pickupEtaS: j.pickupEtaS ?? 0,
          payout: j.payout,
          ...(j.stops === undefined ? {} : { stops: j.stops }),
        }),
      );
      return;
    }
    must(c, encodeAssigned(j.orderId, j.offerId, j.stops));
    if (j.stage === 'picked_up') must(c, encodeOrderUpdate(j.orderId, 'picked_up', j.pickedUpAt ?? clock.now()));
    else if (j.foodReady) must(c, encodeOrderUpdate(j.orderId, 'food_ready', clock.now()));
  };
  /** The rider's route when it holds several jobs (stacked), else undefined: a lone job needs none. */
  const routeOf = (riderId: RiderId): readonly RouteStop[] | undefined => {
    const v = engine.getRiderJobs(riderId);
    return v.ok ? v.value[0]?.stops : undefined;
  };
  const orderRider = (id: OrderId): RiderId | null => {
    const v = engine.getOrder(id);
    return v.ok ? v.value.riderId : null;
  };
  // Sends from a socket handler are corked by uWS already; from a timer (offer expiry) each send is its own write.
  const unsubscribe = engine.subscribe(st ? (e) => st.sync('rider_frames', () => onEvent(e)) : onEvent);

  const behavior: WebSocketBehavior<RiderConn> = {
    maxPayloadLength: limits.maxPayloadBytes,
    idleTimeout: limits.idleTimeoutS,
    sendPingsAutomatically: true,
    maxBackpressure: limits.maxBackpressureBytes,
    closeOnBackpressureLimit: 0,
    upgrade: authenticatingUpgrade({
      identity: o.identity,
      allowedOrigins: o.allowedOrigins,
      subprotocol: RIDER_SUBPROTOCOL,
      admit,
    }),
    message: (ws, message, isBinary) => {
      try {
        if (st) st.sync('positions', () => onMessage(ws, message, isBinary));
        else onMessage(ws, message, isBinary);
      } catch (err) {
        // A bug must cost one socket, not the process: uWS cannot recover from a throw in its callback.
        o.logger?.error('rider frame handler failed', err);
        ws.end(1011, 'INTERNAL');
      }
    },
    ...openAfterUpgrade<RiderConn>(
      (ws) => {
        const c = ws.getUserData();
        c.ws = ws;
        stats.connections++;
        stats.opened++;
        const old = conns.get(c.riderId);
        conns.set(c.riderId, c);
        o.lifecycle?.info({
          msg: 'socket opened',
          route: RIDER_PATH,
          connection_id: c.connectionId,
          rider_id: c.riderId,
          ...(old?.ws ? { replaces: old.connectionId } : {}),
        });
        if (old?.ws) {
          stats.replaced++;
          old.ws.end(CloseCode.REPLACED, 'CONNECTION_REPLACED');
        }
        settle(commands.riderConnected(c.riderId), 'rider_connected');
        if (local) c.rider = engine.riderHandle(c.riderId);
        armExpiry(c);
        // WELCOME acknowledges up to last_seq, so it waits like an ACK.
        const welcome = encodeWelcome(c.seq.last, c.riderId, clock.now(), c.expiresAt);
        hold(() => c.ws?.send(welcome, true));
        resendJobs(c);
      },
      (ws, code) => {
        const c = ws.getUserData();
        c.ws = null;
        stats.connections--;
        stats.closes[code] = (stats.closes[code] ?? 0) + 1;
        o.lifecycle?.info({
          msg: 'socket closed',
          route: RIDER_PATH,
          connection_id: c.connectionId,
          rider_id: c.riderId,
          code,
        });
        if (c.expiryTimer !== undefined) clock.clearTimeout(c.expiryTimer as never);
        if (conns.get(c.riderId) === c) {
          conns.delete(c.riderId);
          // The rider keeps its state for the grace period; an offline rider has none to keep (the engine refuses).
          settle(commands.riderDisconnected(c.riderId), 'rider_disconnected');
        }
      },
    ),
  };
  app.ws(RIDER_PATH, behavior);

  return {
    stats,
    close(code, reason) {
      unsubscribe();
      if (resumeTimer !== undefined) clock.clearTimeout(resumeTimer as never);
      flushSeqs(false);
      for (const c of [...conns.values()]) c.ws?.end(code, reason);
    },
  };
}
