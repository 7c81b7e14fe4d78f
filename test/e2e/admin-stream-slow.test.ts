import { once } from 'node:events';
import t from 'tap';
import { offsetM, type CustomerId, type RestaurantId, type RiderId } from '../../engine/index.js';
import { adminClient } from '../support/admin-client.js';
import { makeCast, startTestServer } from '../support/rest-server.js';

/**
 * A watcher that cannot keep up must not slow the engine: two bursts of
 * 10,000 orders in one run, the first with no watcher, the second with a
 * StreamEvents reader that does not read. The engine's match latency (its own
 * stopwatch, from dispatchable to offer) is compared between the two, and the
 * slow reader's queue stays bounded: it skips ahead and is told how much it missed.
 */

const ORDERS = 10_000;
const BUFFER = 256;
const CENTRE = { lat: 19.076, lng: 72.8777 };

const micros: number[] = [];
const ts = await startTestServer(t, {
  label: 'adminslow',
  env: { ADMIN_STREAM_BUFFER: String(BUFFER) },
  hooks: {
    engine: {
      onMatch: (m) => micros.push(m.micros),
      // On a loaded machine a burst can outlast the offer timeout and the riders' position freshness:
      // expired offers would be offered again and counted, stale riders matched by no one.
      config: { offerTimeoutMs: 600_000, positionStaleMs: 3_600_000 },
    },
  },
});
const cast = await makeCast(ts.auth);
const admin = ts.server.admin!;
const engine = ts.server.engine;
const client = adminClient(admin.port);
t.teardown(() => client.close());

const restaurants: RestaurantId[] = [];
for (let i = 0; i < 20; i++) {
  const id = `slow-rest-${i}` as RestaurantId;
  const at = offsetM(CENTRE.lat, CENTRE.lng, i * 18, 1500 + (i % 5) * 400);
  engine.registerRestaurant({ restaurantId: id, location: at, prepMinutes: 10, capacity: 100_000 });
  restaurants.push(id);
}

/** Riders enough for every order of a burst, spread around the restaurants. */
function riders(prefix: string): void {
  for (let i = 0; i < ORDERS; i++) {
    const r = `${prefix}-${i}` as RiderId;
    engine.registerRider({ riderId: r });
    engine.riderOnline(r);
    const p = offsetM(CENTRE.lat, CENTRE.lng, (i * 37) % 360, 200 + ((i * 7919) % 3000));
    engine.updateRiderPosition(r, p.lat, p.lng, 5, NaN, 0, Date.now());
  }
}

/** 10,000 orders, 100 per turn of the event loop so the admin stream's I/O runs in between. */
async function burst(): Promise<{ ms: number; matched: number; p50: number; p99: number }> {
  const from = micros.length;
  const t0 = performance.now();
  for (let i = 0; i < ORDERS; i++) {
    const placed = engine.placeOrder({
      customerId: 'slow-customer' as CustomerId,
      restaurantId: restaurants[i % restaurants.length]!,
      drop: offsetM(CENTRE.lat, CENTRE.lng, (i * 13) % 360, 2500),
      paid: true,
    });
    if (!placed.ok) throw new Error(placed.detail);
    engine.restaurantAccept(placed.value, { prepMinutes: 0 });
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  const ms = performance.now() - t0;
  const mine = micros.slice(from).sort((a, b) => a - b);
  const q = (p: number) => mine[Math.min(mine.length - 1, Math.floor(p * mine.length))] ?? NaN;
  return { ms, matched: mine.length, p50: q(0.5), p99: q(0.99) };
}

t.setTimeout(400_000);

t.test('a slow watcher skips ahead and does not slow a burst of 10,000 orders', async (t) => {
  riders('calm');
  const calm = await burst();

  const call = client.stream({}, cast.admin.token);
  let received = 0;
  let skipped = 0;
  call.on('data', (m: { skipped: number }) => {
    received++;
    skipped += m.skipped;
  });
  call.on('error', () => {});
  await once(call, 'metadata');
  call.pause(); // reads nothing: HTTP/2 flow control fills, the server's writes wait for a drain that does not come
  t.equal(admin.streams(), 1);

  riders('busy');
  const busy = await burst();

  const line = (name: string, b: typeof calm) =>
    `${name}: ${b.matched} matched in ${b.ms.toFixed(0)} ms; match latency p50 ${b.p50.toFixed(1)} µs, p99 ${b.p99.toFixed(1)} µs`;
  t.comment(line('no watcher  ', calm));
  t.comment(line('slow watcher', busy));
  process.stdout.write(`# ${line('no watcher  ', calm)}\n# ${line('slow watcher', busy)}\n`);

  t.equal(calm.matched, ORDERS, 'every order of the first burst was offered');
  t.equal(busy.matched, ORDERS, 'and of the second');
  // The watcher costs the engine a filter test and an array write per event: the medians stay close.
  // Generous bounds, as the machine is shared; a watcher that blocked or serialised would blow far past them.
  t.ok(
    busy.p50 <= calm.p50 * 3 + 200,
    `p50 ${busy.p50.toFixed(1)} µs with the slow watcher vs ${calm.p50.toFixed(1)} µs`,
  );
  t.ok(busy.ms <= calm.ms * 3 + 2_000, `burst ${busy.ms.toFixed(0)} ms with vs ${calm.ms.toFixed(0)} ms without`);

  // Now read: the queue held at most BUFFER events, the rest were skipped and counted.
  call.resume();
  const events = busy.matched * 5; // at least placed, accepted, dispatchable, offered, rider_offered
  for (let i = 0; i < 200 && received + skipped < events; i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(skipped > 0, `${skipped} events skipped`);
  t.ok(received < events, `${received} events received of about ${events + 2 * ORDERS}`);
  t.ok(received + skipped >= events, 'every event is either received or counted as skipped');
  call.cancel();
  for (let i = 0; i < 50 && admin.streams() > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(admin.streams(), 0, 'the cancelled stream is gone');
});

t.test('a slow watcher that asked to be cut off is cut off with SLOW_CONSUMER', async (t) => {
  const call = client.stream({ on_slow: 'CUT_OFF' }, cast.admin.token);
  call.on('data', () => {});
  const failed = once(call, 'error');
  await once(call, 'metadata');
  call.pause();
  for (let i = 0; i < 2_000; i++) {
    const placed = engine.placeOrder({
      customerId: 'cut-customer' as CustomerId,
      restaurantId: restaurants[i % restaurants.length]!,
      drop: offsetM(CENTRE.lat, CENTRE.lng, 0, 2500),
      paid: true,
    });
    if (!placed.ok) throw new Error(placed.detail);
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
  call.resume();
  const [err] = (await failed) as [{ code: number; details: string }];
  t.match(err.details, /^SLOW_CONSUMER: /);
  for (let i = 0; i < 50 && admin.streams() > 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(admin.streams(), 0);
});
