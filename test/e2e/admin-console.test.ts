import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { offsetM, type CustomerId, type RestaurantId, type RiderId } from '../../engine/index.js';
import { makeCast, startTestServer } from '../support/rest-server.js';

/** `npm run admin`: the console's output, as a person and a script see it, against a running server. */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CENTRE = { lat: 19.076, lng: 72.8777 };
const run = promisify(execFile);

const ts = await startTestServer(t, { label: 'admincli' });
const cast = await makeCast(ts.auth);
const engine = ts.server.engine;
const port = ts.server.admin!.port;

const restaurantId = 'cli-rest' as RestaurantId;
engine.registerRestaurant({ restaurantId, location: CENTRE, prepMinutes: 10, capacity: 50 });
for (const [id, m] of [
  ['cli-a', 200],
  ['cli-b', 600],
] as const) {
  engine.registerRider({ riderId: id as RiderId });
  engine.riderOnline(id as RiderId);
  const p = offsetM(CENTRE.lat, CENTRE.lng, 90, m);
  engine.updateRiderPosition(id as RiderId, p.lat, p.lng, 5, NaN, 0, Date.now());
}
const placed = engine.placeOrder({
  customerId: 'cli-customer' as CustomerId,
  restaurantId,
  drop: offsetM(CENTRE.lat, CENTRE.lng, 0, 2000),
  paid: true,
});
if (!placed.ok) throw new Error(placed.detail);
engine.restaurantAccept(placed.value, { prepMinutes: 0 });
const orderId = placed.value;

const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env['PATH'] ?? '',
  HOME: process.env['HOME'] ?? '',
  ADMIN_GRPC_ADDR: `127.0.0.1:${port}`,
  ...extra,
});
async function admin(args: string[], extra: Record<string, string> = { ADMIN_TOKEN: cast.admin.token }) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', ...args], {
      cwd: ROOT,
      env: env(extra),
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

t.test('tables for people', async (t) => {
  const riders = await admin(['riders', '--state', 'online']);
  t.equal(riders.code, 0, riders.stderr);
  const lines = riders.stdout.trimEnd().split('\n');
  t.match(lines[0], /^ID\s+STATE\s+CONNECTED\s+AVAILABLE\s+ORDER\s+SHARD\s+SEEN$/);
  t.match(lines[1], /^cli-a\s+online\.offered\s+true\s+false\s+\S+\s+\w+\s+\d+s$/);
  t.match(lines[2], /^cli-b\s+online\.idle\s+true\s+true\s+-\s+/);

  const shards = await admin(['shards']);
  t.match(
    shards.stdout,
    /^SHARD\s+DRAINED\s+POLICY\s+RIDERS\s+AVAILABLE\s+LIVE\s+SEARCHING\s+OFFERED\s+ASSIGNED\s+PICKED_UP\n\w+\s+false\s+greedy\s+2\s+1\s+1\s+0\s+1\s+0\s+0\n$/,
  );

  const order = await admin(['order', orderId]);
  t.equal(order.code, 0, order.stderr);
  t.match(order.stdout, new RegExp(`^ID\\s+STATE.*\\n${orderId}\\s+dispatching\\.offered\\s+cli-rest\\s+cli-a`));
  t.match(order.stdout, /decision 1: best_score -> cli-a; ring \d+, 2 considered/);
  t.match(
    order.stdout,
    /RIDER_ID\s+DISTANCE_M\s+ETA_S\s+IDLE_BONUS_S\s+ACCEPTANCE_PENALTY_S\s+HEADING_PENALTY_S\s+SCORE\ncli-a\s+200\s/,
  );
});

