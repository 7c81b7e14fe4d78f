/**
 * The rider client: speaks protocol/rider-protocol.md over any WebSocket the
 * caller's factory makes (the `ws` package in Node, the browser's own), so the
 * same code serves tests, the simulator, the bench and a web app.
 *
 * - Reconnects with exponential backoff and full jitter, except after a close
 *   code that says not to (replaced, auth failed, forbidden).
 * - Resumes: every sequenced frame stays in an outbox until an ACK (or the
 *   next WELCOME) covers its seq; unacknowledged commands are sent again with
 *   their own seq, which the server ignores if it had processed them.
 * - Buffers positions while offline (oldest dropped beyond the capacity) and
 *   sends them as POSITION_BATCH frames after the WELCOME.
 */
import { Frame, RIDER_SUBPROTOCOL, RiderLimits, TERMINAL_CLOSE_CODES, type RiderStatusCode } from './rider-codes.js';
import {
  decodeServerFrame,
  encodeAuth,
  encodeOrderCommand,
  encodePing,
  encodePosition,
  encodePositionBatch,
  encodeStatus,
  type ServerFrame,
} from './rider-frames.js';
import type { PositionFix } from './rider-position-codec.js';
import { seqAfter, seqNewer } from './rider-sequence.js';

/** The part of a WebSocket the client uses (WHATWG shape; `ws` and browsers both fit). */
export interface RiderSocket {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/**
 * Opens a socket to `url` offering `protocols`, authenticated with `token`:
 * native clients put it in `Authorization: Bearer`, browsers append
 * `bearer.<token>` to the protocols.
 */
export type RiderSocketFactory = (url: string, protocols: string[], token: string) => RiderSocket;

export interface RiderClientOptions {
  /** `ws://host:port/v1/rider`. */
  readonly url: string;
  /** A current Firebase ID token; called before every connection and before the token expires. */
  readonly getToken: () => string | Promise<string>;
  readonly socket: RiderSocketFactory;
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Positions kept while offline; the oldest go first. Default 600 (10 minutes at 1 Hz). */
  readonly offlineCapacity?: number;
  /** Called for every frame the server sends. */
  readonly onFrame?: (f: ServerFrame) => void;
  /** Called on every close, with whether the client will reconnect. */
  readonly onClose?: (code: number, reason: string, willReconnect: boolean) => void;
  /** Refresh the token this long before it expires. Default 60 s. */
  readonly refreshBeforeMs?: number;
  readonly random?: () => number;
  /** The first seq to send (default 1): an app that keeps its counter across restarts passes the next one. */
  readonly firstSeq?: number;
}

const OPEN = 1;

interface Pending {
  readonly seq: number;
  readonly bytes: Uint8Array;
  /** Positions are re-sent as a batch after a reconnect, commands as themselves. */
  readonly fix: PositionFix | null;
}

export class RiderClient {
  readonly #o: RiderClientOptions;
  #ws: RiderSocket | null = null;
  #nextSeq = 1;
  #lastAcked = 0;
  #welcomed = false;
  #stopped = true;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #outbox: Pending[] = [];
  readonly #offline: PositionFix[] = [];
  readonly #waiters = new Set<{ pred: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }>();

  constructor(options: RiderClientOptions) {
    this.#o = options;
    if (options.firstSeq !== undefined) this.#nextSeq = options.firstSeq;
  }

  /** Highest seq the server has confirmed. */
  get lastAcked(): number {
    return this.#lastAcked;
  }
  /** True between WELCOME and close. */
  get connected(): boolean {
    return this.#welcomed;
  }
  /** Positions waiting for a connection. */
  get buffered(): number {
    return this.#offline.length;
  }
  /** Frames sent but not yet acknowledged. */
  get unacked(): number {
    return this.#outbox.length;
  }

  /** Connects, and keeps connecting until {@link stop}. */
  start(): void {
    this.#stopped = false;
    void this.#connect();
  }

  /** Closes with 1000 and stops reconnecting. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#refreshTimer);
    this.#ws?.close(1000, 'bye');
  }

  sendPosition(fix: PositionFix): void {
    if (!this.#welcomed) {
      this.#offline.push(fix);
      if (this.#offline.length > (this.#o.offlineCapacity ?? 600)) this.#offline.shift();
      return;
    }
    this.#sequenced((seq) => encodePosition(seq, fix), fix);
  }

  setStatus(status: RiderStatusCode): void {
    this.#sequenced((seq) => encodeStatus(seq, status), null);
  }
  accept(orderId: string): void {
    this.#sequenced((seq) => encodeOrderCommand(Frame.ACCEPT, seq, orderId), null);
  }
  decline(orderId: string): void {
    this.#sequenced((seq) => encodeOrderCommand(Frame.DECLINE, seq, orderId), null);
  }
  pickedUp(orderId: string): void {
    this.#sequenced((seq) => encodeOrderCommand(Frame.PICKED_UP, seq, orderId), null);
  }
  delivered(orderId: string): void {
    this.#sequenced((seq) => encodeOrderCommand(Frame.DELIVERED, seq, orderId), null);
  }
  ping(now = Date.now()): void {
    this.#raw(encodePing(now));
  }
  /** Sends a fresh token so the server keeps the socket open past the old token's expiry. */
  refreshToken(token: string): void {
    this.#raw(encodeAuth(token));
  }

