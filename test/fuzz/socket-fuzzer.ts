/**
 * The socket fuzzers: rider frames mutated at the byte level on `/v1/rider`,
 * and JSON messages mutated on `/v1/stream`, each over real sockets to the
 * real server. Each connection sends a few fuzzed messages, then a ping, and
 * must get the pong back unless the server closed it with a documented close
 * code; every error names a code of the error table; no close is 1011
 * (a handler threw); nothing about another user's order ever arrives.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import WebSocket from 'ws';
import {
  CloseCode,
  ErrorCodes,
  Frame,
  RIDER_PATH,
  RIDER_SUBPROTOCOL,
  RiderStatusCode,
  SEQ_TOP,
  decodeServerFrame,
  encodeAuth,
  encodeOrderCommand,
  encodePing,
  encodePosition,
  encodePositionBatch,
  encodeStatus,
  seqAfter,
  type ServerFrame,
} from '../../protocol/index.js';
import { evilString } from './rest-fuzzer.js';

/** Close codes the server may use on a fuzzing client (documented in rider-protocol.md and docs/streams.md). */
const DOCUMENTED_CLOSES = new Set<number>([1000, ...Object.values(CloseCode)]);

export interface SocketTally {
  sent: number;
  connections: number;
  readonly closes: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly failures: string[];
}

export const newSocketTally = (): SocketTally => ({ sent: 0, connections: 0, closes: {}, errors: {}, failures: [] });

// ─── Rider frames ───

const seqArb = fc.oneof(fc.constantFrom(0, 1, SEQ_TOP, SEQ_TOP - 1, 2 ** 31), fc.integer({ min: 0, max: SEQ_TOP }));
const fixArb = fc.record({
  lat: fc.oneof(fc.double({ min: -90, max: 90, noNaN: true }), fc.constantFrom(19.076, 91, NaN, Infinity)),
  lng: fc.oneof(fc.double({ min: -180, max: 180, noNaN: true }), fc.constantFrom(72.8777, 181, -Infinity)),
  accuracy: fc.oneof(fc.double({ min: 0, max: 1e4, noNaN: true }), fc.constantFrom(-1, NaN)),
  heading: fc.oneof(fc.constant(NaN), fc.double({ min: -720, max: 720, noNaN: true })),
  speed: fc.oneof(fc.constant(NaN), fc.double({ min: -5, max: 200, noNaN: true })),
  at: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2 ** 42 }), fc.constantFrom(Number.MAX_SAFE_INTEGER)),
});
const orderIdArb = fc.oneof(fc.uuid(), evilString, fc.constantFrom('', 'x'.repeat(2000)));

/** A frame of the protocol with fuzzed fields (its encoder's output), or a MessagePack value that is not one. */
const baseFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(seqArb, fixArb).map(([s, f]) => encodePosition(s, f)),
  fc.tuple(seqArb, fc.array(fixArb, { maxLength: 20 })).map(([s, fs]) => encodePositionBatch(s, fs)),
  fc.tuple(seqArb, fc.integer({ min: -2, max: 10 })).map(([s, st]) => encodeStatus(s, st as never)),
  fc
    .tuple(fc.constantFrom(Frame.ACCEPT, Frame.DECLINE, Frame.PICKED_UP, Frame.DELIVERED), seqArb, orderIdArb)
    .map(([t, s, o]) => encodeOrderCommand(t, s, o)),
  fc.integer().map((n) => encodePing(n)),
  fc.oneof(evilString, fc.constant('a.b.c')).map((tok) => encodeAuth(tok)),
  fc
    .array(
      fc.oneof(
        fc.integer({ min: -1, max: 40 }),
        seqArb,
        evilString,
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.double(), { maxLength: 7 }),
      ),
      { maxLength: 10 },
    )
    .map((a) => new Uint8Array(pack(a))),
  fc.jsonValue({ maxDepth: 3 }).map((v) => new Uint8Array(pack(v))),
);

