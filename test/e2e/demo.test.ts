/**
 * `./dev demo` as a newcomer runs it (scripts/demo.ts in its own process)
 * against a real server (Postgres, Redis, the Auth emulator) paying through
 * the sandbox gateway: it prints a token and a curl line per role that work,
 * orders go all the way to delivered through the REST API and the rider
 * protocol, Ctrl-C stops it cleanly (exit 0), and it leaves nothing behind:
 * no live order, no rider online, none of its accounts on the emulator.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { until } from '../contracts/job-queue.contract.js';
import { makeUser } from '../support/firebase-users.js';
import { api } from '../support/rest-server.js';
import { quickDemo, startDemoWorld } from '../support/demo-world.js';

const run = promisify(execFile);
// Accounts, a city and deliveries on a shared, loaded machine: more than the default two minutes.
t.setTimeout(240_000);
const w = await startDemoWorld(t);
const admin = await makeUser(w.auth, { label: 'admin', claims: { role: 'admin' } });
const db = serverDatabase(w.databaseUrl!, { max: 1 });
t.teardown(() => db.close());

const flags = Object.entries({ ...quickDemo, server: w.url, sandbox: w.sandbox.url }).flatMap(([k, v]) => [
  `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
  String(v),
]);
const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...flags], {
  env: {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    FIREBASE_AUTH_EMULATOR_HOST: w.emulatorHost,
    FIREBASE_PROJECT_ID: w.projectId,
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let out = '';
let err = '';
child.stdout.on('data', (d: Buffer) => (out += d.toString()));
child.stderr.on('data', (d: Buffer) => (err += d.toString()));
const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? '')));
t.teardown(async () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
});

const delivered = async () =>
  Number(
    (await db.query<{ n: string }>(`SELECT count(*) AS n FROM orders WHERE seed_status = 'delivered'`)).rows[0]?.n,
  );

t.test('it starts and prints a working token and curl line for each role', async (t) => {
  await until(() => /tokens last an hour/.test(out), 90_000).catch(() => {
    throw new Error(`the demo did not start:\n${out}\n${err}`);
  });
  for (const role of ['admin', 'customer', 'restaurant', 'rider']) {
    const m = new RegExp(`^${role} \\(([^)]+)\\):\\n  TOKEN=(\\S+)\\n  (curl .*)$`, 'm').exec(out);
    t.ok(m, `${role}: a token and a curl line`);
    if (!m) continue;
    const { stdout } = await run('bash', ['-c', `TOKEN='${m[2]}'; ${m[3]} -w '\\n%{http_code}'`]);
    t.equal(stdout.trim().split('\n').pop(), '200', `${role}: the printed curl line answers 200`);
  }
  t.match(out, `live map: open ${w.url}/console`);
});

t.test('orders flow to delivered: paid at the sandbox, carried by riders over the rider protocol', async (t) => {
  await until(async () => (await delivered()) >= 3, 90_000).catch(() => {
    throw new Error(`fewer than 3 orders delivered:\n${err}`);
  });
  const paid = w.sandbox.ledger.totals();
  t.ok(paid.captured > 0, 'money was captured at the sandbox gateway');
  const list = await api(w.url, 'GET', '/orders?status=delivered&limit=5', { token: admin.token });
  t.equal(list.status, 200);
  t.ok(list.body.orders.length >= 3, 'the API lists them as delivered');
  t.match(list.body.orders[0], { payment_status: 'paid', delivery_person_id: String });
  t.ok(w.server.engine.stats().ridersOnline > 0, 'riders are online while it runs');
});

t.test('Ctrl-C stops it cleanly and it leaves nothing behind', async (t) => {
  const uids = [...out.matchAll(/^\w+ \(([^)]+)\):$/gm)].map((m) => m[1]!);
  t.equal(uids.length, 4);
  // Every account of this run has the run's email prefix; count them on the emulator before and after.
  const prefix = /^(demo-[0-9a-f]+-)/.exec((await w.auth.getUser(uids[0]!)).email ?? '')?.[1] ?? 'missing';
  const accounts = async () => {
    let n = 0;
    let page: string | undefined;
    do {
      const r = await w.auth.listUsers(1000, page);
      n += r.users.filter((u) => u.email?.startsWith(prefix)).length;
      page = r.pageToken;
    } while (page);
    return n;
  };
  const total = quickDemo.restaurants + quickDemo.riders + quickDemo.customers + 1;
  t.equal(await accounts(), total, `the demo's ${total} accounts while it runs`);
  child.kill('SIGINT');
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
  t.equal(code, 0, `exit 0 after SIGINT\n${err.slice(-2000)}`);
  t.match(err, /demo: stopped; placed \d+, delivered \d+/);
  await until(() => w.server.engine.stats().ordersLive === 0, 10_000);
  const s = w.server.engine.stats();
  t.equal(s.ordersLive, 0, 'no live order in the engine');
  t.equal(s.ridersOnline, 0, 'no rider online');
  await until(
    async () =>
      (await db.query(`SELECT 1 FROM orders WHERE seed_status NOT IN ('delivered', 'cancelled')`)).rows.length === 0,
    10_000,
  ).catch(() => undefined);
  const open = await db.query<{ status: string }>(
    `SELECT seed_status FROM orders WHERE seed_status NOT IN ('delivered', 'cancelled')`,
  );
  t.same(open.rows, [], 'every order row is delivered or cancelled');
  for (const uid of uids)
    await t.rejects(w.auth.getUser(uid), { code: 'auth/user-not-found' }, `account ${uid} deleted from the emulator`);
  t.equal(await accounts(), 0, 'none of its accounts is left on the emulator');
});