  /** Resolves with the next frame matching `pred`; rejects after `timeoutMs`. */
  waitFor(pred: (f: ServerFrame) => boolean, timeoutMs = 5000): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (f: ServerFrame) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new Error('timed out waiting for a frame'));
      }, timeoutMs);
      this.#waiters.add(w);
    });
  }

  #sequenced(make: (seq: number) => Uint8Array, fix: PositionFix | null): void {
    const seq = this.#nextSeq;
    // After 4294967295 comes 1 (rider-sequence.ts): the server orders numbers on that ring too.
    this.#nextSeq = seqAfter(seq);
    const bytes = make(seq);
    this.#outbox.push({ seq, bytes, fix });
    if (this.#welcomed) this.#raw(bytes);
  }

  #raw(bytes: Uint8Array): void {
    if (this.#ws?.readyState === OPEN) this.#ws.send(bytes);
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    let token: string;
    try {
      token = await this.#o.getToken();
    } catch {
      this.#schedule();
      return;
    }
    // stop() may have run during the await above, whatever TypeScript narrowed before it.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (this.#stopped) return;
    const ws = this.#o.socket(this.#o.url, [RIDER_SUBPROTOCOL], token);
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    ws.onmessage = (ev) => this.#onMessage(ev.data);
    ws.onerror = () => {
      /* the close event follows and decides */
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#welcomed = false;
      clearTimeout(this.#refreshTimer);
      const again = !this.#stopped && !TERMINAL_CLOSE_CODES.has(ev.code);
      this.#o.onClose?.(ev.code, ev.reason, again);
      if (again) this.#schedule();
    };
  }

  #schedule(): void {
    const initial = this.#o.backoff?.initialMs ?? 250;
    const max = this.#o.backoff?.maxMs ?? 10_000;
    const ceiling = Math.min(max, initial * 2 ** this.#attempt++);
    // Full jitter: riders that dropped together must not all come back in the same instant.
    const delay = Math.floor((this.#o.random ?? Math.random)() * ceiling);
    this.#timer = setTimeout(() => void this.#connect(), delay);
  }

  #onMessage(data: unknown): void {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : null;
    if (bytes === null) return;
    const d = decodeServerFrame(bytes);
    if (!d.ok) return;
    const f = d.frame;
    if (f.type === Frame.WELCOME) this.#onWelcome(f.lastSeq, f.tokenExpiresAt, f.serverTime);
    else if (f.type === Frame.ACK) this.#acked(f.lastSeq);
    else if (f.type === Frame.ERROR && f.seq > 0) this.#acked(f.seq);
    this.#o.onFrame?.(f);
    for (const w of this.#waiters) {
      if (w.pred(f)) {
        this.#waiters.delete(w);
        w.resolve(f);
      }
    }
  }

  #acked(seq: number): void {
    if (seqNewer(seq, this.#lastAcked)) this.#lastAcked = seq;
    while (this.#outbox.length > 0 && !seqNewer(this.#outbox[0]!.seq, this.#lastAcked)) this.#outbox.shift();
  }

  #onWelcome(lastSeq: number, tokenExpiresAt: number, serverTime: number): void {
    this.#attempt = 0;
    this.#acked(lastSeq);
    // A fresh client (or a server that remembers more) continues after the server's number.
    if (!seqNewer(this.#nextSeq, lastSeq)) this.#nextSeq = seqAfter(lastSeq);
    this.#welcomed = true;
    // Unacknowledged commands go again under their own seq; unacknowledged positions join the backlog.
    const pending = this.#outbox.splice(0);
    const backlog = [...pending.flatMap((p) => (p.fix ? [p.fix] : [])), ...this.#offline.splice(0)];
    for (const p of pending) {
      if (p.fix) continue;
      this.#outbox.push(p);
      this.#raw(p.bytes);
    }
    for (let i = 0; i < backlog.length; i += RiderLimits.MAX_BATCH) {
      const chunk = backlog.slice(i, i + RiderLimits.MAX_BATCH);
      this.#sequenced((seq) => encodePositionBatch(seq, chunk), null);
    }
    this.#armRefresh(tokenExpiresAt - serverTime);
  }

  #armRefresh(msLeft: number): void {
    clearTimeout(this.#refreshTimer);
    const before = this.#o.refreshBeforeMs ?? 60_000;
    this.#refreshTimer = setTimeout(
      () => {
        void Promise.resolve(this.#o.getToken()).then(
          (t) => this.refreshToken(t),
          () => undefined,
        );
      },
      Math.max(0, msLeft - before),
    );
  }
}