/** Byte-level mutations of a frame: flips, sets, inserts, deletes, truncations, splices, random bytes. */
export const riderFrameArb: fc.Arbitrary<Uint8Array> = fc
  .tuple(baseFrame, baseFrame, fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.nat(6)), { maxLength: 4 }), fc.nat(9))
  .map(([a, b, edits, kind]) => {
    if (kind === 0) return a;
    if (kind === 1) return new Uint8Array([...a.subarray(0, a.length >> 1), ...b.subarray(b.length >> 1)]);
    if (kind === 2) return new Uint8Array(Buffer.alloc(edits.length * 97 + 1, edits[0]?.[1] ?? 0xc1));
    let bytes = [...a];
    for (const [pos, value, op] of edits) {
      const i = bytes.length === 0 ? 0 : pos % bytes.length;
      if (op === 0) bytes[i] = (bytes[i] ?? 0) ^ (1 << (value % 8));
      else if (op === 1) bytes[i] = value;
      else if (op === 2) bytes.splice(i, 0, value);
      else if (op === 3) bytes.splice(i, 1);
      else if (op === 4) bytes = bytes.slice(0, i);
      else if (op === 5) bytes.splice(i, 0, ...[0xdc, 0xff, 0xff].slice(0, 1 + (value % 3)));
      else bytes.splice(i, 0, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    }
    return new Uint8Array(bytes);
  })
  // Now and then a frame too large for the protocol (close 4005), never past uWS's own cap.
  .chain((f) =>
    fc.oneof(
      { weight: 200, arbitrary: fc.constant(f) },
      { weight: 1, arbitrary: fc.integer({ min: 1025, max: 8000 }).map((n) => new Uint8Array(n).fill(0x91)) },
    ),
  );

// ─── Stream messages ───

export function streamMessageArb(orderIds: readonly string[]): fc.Arbitrary<string | Uint8Array> {
  const id = fc.oneof(
    orderIds.length > 0 ? fc.constantFrom(...orderIds) : fc.uuid(),
    fc.uuid(),
    evilString,
    fc.integer(),
    fc.constant(null),
  );
  const msg = fc.oneof(
    id.map((o) => ({ type: 'subscribe', order_id: o })),
    id.map((o) => ({ type: 'unsubscribe', order_id: o })),
    fc.oneof(evilString, fc.constant('a.b.c'), fc.integer()).map((tok) => ({ type: 'authenticate', token: tok })),
    fc.constant({ type: 'ping' }),
    fc.record({
      type: fc.oneof(evilString, fc.constantFrom('subscribe', 'ping', 'authenticate')),
      data: fc.jsonValue({ maxDepth: 2 }),
    }),
    fc.jsonValue({ maxDepth: 3 }),
  );
  return fc.tuple(msg, fc.nat(7), fc.nat(), fc.nat(255)).map(([m, kind, pos, value]) => {
    const text = JSON.stringify(m) ?? 'null';
    if (kind === 0) return text.slice(0, pos % (text.length + 1));
    if (kind === 1) {
      const b = Buffer.from(text);
      if (b.length > 0) b[pos % b.length] = value;
      return new Uint8Array(b);
    }
    if (kind === 2) return `${'['.repeat(3000)}${']'.repeat(3000)}`;
    return text;
  });
}

// ─── Running ───

interface Conn {
  readonly ws: WebSocket;
  readonly opened: Promise<boolean>;
  readonly closed: Promise<number>;
  /** Resolves on the next message `pred` accepts; false if the socket closes first or after `ms`. */
  wait(pred: (m: unknown) => boolean, ms: number): Promise<boolean>;
}

function open(
  url: string,
  protocols: string[],
  token: string | undefined,
  onMessage: (m: unknown) => void,
  decode: (d: Buffer, binary: boolean) => unknown,
): Conn {
  const ws = new WebSocket(url, protocols, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const waiters = new Set<{ pred: (m: unknown) => boolean; done: (ok: boolean) => void }>();
  let closeCode: number | undefined;
  const closed = new Promise<number>((resolve) =>
    ws.once('close', (code) => {
      closeCode = code;
      for (const w of waiters) w.done(false);
      waiters.clear();
      resolve(code);
    }),
  );
  ws.on('error', () => undefined);
  ws.on('unexpected-response', (_req, res) => {
    res.resume();
    ws.emit('close', 1015 + (res.statusCode ?? 0) * 0, Buffer.alloc(0));
  });
  const opened = new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    void closed.then(() => resolve(false));
  });
  ws.on('message', (data: Buffer, binary) => {
    const m = decode(data, binary);
    onMessage(m);
    for (const w of waiters)
      if (w.pred(m)) {
        waiters.delete(w);
        w.done(true);
      }
  });
  return {
    ws,
    opened,
    closed,
    wait(pred, ms) {
      if (closeCode !== undefined) return Promise.resolve(false);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          resolve(false);
        }, ms);
        const w = {
          pred,
          done: (ok: boolean) => {
            clearTimeout(timer);
            resolve(ok);
          },
        };
        waiters.add(w);
      });
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SocketFuzzOptions {
  readonly count: number;
  readonly seed: number;
  /** Fuzzed messages between two pings. */
  readonly chunk?: number;
  /** Messages a second per connection, pings included (the server closes floods with 4007). */
  readonly perSecond?: number;
  readonly log?: (line: string) => void;
  readonly tally?: SocketTally;
}

