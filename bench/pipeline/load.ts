/**
 * The pipeline bench's load generator, in its own process so its CPU is not
 * the server's. It plays the whole city against the real server:
 *
 * - riders: one `ws` socket each with its own ID token, online, streaming a
 *   real position frame every `intervalS` seconds (phases spread evenly) while
 *   moving at their own speed; an offered rider accepts at once, and after
 *   `jobS` seconds reports picked up and delivered, and is free again;
 * - restaurants and customers: REST calls with their own tokens; each planned
 *   order is placed (`POST /orders`, cash) and, at once, confirmed by its
 *   restaurant with no preparation time (`PUT /orders/{id}/status`), which
 *   makes it dispatchable there and then.
 *
 * Match latency is measured here, on one clock: from sending the confirming
 * PUT to the offer frame arriving at the rider's socket. The REST
 * acknowledgement's own latency is recorded beside it.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import WebSocket from 'ws';
import {
  Frame,
  RIDER_SUBPROTOCOL,
  RiderStatusCode,
  decodeServerFrame,
  encodeOrderCommand,
  encodePosition,
  encodeStatus,
  seqAfter,
} from '../../protocol/index.js';
import { offsetM, SeededRandom } from '../../engine/index.js';
import { LatencyHistogram } from '../hdr.js';
import { planWorkload, type WorkloadOptions } from '../workload.js';

export interface LoadConfig {
  readonly base: string;
  readonly identitiesFile: string;
  readonly workload: WorkloadOptions;
  readonly intervalS: number;
  readonly jobS: number;
  /** REST requests in flight at most (keep-alive sockets). */
  readonly maxSockets: number;
}

/** The tokens of one run, written by the orchestrator. */
export interface Identities {
  readonly riders: readonly string[];
  readonly restaurants: readonly { id: string; token: string }[];
  readonly customers: readonly string[];
}

export type LoadCmd =
  { type: 'seed' } | { type: 'connect' } | { type: 'stream' } | { type: 'orders'; warmupS: number } | { type: 'exit' };

export type LoadMsg =
  | { type: 'seeded'; restaurants: number; s: number }
  | { type: 'connected'; connections: number; failed: number; s: number }
  | { type: 'progress'; sent: number; planned: number; offers: number; p99_us: number }
  | {
      type: 'orders_done';
      planned: number;
      placed: number;
      confirmed: number;
      offers: number;
      unmatched: number;
      measured: number;
      rest_errors: Record<string, number>;
      rider_errors: Record<string, number>;
      closes: number;
      offers_before_ack: number;
      match: string;
      ack: string;
      positions_sent: number;
      seconds: number;
      lag_ms_max: number;
    };

const config = JSON.parse(process.argv[2]!) as LoadConfig;
const ids = JSON.parse(readFileSync(config.identitiesFile, 'utf8')) as Identities;
const send = (m: LoadMsg) => process.send?.(m);
const { city, orders: plan } = planWorkload(config.workload);
const baseUrl = new URL(config.base);
const agent = new http.Agent({ keepAlive: true, maxSockets: config.maxSockets });
const wsUrl = `ws://${baseUrl.host}/v1/rider`;

const restErrors: Record<string, number> = {};
const riderErrors: Record<string, number> = {};
const count = (m: Record<string, number>, k: string) => void (m[k] = (m[k] ?? 0) + 1);

/** One REST call; answers the status, the parsed body and when the answer arrived. */
function rest(
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown>; at: number }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: baseUrl.hostname,
        port: baseUrl.port,
        method,
        path,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const at = performance.now();
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, json, at });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const address = (p: { lat: number; lng: number }) => ({
  street: '1 Bench Road',
  city: 'Bengaluru',
  state: 'Karnataka',
  postal_code: '560001',
  country: 'India',
  latitude: p.lat,
  longitude: p.lng,
});

