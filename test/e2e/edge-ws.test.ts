/**
 * One public endpoint: the WebSocket routes through the Caddy edge
 * (edge/Caddyfile), TLS at Caddy, plain WebSocket to the gateway. A rider
 * with the TS rider client on wss://…/v1/rider takes an offer and sends
 * positions; a customer watches the order on wss://…/v1/stream (token at the
 * upgrade) and the seed's client on wss://…/ws (token in-band) sees the same
 * updates; a rider socket left idle for longer than the edge's whole-request
 * timeout (read_body 30 s) still works, on the same connection.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';
import {
  type CustomerId,
  Frame,
  RIDER_PATH,
  RiderClient,
  RiderStatusCode,
  type RiderId,
  type RiderSocketFactory,
} from '../../protocol/index.js';
import { startCaddy } from '../support/caddy.js';
import { ofType, openStream } from '../support/stream-client.js';
import { near, startHarness } from '../support/ws-harness.js';

const h = await startHarness(t);
const edge = await startCaddy({ upstream: `127.0.0.1:${h.server.port}`, t });
const ca = await readFile(edge.caCertPath);
const wss = edge.url.replace('https://', 'wss://');

/** The rider client's socket over TLS to the edge, trusting the edge's CA. */
const tlsSocket: RiderSocketFactory = (url, protocols, token) =>
  new WebSocket(url, protocols, {
    ca,
    headers: { authorization: `Bearer ${token}` },
  }) as unknown as ReturnType<RiderSocketFactory>;

async function onlineRider(label: string) {
  const u = await h.rider(label);
  const closes: number[] = [];
  const client = new RiderClient({
    url: `${wss}${RIDER_PATH}`,
    getToken: () => u.token,
    socket: tlsSocket,
    backoff: { initialMs: 20, maxMs: 200 },
    random: () => 0.5,
    onClose: (code) => closes.push(code),
  });
  client.start();
  await client.waitFor((f) => f.type === Frame.WELCOME);
  client.setStatus(RiderStatusCode.ONLINE);
  await client.waitFor((f) => f.type === Frame.ACK && f.lastSeq >= 1);
  // A single position is acknowledged with every 8th; a ping's PONG says it was handled.
  client.sendPosition({ ...near(300), accuracy: 5, heading: NaN, speed: 0, at: h.clock.now() });
  client.ping();
  await client.waitFor((f) => f.type === Frame.PONG);
  return { client, id: u.riderId as RiderId, closes };
}

// Opened first and checked last: the subtests between keep it idle for longer than read_body.
const idleStart = Date.now();
const idle = await onlineRider('idle');

t.test('a plain ws:// or a wrong CA does not get through: TLS is at the edge', async (t) => {
  const plain = new WebSocket(`${edge.url.replace('https://', 'ws://')}${RIDER_PATH}`);
  const plainErr = await new Promise<string>((r) => {
    plain.once('error', (e) => r(e.message));
    plain.once('open', () => r('opened'));
  });
  t.not(plainErr, 'opened', `plain WebSocket to the TLS port refused (${plainErr})`);
  const untrusted = new WebSocket(`${wss}/ws`);
  const err = await new Promise<string>((r) => {
    untrusted.once('error', (e) => r(e.message));
    untrusted.once('open', () => r('opened'));
  });
  t.match(err, /self[- ]signed|unable to verify|certificate/i, 'the certificate is checked');
});

t.test('a rider through the edge: offer, accept, positions reach the engine', async (t) => {
  const rest = h.restaurant();
  const r = await onlineRider('edge');
  const placed = h.engine.placeOrder({
    customerId: 'cust-edge' as CustomerId,
    restaurantId: rest,
    drop: near(2000, 0),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  t.match(h.engine.restaurantAccept(placed.value, { prepMinutes: 0 }), { ok: true });
  const offer = await r.client.waitFor((f) => f.type === Frame.OFFER && f.orderId === placed.value);
  t.match(offer, { type: Frame.OFFER, orderId: placed.value });
  r.client.accept(placed.value);
  t.match(await r.client.waitFor((f) => f.type === Frame.ASSIGNED), { type: Frame.ASSIGNED, orderId: placed.value });
  const at = h.clock.now();
  r.client.sendPosition({ ...near(250), accuracy: 4, heading: 90, speed: 3, at });
  r.client.ping();
  await r.client.waitFor((f) => f.type === Frame.PONG);
  const v = h.engine.getRider(r.id);
  t.ok(v.ok && v.value.position?.at === at, 'the position sent through the edge is the rider position');
  r.client.stop();
});

t.test('customer streams through the edge: /v1/stream (upgrade auth) and /ws (in-band)', async (t) => {
  const customer = await h.user();
  const restId = h.restaurant();
  const placed = h.engine.placeOrder({
    customerId: customer.uid as CustomerId,
    restaurantId: restId,
    drop: near(1500, 0),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const orderId = placed.value;

  const stream = openStream(`${wss}/v1/stream`, { token: customer.token, ca });
  t.teardown(() => stream.ws.close());
  t.match(await stream.next(ofType('authenticated')), { data: { uid: customer.uid } });
  await stream.send({ type: 'subscribe', order_id: orderId });
  await stream.next(ofType('subscribed'));

  const seed = openStream(`${wss}/ws`, { ca });
  t.teardown(() => seed.ws.close());
  await seed.send({ type: 'authenticate', token: customer.token });
  t.match(await seed.next(ofType('authenticated')), { data: { uid: customer.uid, role: 'customer' } });
  await seed.send({ type: 'subscribe', order_id: orderId });
  t.match(await seed.next(ofType('order_status_update')), { data: { order_id: orderId, event: 'snapshot' } });

  h.engine.restaurantAccept(orderId, { prepMinutes: 15 });
  for (const c of [stream, seed])
    t.match(await c.next(ofType('order_status_update', (m) => m.data['event'] === 'order_accepted')), {
      data: { order_id: orderId, status: 'confirmed' },
    });
  await stream.sync();
  await seed.sync();
});

t.test('the upgrade answer comes through the edge: Alt-Svc for HTTP/3', async (t) => {
  const seen = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const ws = new WebSocket(`${wss}/ws`, { ca });
    ws.once('upgrade', (res) => resolve({ alt: res.headers['alt-svc'], proto: res.headers['sec-websocket-protocol'] }));
    ws.once('error', reject);
    t.teardown(() => ws.close());
  });
  t.match(seen.alt, /h3=":\d+"/, 'the upgrade answer advertises HTTP/3 like every edge answer');
  t.equal(seen.proto, undefined, 'no subprotocol asked, none answered');
});

t.test('a rider socket idle for longer than the edge read_body timeout (30 s) still works', async (t) => {
  const waited = Date.now() - idleStart;
  if (waited < 32_000) await new Promise((r) => setTimeout(r, 32_000 - waited));
  t.ok(idle.client.connected, `still connected after ${Math.round((Date.now() - idleStart) / 1000)} s`);
  t.same(idle.closes, [], 'never closed and reconnected meanwhile');
  const seq = idle.client.lastAcked;
  idle.client.setStatus(RiderStatusCode.BREAK);
  await idle.client.waitFor((f) => f.type === Frame.ACK && f.lastSeq > seq);
  t.match(h.engine.getRider(idle.id), { ok: true, value: { state: 'on_break', connected: true } });
  idle.client.stop();
});
