/**
 * Logs, metrics and health of a real server (embedded storage, the Firebase
 * Auth emulator, a rider on its WebSocket, a customer on the JSON stream):
 * - no ENCRYPTION_KEY outside production: a key is generated into the data
 *   directory, logged, kept for the next start, and the seed's
 *   POST /delivery-persons answers 201, not 503;
 * - one pino line per request (request and order ids) and per socket event
 *   (connection ids), with personal fields redacted;
 * - /health keeps the seed's keys (services.redis says no Redis is used),
 *   /livez and /readyz answer;
 * - /metrics on the operations port counts what happened, by route template,
 *   and no label value is an id (the cardinality check).
 */
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { offsetM } from '../../engine/index.js';
import { createLogger } from '../../adapters/observability/logger.js';
import { parseServerConfig } from '../../adapters/server/server-config.js';
import { startServer } from '../../adapters/server/server.js';
import { Frame, RIDER_PATH, RiderClient, RiderStatusCode } from '../../protocol/index.js';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';
import { openStream } from '../support/stream-client.js';
import { nodeSocket } from '../support/ws-harness.js';
import { useAuthEmulator } from '../support/firebase-emulator.js';

const lines: Record<string, any>[] = [];
let raw = '';
const destination = new Writable({
  write(chunk: Buffer, _enc, cb) {
    raw += chunk.toString();
    for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, any>);
    cb();
  },
});
const logger = createLogger({ level: 'info', destination, base: { service: 'server' } });

const dataDir = await mkdtemp(join(tmpdir(), 'obs-data-'));
const env = { ENCRYPTION_KEY: '', DATA_DIR: dataDir, HEALTH_CHECK_INTERVAL: '200ms' };
const { url, auth, server } = await startTestServer(t, { embedded: true, env, logger });
const metricsUrl = `http://127.0.0.1:${server.metricsPort}`;
const cast = await makeCast(auth);

