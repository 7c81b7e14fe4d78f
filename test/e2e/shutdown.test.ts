/**
 * Graceful shutdown of the real server process (`node --import tsx
 * scripts/server.ts`, what `npm start` and the image run) on Postgres and a
 * Redis of this test's own (AOF, noeviction):
 *
 * - SIGTERM: rider sockets and customer streams are closed with 4010, which
 *   the rider client takes as "reconnect"; new connections are refused; the
 *   process exits 0 within the grace period; what riders did before is
 *   written (a restart on the same storage recovers them);
 * - a shutdown that cannot finish (Redis stopped with SIGSTOP, so the
 *   write-behind cannot flush) ends at SHUTDOWN_GRACE_MS with exit 1 and a
 *   line saying so, instead of waiting for an orchestrator's SIGKILL;
 * - a malformed SHUTDOWN_GRACE_MS stops the start with the variable named;
 * - the worker process answers /livez and /readyz on its METRICS_PORT and
 *   exits 0 on SIGTERM.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { getAuth } from 'firebase-admin/auth';
import { parseGraceMs } from '../../adapters/server/shutdown.js';
import { CloseCode, Frame, RiderClient, RiderStatusCode, RIDER_PATH } from '../../protocol/index.js';
import { useAuthEmulator } from '../support/firebase-emulator.js';
import { makeUser } from '../support/firebase-users.js';
import { throwawayDatabase } from '../support/pg.js';
import { freePort, startRedis } from '../support/redis-server.js';
import { spawnServer } from '../support/server-process.js';
import { ofType, openStream } from '../support/stream-client.js';
import { nodeSocket } from '../support/ws-harness.js';

const emu = await useAuthEmulator(t);
process.env['FIREBASE_AUTH_EMULATOR_HOST'] = emu.host;
const app = initializeApp({ projectId: emu.projectId }, `shutdown-${randomUUID()}`);
t.teardown(() => deleteApp(app));
const auth = getAuth(app);

async function services(
  t: { teardown(fn: () => unknown): void },
  label: string,
): Promise<{ env: Record<string, string>; redis: { pid: number } }> {
  const redis = await startRedis(t, [
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--maxmemory-policy',
    'noeviction',
  ]);
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    SERVER_HOST: '127.0.0.1',
    SERVER_PORT: '0',
    DATABASE_URL: await throwawayDatabase(t, label),
    REDIS_URL: `redis://${redis.host}:${redis.port}`,
    QUEUE_PREFIX: `sd${process.pid}${randomBytes(3).toString('hex')}`,
    FIREBASE_AUTH_EMULATOR_HOST: emu.host,
    FIREBASE_PROJECT_ID: emu.projectId,
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  };
  return { env, redis: { pid: redis.process.pid! } };
}

async function onlineRider(url: string) {
  const riderId = randomUUID();
  const user = await makeUser(auth, { label: 'rider', claims: { role: 'rider', rider_id: riderId } });
  const closes: { code: number; again: boolean }[] = [];
  const client = new RiderClient({
    url: `${url.replace('http://', 'ws://')}${RIDER_PATH}`,
    getToken: () => user.token,
    socket: nodeSocket,
    // Long enough that no reconnect happens while the test looks at the close.
    backoff: { initialMs: 60_000, maxMs: 60_000 },
    random: () => 0.5,
    onClose: (code, _reason, again) => closes.push({ code, again }),
  });
  client.start();
  await client.waitFor((f) => f.type === Frame.WELCOME, 10_000);
  client.setStatus(RiderStatusCode.ONLINE);
  await client.waitFor((f) => f.type === Frame.ACK && f.lastSeq >= 1);
  return { client, closes, riderId };
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

t.test('SIGTERM: sockets told to reconnect (4010), listener closed, exit 0, rider state written', async (t) => {
  const { env } = await services(t, 'shutdown');
  const srv = await spawnServer(t, { ...env, SHUTDOWN_GRACE_MS: '15000' });
  const riders = [await onlineRider(srv.url), await onlineRider(srv.url)];
  const customer = await makeUser(auth, { label: 'customer' });
  const stream = openStream(`${srv.url.replace('http://', 'ws://')}/v1/stream`, { token: customer.token });
  await stream.next(ofType('authenticated'));

  const started = Date.now();
  const code = await srv.stop();
  const took = Date.now() - started;
  t.equal(code, 0, 'exit 0');
  t.ok(took < 15_000, `done in ${took} ms, inside the grace period`);
  t.match(srv.log(), /server: SIGTERM: shutting down \(grace period 15000 ms\)/);
  t.match(srv.log(), /server: shut down in \d+ ms/);
  for (const r of riders) {
    t.same(
      r.closes,
      [{ code: CloseCode.SHUTTING_DOWN, again: true }],
      'rider closed with 4010; the client will reconnect',
    );
    r.client.stop();
  }
  t.match(await stream.closed, { code: CloseCode.SHUTTING_DOWN }, 'the customer stream too');
  t.notOk(await canConnect(srv.port), 'nothing listens any more');

  // The same storage, a new process: both riders are there, online as they were told ACK.
  const again = await spawnServer(t, env);
  t.match(again.log(), /server: recovered \d+ restaurants, 2 riders, 0 orders/, 'both riders recovered');
  t.equal(await again.stop(), 0);
});

t.test('a shutdown that cannot finish ends at SHUTDOWN_GRACE_MS with exit 1', async (t) => {
  const { env, redis } = await services(t, 'shutdown_grace');
  const srv = await spawnServer(t, { ...env, SHUTDOWN_GRACE_MS: '1500' });
  const r = await onlineRider(srv.url);
  // Redis stops answering: the write-behind cannot flush what comes next.
  process.kill(redis.pid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(redis.pid, 'SIGCONT');
    } catch {
      /* already gone */
    }
  });
  r.client.setStatus(RiderStatusCode.BREAK);
  await new Promise((res) => setTimeout(res, 200));
  const started = Date.now();
  const code = await srv.stop();
  const took = Date.now() - started;
  t.equal(code, 1, 'exit 1: not everything was flushed');
  t.ok(took >= 1_400 && took < 6_000, `ended after ${took} ms (grace 1500 ms)`);
  t.match(srv.log(), /server: shutdown not finished within the grace period of 1500 ms: exiting/);
  r.client.stop();
});

