/**
 * A JSON stream client for `/v1/stream` and `/ws` tests: every message it
 * received, a wait for the next one matching, and a ping barrier.
 */
import WebSocket from 'ws';

export interface StreamMsg {
  type: string;
  data: Record<string, unknown>;
}

export interface StreamClient {
  readonly ws: WebSocket;
  readonly msgs: StreamMsg[];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  send(m: unknown): Promise<void>;
  next(pred: (m: StreamMsg) => boolean, ms?: number): Promise<StreamMsg>;
  /** Sends a ping and waits for its pong: the server has handled everything sent before. */
  sync(): Promise<void>;
}

/** Opens `url`; with `token`, authenticated at upgrade (Authorization header); `ca` is trusted for wss://. */
export function openStream(url: string, opts: { token?: string; ca?: Buffer } = {}): StreamClient {
  const ws = new WebSocket(url, {
    ...(opts.token ? { headers: { authorization: `Bearer ${opts.token}` } } : {}),
    ...(opts.ca ? { ca: opts.ca } : {}),
  });
  const msgs: StreamMsg[] = [];
  const waiters = new Set<{ pred: (m: StreamMsg) => boolean; done: (m: StreamMsg) => void }>();
  ws.on('error', () => undefined);
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString()) as StreamMsg;
    msgs.push(m);
    for (const w of waiters)
      if (w.pred(m)) {
        waiters.delete(w);
        w.done(m);
      }
  });
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.once('close', (code, reason) => r({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((r) => ws.once('open', () => r()));
  const c: StreamClient = {
    ws,
    msgs,
    closed,
    opened,
    send: async (m) => {
      await opened;
      ws.send(JSON.stringify(m));
    },
    next(pred, ms = 15_000) {
      const seen = msgs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; got ${JSON.stringify(msgs)}`)), ms);
        waiters.add({
          pred,
          done: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    async sync() {
      const n = msgs.filter((m) => m.type === 'pong').length;
      await c.send({ type: 'ping' });
      await c.next(() => msgs.filter((m) => m.type === 'pong').length > n);
    },
  };
  return c;
}

export const ofType =
  (type: string, extra: (m: StreamMsg) => boolean = () => true) =>
  (m: StreamMsg) =>
    m.type === type && extra(m);