/** Each restaurant registers itself and its one-item menu (the menu item id is `<restaurant>-m1`). */
async function seed(): Promise<void> {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < ids.restaurants.length; i = next++) {
      const r = ids.restaurants[i]!;
      const at = city.restaurants[i]!.at;
      const made = await rest('POST', '/restaurants', r.token, {
        name: `Bench kitchen ${i}`,
        address: address(at),
        preparation_time: city.restaurants[i]!.prepMinutes,
        capacity: 1000,
      });
      if (made.status !== 201 && made.status !== 200)
        throw new Error(`POST /restaurants: ${made.status} ${JSON.stringify(made.json)}`);
      const menu = await rest('PUT', `/restaurants/${r.id}/menu`, r.token, {
        categories: [{ name: 'Mains', items: [{ id: `${r.id}-m1`, name: 'Thali', price: 180, available: true }] }],
      });
      if (menu.status !== 200) throw new Error(`PUT menu: ${menu.status} ${JSON.stringify(menu.json)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  send({
    type: 'seeded',
    restaurants: ids.restaurants.length,
    s: Number(((performance.now() - t0) / 1000).toFixed(1)),
  });
}

// ─── Riders ────────────────────────────────────────────────────────────────

interface Rider {
  ws: WebSocket;
  seq: number;
  lat: number;
  lng: number;
  heading: number;
  speed: number;
  open: boolean;
}
const riders: Rider[] = [];
const rnd = new SeededRandom(config.workload.seed ^ 0x10ad);
/** Orders whose confirming PUT has been sent and whose offer has not come, by id: when it was sent, and whether it counts (past the warm-up). */
const sentAt = new Map<string, { t: number; measured: boolean }>();
const ackedAt = new Map<string, number>();
const match = new LatencyHistogram();
const ack = new LatencyHistogram();
let offers = 0;
let offersBeforeAck = 0;
let closes = 0;
let positionsSent = 0;

function onOffer(r: Rider, orderId: string, arrived: number): void {
  offers++;
  const sent = sentAt.get(orderId);
  if (sent !== undefined) {
    sentAt.delete(orderId);
    if (sent.measured) match.recordMicros((arrived - sent.t) * 1000);
    if (!ackedAt.has(orderId)) offersBeforeAck++;
  }
  r.ws.send(encodeOrderCommand(Frame.ACCEPT, r.seq++, orderId));
  setTimeout(() => {
    if (!r.open) return;
    r.ws.send(encodeOrderCommand(Frame.PICKED_UP, r.seq++, orderId));
    r.ws.send(encodeOrderCommand(Frame.DELIVERED, r.seq++, orderId));
  }, config.jobS * 1000);
}

function open(token: string, i: number): Promise<Rider | null> {
  const home = city.riders[i]!;
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, [RIDER_SUBPROTOCOL], {
      headers: { authorization: `Bearer ${token}` },
      perMessageDeflate: false,
    });
    const r: Rider = {
      ws,
      seq: 1,
      lat: home.at.lat,
      lng: home.at.lng,
      heading: rnd.next() * 360,
      speed: home.speedMps,
      open: false,
    };
    // Numbering starts after the WELCOME's last_seq, as protocol/rider-client.ts does: a server
    // with Redis remembers each rider's seq across servers, and the systems compared in one run
    // share their riders (a frame at or below the remembered seq would be taken for a resend).
    const begin = (lastSeq: number) => {
      r.open = true;
      r.seq = seqAfter(lastSeq);
      ws.send(encodeStatus(r.seq++, RiderStatusCode.ONLINE));
      ws.send(
        encodePosition(r.seq++, {
          lat: r.lat,
          lng: r.lng,
          accuracy: 8,
          heading: r.heading,
          speed: r.speed,
          at: Date.now(),
        }),
      );
      resolve(r);
    };
    ws.on('message', (data: Buffer) => {
      const arrived = performance.now();
      const d = decodeServerFrame(new Uint8Array(data));
      if (!d.ok) {
        count(riderErrors, 'undecodable');
        return;
      }
      if (d.frame.type === Frame.WELCOME && !r.open) begin(d.frame.lastSeq);
      else if (d.frame.type === Frame.OFFER) onOffer(r, d.frame.orderId, arrived);
      else if (d.frame.type === Frame.ERROR) count(riderErrors, d.frame.code);
    });
    ws.once('close', (code) => {
      if (!r.open) resolve(null); // closed before its WELCOME
      r.open = false;
      closes++;
      count(riderErrors, `close_${code}`);
    });
    ws.on('error', (err) => {
      count(riderErrors, `client_error ${err.message.slice(0, 60)}`);
      resolve(null);
    });
  });
}

async function connect(): Promise<void> {
  const t0 = performance.now();
  let failed = 0;
  const CONCURRENCY = 64;
  for (let i = 0; i < ids.riders.length; i += CONCURRENCY) {
    const batch = await Promise.all(ids.riders.slice(i, i + CONCURRENCY).map((tok, k) => open(tok, i + k)));
    for (const r of batch) {
      if (r) riders.push(r);
      else failed++;
    }
  }
  send({
    type: 'connected',
    connections: riders.length,
    failed,
    s: Number(((performance.now() - t0) / 1000).toFixed(1)),
  });
}

/** Every rider reports every `intervalS`, phases spread evenly: a steady riders / intervalS positions a second. */
function stream(): void {
  const TICK = 50;
  const perTick = (riders.length * TICK) / (config.intervalS * 1000);
  let carry = 0;
  let next = 0;
  const step = () => {
    carry += perTick;
    const now = Date.now();
    while (carry >= 1) {
      carry -= 1;
      const r = riders[next++ % riders.length]!;
      if (!r.open) continue;
      // A wandering rider: a few degrees of turn per report, at its own speed.
      r.heading = (r.heading + (rnd.next() - 0.5) * 40 + 360) % 360;
      const p = offsetM(r.lat, r.lng, r.heading, r.speed * config.intervalS);
      r.lat = p.lat;
      r.lng = p.lng;
      r.ws.send(
        encodePosition(r.seq++, { lat: r.lat, lng: r.lng, accuracy: 8, heading: r.heading, speed: r.speed, at: now }),
      );
      positionsSent++;
    }
  };
  setInterval(step, TICK);
}

// ─── Orders ────────────────────────────────────────────────────────────────

async function runOrders(warmupS: number): Promise<void> {
  const t0 = performance.now();
  let sent = 0;
  let placed = 0;
  let confirmed = 0;
  let lagMax = 0;
  const one = async (n: number): Promise<void> => {
    const o = plan[n]!;
    const measured = o.at >= warmupS;
    const restaurant = ids.restaurants[o.restaurant]!;
    const customer = ids.customers[n % ids.customers.length]!;
    const made = await rest('POST', '/orders', customer, {
      restaurant_id: restaurant.id,
      items: [{ menu_item_id: `${restaurant.id}-m1`, quantity: 1 }],
      delivery_address: address(o.drop),
      payment_method: { type: 'CASH' },
    });
    if (made.status !== 201 && made.status !== 200) {
      count(restErrors, `POST /orders ${made.status} ${JSON.stringify(made.json['code'] ?? made.json['title'] ?? '')}`);
      return;
    }
    placed++;
    const id = String(made.json['id']);
    const t = performance.now();
    sentAt.set(id, { t, measured });
    const res = await rest('PUT', `/orders/${id}/status`, restaurant.token, {
      status: 'confirmed',
      estimated_preparation_time: 0,
    });
    if (res.status !== 200) {
      sentAt.delete(id);
      count(restErrors, `PUT status ${res.status} ${JSON.stringify(res.json['code'] ?? res.json['title'] ?? '')}`);
      return;
    }
    confirmed++;
    ackedAt.set(id, res.at);
    if (measured) ack.recordMicros((res.at - t) * 1000);
  };
  const inflight = new Set<Promise<void>>();
  const progress = setInterval(() => {
    send({ type: 'progress', sent, planned: plan.length, offers, p99_us: match.percentileMicros(99) });
  }, 1000);
  for (let n = 0; n < plan.length; n++) {
    const due = t0 + plan[n]!.at * 1000;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    lagMax = Math.max(lagMax, performance.now() - due);
    const p = one(n).catch((err: unknown) => count(restErrors, `request ${(err as Error).message.slice(0, 60)}`));
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    sent++;
  }
  await Promise.all(inflight);
  // Offers still on their way.
  const deadline = performance.now() + 3_000;
  while (sentAt.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  clearInterval(progress);
  send({
    type: 'orders_done',
    planned: plan.length,
    placed,
    confirmed,
    offers,
    unmatched: sentAt.size,
    measured: match.count,
    rest_errors: restErrors,
    rider_errors: riderErrors,
    closes,
    offers_before_ack: offersBeforeAck,
    match: match.encode(),
    ack: ack.encode(),
    positions_sent: positionsSent,
    seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    lag_ms_max: Math.round(lagMax),
  });
}

process.on('message', (m: LoadCmd) => {
  const fail = (err: unknown) => {
    console.error('[load]', err);
    process.exit(1);
  };
  if (m.type === 'seed') seed().catch(fail);
  else if (m.type === 'connect') connect().catch(fail);
  else if (m.type === 'stream') stream();
  else if (m.type === 'orders') runOrders(m.warmupS).catch(fail);
  else {
    for (const r of riders) r.ws.terminate();
    agent.destroy();
    process.exit(0);
  }
});