t.test('a malformed SHUTDOWN_GRACE_MS refuses to start, naming it', async (t) => {
  for (const bad of ['soon', '10', '-1', '600001', '2.5'])
    t.throws(() => parseGraceMs({ SHUTDOWN_GRACE_MS: bad }), /SHUTDOWN_GRACE_MS must be an integer in 1000\.\.600000/);
  t.equal(parseGraceMs({}), 25_000, 'default 25 s');
  t.equal(parseGraceMs({ SHUTDOWN_GRACE_MS: '1000' }), 1_000);
  // And the process says so at start, with exit 2 like every configuration problem.
  const { env } = await services(t, 'shutdown_bad');
  await t.rejects(
    spawnServer(t, { ...env, SHUTDOWN_GRACE_MS: 'soon' }),
    /exited \(2\)[^]*SHUTDOWN_GRACE_MS must be an integer in 1000\.\.600000/,
  );
});

t.test('the worker: /livez and /readyz on its METRICS_PORT, exit 0 on SIGTERM', async (t) => {
  const { env } = await services(t, 'shutdown_worker');
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/worker.ts'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      ...env,
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  const deadline = Date.now() + 30_000;
  while (!log.includes('worker: writing behind')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the worker did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const [path, status] of [
    ['/livez', 'alive'],
    ['/readyz', 'ready'],
  ] as const) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    t.equal(res.status, 200, `${path} 200 while running`);
    t.match(await res.json(), { status });
  }
  t.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'exit 0');
  t.match(log, /worker: SIGTERM: shutting down \(grace period 25000 ms\)/);
  t.match(log, /worker: stopped after writing \d+ events/);
});