const scrape = async (): Promise<string> => {
  const res = await fetch(`${metricsUrl}/metrics`);
  if (res.status !== 200) throw new Error(`metrics: ${res.status}`);
  return res.text();
};
/** Every sample: name, labels, value. */
const samples = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(l);
      if (!m) throw new Error(`unparsable sample: ${l}`);
      const labels: Record<string, string> = {};
      for (const p of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[p[1]!] = p[2]!;
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
const value = (text: string, name: string, labels: Record<string, string> = {}): number =>
  samples(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);

t.test(
  'no ENCRYPTION_KEY in development: generated into the data directory, logged, bank details accepted',
  async (t) => {
    const keyFile = join(dataDir, 'encryption.key');
    t.match(await readFile(keyFile, 'utf8'), /^[0-9a-f]{64}\n$/);
    t.equal((await stat(keyFile)).mode & 0o777, 0o600, 'readable by the server user only');
    t.ok(
      lines.some((l) => l.level === 'warn' && String(l.msg).includes(`generated a development key into ${keyFile}`)),
      'the log says where the key is',
    );
    const reg = await api(url, 'POST', '/delivery-persons', { token: cast.rider.token, body: seed.deliveryPerson });
    t.equal(reg.status, 201, JSON.stringify(reg.body));
  },
);

t.test('/health keeps the seed shape; /livez and /readyz', async (t) => {
  const h = await api(url, 'GET', '/health');
  t.equal(h.status, 200, JSON.stringify(h.body));
  t.same(Object.keys(h.body.services), ['database', 'redis', 'firebase']);
  t.match(h.body, {
    status: 'healthy',
    version: String,
    timestamp: /Z$/,
    services: { database: 'healthy', redis: 'not_used', firebase: 'healthy' },
  });
  t.match(h.body.checks.redis, /not used: embedded mode/, 'says what is (not) checked');
  t.match(h.body.checks.database, /PGlite/);
  const live = await api(url, 'GET', '/livez');
  t.same([live.status, live.body], [200, { status: 'alive' }]);
  let ready = await api(url, 'GET', '/readyz');
  for (let i = 0; i < 50 && ready.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ready = await api(url, 'GET', '/readyz');
  }
  t.same([ready.status, ready.body], [200, { status: 'ready', reasons: [] }]);
  const opsReady = await fetch(`${metricsUrl}/readyz`);
  t.equal(opsReady.status, 200, 'the operations port answers the probes too');
});

t.test('a delivery with a rider socket and a stream: request and socket lines, then the metrics', async (t) => {
  const shop = await openRestaurant(url, cast.restaurant);
  const rider = new RiderClient({
    url: `${url.replace('http', 'ws')}${RIDER_PATH}`,
    getToken: () => cast.rider.token,
    socket: nodeSocket,
    random: () => 0.5,
  });
  t.teardown(() => rider.stop());
  rider.start();
  await rider.waitFor((f) => f.type === Frame.WELCOME);
  const at = offsetM(seed.restaurant.address.latitude, seed.restaurant.address.longitude, 90, 400);
  rider.sendPosition({ ...at, accuracy: 5, heading: NaN, speed: 4, at: Date.now() });
  rider.setStatus(RiderStatusCode.ONLINE);
  await rider.waitFor((f) => f.type === Frame.ACK && f.lastSeq >= 2);

  const placed = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: {
      ...seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
      payment_method: { type: 'CASH' },
    },
  });
  t.equal(placed.status, 201, JSON.stringify(placed.body));
  const orderId = placed.body.id as string;
  const stream = openStream(`${url.replace('http', 'ws')}/ws`);
  await stream.opened;
  await stream.send({ type: 'authenticate', token: cast.customer.token });
  await stream.next((m) => m.type === 'authenticated');
  const offer = rider.waitFor((f) => f.type === Frame.OFFER && f.orderId === orderId);
  const confirmed = await api(url, 'PUT', `/orders/${orderId}/status`, {
    token: cast.restaurant.token,
    body: { status: 'confirmed', estimated_preparation_time: 0 },
  });
  t.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  await offer;
  rider.accept(orderId);
  await rider.waitFor((f) => f.type === Frame.ASSIGNED && f.orderId === orderId);
  await api(url, 'GET', '/no-such-route');
  stream.ws.close(1000);
  await stream.closed;

  // Logs: one line per request with its ids, one per socket event with the connection's.
  const status = lines.find((l) => l.msg === 'request' && l.path === `/orders/${orderId}/status`);
  t.match(status, { request_id: String, order_id: orderId, route: String, status: 200, ms: Number });
  t.ok(
    lines.some((l) => l.msg === 'request' && l.path === '/no-such-route' && l.status === 404),
    'a 404 is logged too',
  );
  const riderOpen = lines.find((l) => l.msg === 'socket opened' && l.route === RIDER_PATH);
  t.match(riderOpen, { connection_id: /^r\d+$/, rider_id: cast.rider.riderId });
  const streamLines = lines.filter((l) => l.route === '/ws' && String(l.msg).startsWith('socket'));
  t.same(
    streamLines.map((l) => l.msg),
    ['socket opened', 'socket authenticated', 'socket closed'],
  );
  t.equal(new Set(streamLines.map((l) => l.connection_id)).size, 1, 'one connection id throughout');
  t.equal(streamLines[2]!.code, 1000);
  for (const secret of ['1234567890', 'HDFC0001234', 'MH12AB1234', cast.customer.token])
    t.notOk(raw.includes(secret), `no log line holds ${secret.slice(0, 12)}`);

  // Metrics.
  let text = await scrape();
  for (let i = 0; i < 50 && value(text, 'dispatch_write_behind_events_written_total') === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    text = await scrape();
  }
  const route = { route: '/orders/{order_id}/status', method: 'PUT', status: '200' };
  t.equal(value(text, 'http_requests_total', route), 1, 'requests by route template and status');
  t.equal(value(text, 'http_request_duration_seconds_count', route), 1);
  t.ok(value(text, 'http_requests_total', { route: 'unmatched', status: '404' }) >= 1);
  t.equal(value(text, 'dispatch_offers_total', { outcome: 'sent' }), 1);
  t.equal(value(text, 'dispatch_offers_total', { outcome: 'accepted' }), 1);
  t.equal(value(text, 'dispatch_match_latency_seconds_count'), 1);
  t.equal(value(text, 'dispatch_orders_placed_total'), 1);
  t.equal(value(text, 'dispatch_orders', { state: 'assigned' }), 1);
  t.equal(value(text, 'dispatch_actors', { kind: 'rider', state: 'online.to_pickup' }), 1);
  t.ok(value(text, 'dispatch_deadlines_armed') >= 1);
  t.equal(value(text, 'dispatch_ws_connections', { route: RIDER_PATH }), 1);
  t.equal(value(text, 'dispatch_ws_connections', { route: '/ws' }), 0);
  t.equal(value(text, 'dispatch_ws_opened_total', { route: '/ws' }), 1);
  t.equal(value(text, 'dispatch_ws_closed_total', { route: '/ws', code: '1000' }), 1);
  t.ok(value(text, 'dispatch_ws_frames_total', { route: RIDER_PATH, outcome: 'position' }) >= 1);
  t.ok(value(text, 'dispatch_positions_ingested_total', { outcome: 'applied' }) >= 1);
  t.ok(value(text, 'dispatch_write_behind_events_written_total') > 0);
  t.ok(value(text, 'dispatch_write_behind_lag_seconds_count') > 0);
  t.equal(value(text, 'dispatch_write_behind_queue_depth') >= 0, true);
  t.equal(value(text, 'dispatch_dependency_up', { dependency: 'database' }), 1);
  t.equal(value(text, 'dispatch_ready'), 1);
  t.equal(value(text, 'dispatch_recovering'), 0);
  // Each role's token is verified once, then answered from the identity cache.
  t.ok(value(text, 'dispatch_identity_cache_total', { outcome: 'hit' }) >= 1, 'a token used again is a cache hit');
  t.ok(value(text, 'dispatch_identity_cache_total', { outcome: 'miss' }) >= 3, 'one miss per role at least');
  t.ok(value(text, 'dispatch_identity_cache_entries') >= 3);
  t.match(text, /\nnodejs_eventloop_lag_p99_seconds\{service="server"\} \d/, 'event-loop lag');
  t.match(text, /# TYPE nodejs_gc_duration_seconds histogram/, 'GC');

  // Cardinality: no label value is an id, and no label has many values.
  const ids = [orderId, shop.id, cast.rider.riderId, cast.customer.uid, cast.restaurant.uid, cast.rider.uid];
  const values = new Map<string, Set<string>>();
  for (const s of samples(text))
    for (const [k, v] of Object.entries(s.labels)) {
      if (!values.has(k)) values.set(k, new Set());
      values.get(k)!.add(v);
    }
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
  for (const [label, vs] of values) {
    for (const v of vs) {
      t.notOk(uuid.test(v), `${label}="${v}" is no UUID`);
      t.notOk(
        ids.some((id) => v.includes(id)),
        `${label}="${v}" holds no id`,
      );
    }
    t.ok(vs.size <= 40, `${label} has ${vs.size} values`);
  }
  t.ok(values.get('route')!.has('/orders/{order_id}/status'));
});

t.test('the next start keeps the generated key', async (t) => {
  const keyFile = join(dataDir, 'encryption.key');
  const before = await readFile(keyFile, 'utf8');
  await server.close();
  t.same(server.health.readiness().reasons.slice(0, 1), ['shutting down'], 'not ready once shutting down');
  const emu = await useAuthEmulator(t);
  const again = await startServer(
    parseServerConfig({
      NODE_ENV: 'test',
      SERVER_PORT: '0',
      METRICS_PORT: '0',
      FIREBASE_AUTH_EMULATOR_HOST: emu.host,
      FIREBASE_PROJECT_ID: emu.projectId,
      ...env,
    }),
    logger,
  );
  t.teardown(() => again.close());
  t.equal(await readFile(keyFile, 'utf8'), before);
  t.ok(lines.some((l) => String(l.msg).includes(`using the development key kept in ${keyFile}`)));
});
