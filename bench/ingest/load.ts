/**
 * The ingest bench's load generator, in its own process so its CPU is not the
 * server's: one `ws` socket per rider, authenticated with that rider's real
 * ID token, going online and then streaming real position frames (encoded
 * with the protocol codec, one per send) at `rate` Hz each for `seconds`.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import {
  RIDER_SUBPROTOCOL,
  RiderStatusCode,
  encodePosition,
  encodeStatus,
  Frame,
  decodeServerFrame,
} from '../../protocol/index.js';

export type LoadMsg =
  | { type: 'connected'; connections: number; failed: number; connect_s: number }
  | { type: 'done'; sent: number; errors: number; closes: number; error_codes: Record<string, number> };
export type LoadCmd = { type: 'stream'; seconds: number } | { type: 'exit' };

const [url = '', tokensFile = '', rateArg = '1'] = process.argv.slice(2);
const rate = Number(rateArg);
const tokens = JSON.parse(readFileSync(tokensFile, 'utf8')) as string[];
const send = (m: LoadMsg) => process.send?.(m);

const CENTRE = { lat: 12.9716, lng: 77.5946 };
interface Rider {
  ws: WebSocket;
  seq: number;
  lat: number;
  lng: number;
}
const riders: Rider[] = [];
let errors = 0;
let closes = 0;
let streaming = false;
const errorCodes: Record<string, number> = {};

function open(token: string): Promise<Rider | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, [RIDER_SUBPROTOCOL], {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    const r: Rider = {
      ws,
      seq: 1,
      lat: CENTRE.lat + (Math.random() - 0.5) * 0.2,
      lng: CENTRE.lng + (Math.random() - 0.5) * 0.2,
    };
    ws.once('open', () => {
      ws.send(encodeStatus(r.seq++, RiderStatusCode.ONLINE));
      resolve(r);
    });
    let welcomed = false;
    ws.on('message', (data: Buffer) => {
      const d = decodeServerFrame(new Uint8Array(data));
      if (d.ok && d.frame.type === Frame.WELCOME) welcomed = true;
      if (d.ok && d.frame.type === Frame.ERROR) {
        errors++;
        errorCodes[d.frame.code] = (errorCodes[d.frame.code] ?? 0) + 1;
      }
    });
    ws.once('close', (code) => {
      closes++;
      const key = `close_${code}_${streaming ? 'streaming' : 'connecting'}${welcomed ? '' : '_before_welcome'}`;
      errorCodes[key] = (errorCodes[key] ?? 0) + 1;
    });
    ws.on('error', (err) => {
      const key = `client_error ${err.message.slice(0, 60)}`;
      errorCodes[key] = (errorCodes[key] ?? 0) + 1;
      resolve(null);
    });
  });
}

const t0 = performance.now();
let failed = 0;
const CONCURRENCY = 64;
for (let i = 0; i < tokens.length; i += CONCURRENCY) {
  const batch = await Promise.all(tokens.slice(i, i + CONCURRENCY).map(open));
  for (const r of batch) {
    if (r) riders.push(r);
    else failed++;
  }
}
send({
  type: 'connected',
  connections: riders.length,
  failed,
  connect_s: Number(((performance.now() - t0) / 1000).toFixed(1)),
});

process.on('message', (m: LoadCmd) => {
  if (m.type === 'exit') {
    for (const r of riders) r.ws.terminate();
    process.exit(0);
  }
  void stream(m.seconds);
});

/** Every rider sends `rate` positions a second, spread evenly over each tick of 50 ms. */
async function stream(seconds: number): Promise<void> {
  streaming = true;
  const TICK = 50;
  const perTick = (riders.length * rate * TICK) / 1000;
  let carry = 0;
  let next = 0;
  let sent = 0;
  const end = performance.now() + seconds * 1000;
  let due = performance.now();
  while (performance.now() < end) {
    carry += perTick;
    const now = Date.now();
    while (carry >= 1) {
      carry -= 1;
      const r = riders[next++ % riders.length]!;
      r.lat += (Math.random() - 0.5) * 1e-4;
      r.lng += (Math.random() - 0.5) * 1e-4;
      if (r.ws.readyState === WebSocket.OPEN) {
        r.ws.send(encodePosition(r.seq++, { lat: r.lat, lng: r.lng, accuracy: 8, heading: 90, speed: 6.5, at: now }));
        sent++;
      }
    }
    due += TICK;
    await new Promise((res) => setTimeout(res, Math.max(0, due - performance.now())));
  }
  // Let the last frames and their answers arrive.
  await new Promise((res) => setTimeout(res, 500));
  send({ type: 'done', sent, errors, closes, error_codes: errorCodes });
}