/** One socket endpoint's fuzz loop over one identity; reconnects after every close. */
async function fuzzLoop(
  o: SocketFuzzOptions,
  tally: SocketTally,
  messages: readonly (string | Uint8Array)[],
  dial: (onMessage: (m: unknown) => void) => Conn,
  ping: (n: number) => string | Uint8Array,
  isPong: (m: unknown, n: number) => boolean,
  check: (m: unknown) => string | undefined,
  /** After each chunk: can the client still make itself heard? Answers what is wrong, if anything. */
  probe?: (c: Conn) => Promise<string | undefined>,
): Promise<void> {
  const chunk = o.chunk ?? 6;
  const perSecond = o.perSecond ?? 30;
  let i = 0;
  let n = 0;
  while (i < messages.length) {
    const c = dial((m) => {
      const wrong = check(m);
      if (wrong) tally.failures.push(wrong);
    });
    tally.connections++;
    if (!(await c.opened)) {
      const code = await c.closed;
      tally.failures.push(`connection refused or dropped before open (${code})`);
      if (tally.failures.length > 50) return;
      await sleep(100);
      continue;
    }
    let alive = true;
    while (alive && i < messages.length) {
      const started = Date.now();
      const batch = messages.slice(i, i + chunk);
      for (const m of batch) {
        c.ws.send(m, { binary: typeof m !== 'string' });
        o.log?.(
          `sent ${typeof m === 'string' ? JSON.stringify(m.slice(0, 120)) : Buffer.from(m.subarray(0, 60)).toString('hex')}`,
        );
      }
      i += batch.length;
      tally.sent += batch.length;
      const k = ++n;
      c.ws.send(ping(k), { binary: typeof ping(k) !== 'string' });
      alive = await c.wait((m) => isPong(m, k), 5_000);
      if (alive && probe) {
        const wrong = await probe(c);
        if (wrong) tally.failures.push(`${wrong} after message ${i}`);
      }
      // Pace the connection under the server's flood limit (a probe usually sends one or two frames).
      const spent = Date.now() - started;
      const budget = ((batch.length + (probe ? 3 : 1)) * 1000) / perSecond;
      if (alive && spent < budget) await sleep(budget - spent);
    }
    if (alive) c.ws.close(1000);
    else if (c.ws.readyState === c.ws.OPEN) {
      // No pong on an open socket: the server stopped answering.
      tally.failures.push(`no pong within 5 s after message ${i}`);
      c.ws.terminate();
    }
    const code = await c.closed;
    tally.closes[code] = (tally.closes[code] ?? 0) + 1;
    o.log?.(`closed ${code}`);
    // 1006 (no close frame) is the pinned uWS build's known drop (docs/streams.md): counted, and failed
    // only when it is more than a rare event, so a real cause (a crash costs every socket) still shows.
    const drops = tally.closes[1006] ?? 0;
    if (code === 1006 && drops > Math.max(2, tally.connections / 100))
      tally.failures.push(`${drops} connections dropped with 1006`);
    else if (code !== 1005 && code !== 1006 && !DOCUMENTED_CLOSES.has(code)) {
      tally.failures.push(`closed with undocumented code ${code} after message ${i}`);
    }
    if (tally.failures.length > 50) return;
  }
}