t.test('--json for scripts, and actions', async (t) => {
  const config = await admin(['config', '--json']);
  t.equal(JSON.parse(config.stdout).max_ring, engine.config.maxRing);
  const set = await admin(['set-config', 'offer_timeout_ms=12000', '--json']);
  t.equal(set.code, 0, set.stderr);
  t.equal(JSON.parse(set.stdout).offer_timeout_ms, 12_000);
  t.equal(engine.config.offerTimeoutMs, 12_000);
  const assigned = await admin(['assign', orderId, 'cli-b', '--json']);
  t.match(JSON.parse(assigned.stdout), { id: orderId, state: 'assigned', rider_id: 'cli-b' });
  const refused = await admin(['assign', orderId, 'cli-a']);
  t.equal(refused.code, 3);
  t.match(refused.stderr, /^admin: ORDER_INVALID_TRANSITION: /);
  const shard = engine.shardOf('order', orderId)!;
  const batched = await admin(['policy', shard, 'batched']);
  t.equal(batched.code, 0, batched.stderr);
  t.match(batched.stdout, new RegExp(`\\n${shard}\\s+false\\s+batched\\s`), 'the shard now batches');
  t.equal(engine.shardStats().find((s) => s.shard === shard)?.policy, 'batched');
  t.equal((await admin(['policy', shard, 'default'])).code, 0);
  t.equal(engine.shardStats().find((s) => s.shard === shard)?.policy, 'greedy', 'back to the engine default');
  const noPolicy = await admin(['policy', shard]);
  t.equal(noPolicy.code, 2, 'no policy: a usage error');
  t.match(noPolicy.stderr, /a shard and a policy/);
  const cancel = await admin(['cancel', orderId]);
  t.equal(cancel.code, 2, 'no reason: a usage error');
  t.match(cancel.stderr, /--reason/);
  const done = await admin(['cancel', orderId, '--reason', 'console test']);
  t.match(done.stdout, new RegExp(`${orderId}\\s+cancelled`));
});

t.test('the token: from the environment or a file, never the command line; others refused', async (t) => {
  const file = join(tmpdir(), `admin-token-${process.pid}`);
  writeFileSync(file, `${cast.admin.token}\n`, { mode: 0o600 });
  const viaFile = await admin(['shards', '--json'], { ADMIN_TOKEN_FILE: file });
  t.equal(viaFile.code, 0, viaFile.stderr);
  t.ok(Array.isArray(JSON.parse(viaFile.stdout).shards));
  const flag = await admin(['shards', '--token', cast.admin.token], {});
  t.equal(flag.code, 2);
  t.match(flag.stderr, /--token is refused/);
  const none = await admin(['shards'], {});
  t.equal(none.code, 2);
  t.match(none.stderr, /no admin token/);
  for (const help of [['--help'], ['-h'], ['help'], ['orders', '--help']]) {
    const out = await admin(help, {});
    t.equal(out.code, 0, `${help.join(' ')}: exit 0`);
    t.match(out.stdout, /^usage: npm run admin -- <command>/, `${help.join(' ')}: the usage, no token needed`);
  }
  const rider = await admin(['shards'], { ADMIN_TOKEN: cast.rider.token });
  t.equal(rider.code, 3);
  t.match(rider.stderr, /AUTH_ROLE_FORBIDDEN/);
});

t.test('watch follows the event stream', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/admin.ts', 'watch', '--aggregate', 'restaurant'], {
    cwd: ROOT,
    env: env({ ADMIN_TOKEN: cast.admin.token }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => child.kill('SIGKILL'));
  for (let i = 0; i < 200 && !out.includes('SHARD'); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(out, /^SHARD\s+DRAINED/m, 'shard statistics first, once the stream is open');
  engine.setRestaurantStatus(restaurantId, 'busy');
  for (let i = 0; i < 100 && !out.includes('restaurant_status_changed'); i++)
    await new Promise((r) => setTimeout(r, 50));
  t.match(out, new RegExp(`restaurant ${restaurantId} #\\d+\\s+restaurant_status_changed`));
  child.kill('SIGINT');
  t.equal(await exited, 0, 'SIGINT ends it cleanly');
});