/** Rider frames over `tokens.length` riders in parallel; `count` frames in all. */
export async function fuzzRiderFrames(
  base: string,
  tokens: readonly string[],
  o: SocketFuzzOptions,
): Promise<SocketTally> {
  const tally = o.tally ?? newSocketTally();
  const url = `${base.replace(/^http/, 'ws')}${RIDER_PATH}`;
  const per = Math.ceil(o.count / tokens.length);
  await Promise.all(
    tokens.map(async (token, r) => {
      // The last seq the server acknowledged on the current connection (ACKs arrive in the order they were made).
      let lastAck = 0;
      /**
       * Never a muted rider: a STATUS numbered after the server's last acknowledged seq is processed
       * (ACK of it, or an ERROR naming it). An ACK still in flight can make a guess a duplicate; the
       * duplicate's ACK then says where the server is, so a few tries are plenty.
       */
      const probe = async (c: Conn): Promise<string | undefined> => {
        for (let attempt = 0; attempt < 5; attempt++) {
          const seq = seqAfter(lastAck);
          let processed = false;
          // Any ACK ends the wait: of this seq (processed), or of another (a duplicate, or a stale ACK: try again).
          const answered = c.wait((m) => {
            const d = m as ReturnType<typeof decodeServerFrame>;
            if (!d.ok) return false;
            processed =
              (d.frame.type === Frame.ACK && d.frame.lastSeq === seq) ||
              (d.frame.type === Frame.ERROR && d.frame.seq === seq);
            return processed || d.frame.type === Frame.ACK;
          }, 5_000);
          c.ws.send(encodeStatus(seq, attempt % 2 === 0 ? RiderStatusCode.BREAK : RiderStatusCode.ONLINE));
          const heard = await answered;
          if (processed || c.ws.readyState !== c.ws.OPEN) return undefined;
          if (!heard) return `silent: no ACK within 5 s of a STATUS numbered ${seq}`;
        }
        return `muted: five STATUS frames numbered after the last ACK (${lastAck}) were not processed`;
      };
      const BATCH = 5_000;
      for (let done = 0, b = 0; done < per; b++) {
        const frames = fc.sample(riderFrameArb, {
          seed: o.seed * 1000 + r * 100_000 + b,
          numRuns: Math.min(BATCH, per - done),
        });
        done += frames.length;
        await fuzzLoop(
          o,
          tally,
          frames,
          (onMessage) => open(url, [RIDER_SUBPROTOCOL], token, onMessage, (d) => decodeServerFrame(new Uint8Array(d))),
          (n) => encodePing(n),
          (m, n) => {
            const d = m as ReturnType<typeof decodeServerFrame>;
            return d.ok && d.frame.type === Frame.PONG && d.frame.clientTime === n;
          },
          (m) => {
            const d = m as ReturnType<typeof decodeServerFrame>;
            if (!d.ok) return `the server sent a frame the protocol cannot decode: ${d.detail}`;
            const f: ServerFrame = d.frame;
            if (f.type === Frame.ACK || f.type === Frame.WELCOME) lastAck = f.lastSeq;
            if (f.type === Frame.ERROR) {
              tally.errors[f.code] = (tally.errors[f.code] ?? 0) + 1;
              if (!Object.hasOwn(ErrorCodes, f.code)) return `ERROR with a code outside the table: ${f.code}`;
              if (f.code === 'INTERNAL') return `ERROR INTERNAL: ${f.detail}`;
            }
            return undefined;
          },
          probe,
        );
      }
    }),
  );
  return tally;
}

/** Stream messages over sockets of `tokens` (undefined: in-band authentication only); `forbidden` order ids must never be heard of. */
export async function fuzzStream(
  base: string,
  tokens: readonly (string | undefined)[],
  forbidden: () => ReadonlySet<string>,
  orderIds: readonly string[],
  o: SocketFuzzOptions,
): Promise<SocketTally> {
  const tally = o.tally ?? newSocketTally();
  const url = `${base.replace(/^http/, 'ws')}/v1/stream`;
  const per = Math.ceil(o.count / tokens.length);
  await Promise.all(
    tokens.map(async (token, r) => {
      const msgs = fc.sample(streamMessageArb(orderIds), { seed: o.seed * 1000 + r, numRuns: per });
      await fuzzLoop(
        o,
        tally,
        msgs,
        (onMessage) =>
          open(url, [], token, onMessage, (d, binary) => {
            try {
              return binary ? { binary: true } : JSON.parse(d.toString('utf8'));
            } catch {
              return { unparsable: d.toString('utf8').slice(0, 100) };
            }
          }),
        () => '{"type":"ping"}',
        (m) => (m as { type?: string }).type === 'pong',
        (m) => {
          const x = m as {
            type?: string;
            data?: { code?: string; order_id?: string };
            unparsable?: string;
            binary?: boolean;
          };
          if (x.unparsable !== undefined || x.binary)
            return `the server sent a message that is not JSON: ${x.unparsable ?? 'binary'}`;
          if (x.type === 'error') {
            const code = x.data?.code ?? '';
            tally.errors[code] = (tally.errors[code] ?? 0) + 1;
            if (!Object.hasOwn(ErrorCodes, code)) return `error with a code outside the table: ${JSON.stringify(m)}`;
            if (code === 'INTERNAL') return `error INTERNAL: ${JSON.stringify(m)}`;
          }
          const id = x.data?.order_id;
          if (typeof id === 'string' && forbidden().has(id) && x.type !== 'error')
            return `heard of another user's order: ${JSON.stringify(m)}`;
          return undefined;
        },
      );
    }),
  );
  return tally;
}
