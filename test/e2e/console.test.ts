/**
 * The operators' live map in headless Chromium (Debian's
 * chromium-headless-shell, driven by playwright-core) against a real server
 * fed by the demo city (riders over the rider protocol, orders paid at the
 * sandbox gateway): an admin's token pasted into the page brings the city
 * up, its counters agree with the engine's own counts and, once the demo has
 * stopped, with the order rows in Postgres; riders move between two
 * screenshots; a customer's token is refused with a message saying why.
 * CONSOLE_SCREENSHOT=path keeps a screenshot of the running city there
 * (how docs/console.png is made).
 */
import { writeFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import t from 'tap';
import WebSocket from 'ws';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { DemoCity } from '../../scripts/demo/demo-city.js';
import { until } from '../contracts/job-queue.contract.js';
import { makeUser } from '../support/firebase-users.js';
import { quickDemo, startDemoWorld } from '../support/demo-world.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium-headless-shell';
// Accounts, a city, a browser and deliveries on a shared, loaded machine: more than the default two minutes.
t.setTimeout(240_000);

const w = await startDemoWorld(t);
const [admin, customer] = await Promise.all([
  makeUser(w.auth, { label: 'console-admin', claims: { role: 'admin' } }),
  makeUser(w.auth, { label: 'console-customer' }),
]);
const db = serverDatabase(w.databaseUrl!, { max: 1 });
t.teardown(() => db.close());

const city = new DemoCity({
  ...quickDemo,
  server: w.url,
  sandbox: w.sandbox.url,
  emulatorHost: w.emulatorHost,
  projectId: w.projectId,
  center: { lat: 12.9716, lng: 77.5946 },
  tickMs: 500,
  log: () => {},
});
t.teardown(() => city.stop());
await city.start();

const browser: Browser = await chromium.launch({ executablePath: CHROMIUM });
t.teardown(() => browser.close());

/** Every URL each page asked for. */
const requested = new WeakMap<Page, string[]>();

/** A fresh page (its own sessionStorage) with the console open and `token` pasted into it. */
async function openConsole(token: string): Promise<Page> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  const urls: string[] = [];
  requested.set(page, urls);
  page.on('request', (r) => urls.push(r.url()));
  await page.goto(`${w.url}/console`);
  await page.waitForSelector('#signin:not([hidden])');
  await page.fill('#token', token);
  await page.click('#signin button');
  return page;
}

const counter = async (page: Page, k: string) => Number(await page.textContent(`#c-${k}`));
/** In the page (a string: this project's TypeScript has no DOM types). */
const inPage = async <T>(page: Page, js: string): Promise<T> => page.evaluate<T>(js);
const seqOf = async (page: Page) => Number(await inPage(page, "document.body.dataset.seq || '0'"));
const storedToken = (page: Page) => inPage<string | null>(page, "sessionStorage.getItem('dispatch.console.token')");

t.test('the page and h3-js come from the server itself, nothing from the internet', async (t) => {
  const html = await fetch(`${w.url}/console`);
  t.equal(html.status, 200);
  t.match(html.headers.get('content-type'), /text\/html/);
  const text = await html.text();
  t.notMatch(text, /https?:\/\//, 'no external URL in the page');
  const js = await fetch(`${w.url}/console/h3.js`);
  t.equal(js.status, 200);
  t.match(await js.text(), /cellToBoundary/, "h3-js's browser build");
});

t.test('an admin sees the city: hexagons, riders, counters matching the engine', async (t) => {
  const page = await openConsole(admin.token);
  const requests = requested.get(page)!;
  await until(async () => (await seqOf(page)) >= 3, 20_000);
  t.match(await page.textContent('#status'), /watching as .* \(admin\)/);
  t.equal(await storedToken(page), admin.token, 'the token is kept in sessionStorage');
  const snap = await inPage<any>(page, 'window.consoleState.snapshot');
  t.ok(snap.cells.length > 0, 'hexagons to draw');
  t.equal(snap.riders.length, quickDemo.riders, 'every demo rider is a dot');

  // The engine's own counts, read while the page shows the same moment: a snapshot a second apart may
  // differ, so poll until page and engine agree (counters that were wrong would never agree).
  let agreed = false;
  let last = '';
  for (let i = 0; i < 60 && !agreed; i++) {
    const s = w.server.engine.stats();
    const shown = {
      ridersOnline: await counter(page, 'ridersOnline'),
      ridersIdle: await counter(page, 'ridersIdle'),
      ordersLive: await counter(page, 'ordersLive'),
    };
    const engine = { ridersOnline: s.ridersOnline, ridersIdle: s.ridersAvailable, ordersLive: s.ordersLive };
    last = `${JSON.stringify(shown)} vs ${JSON.stringify(engine)}`;
    agreed = JSON.stringify(shown) === JSON.stringify(engine) && shown.ordersLive > 0;
    if (!agreed) await new Promise((r) => setTimeout(r, 250));
  }
  t.ok(agreed, `page counters equal the engine's: ${last}`);
  const shown = await inPage<{ s: Record<string, number>; text: string }>(
    page,
    "({ s: window.consoleState.snapshot.counters, text: document.getElementById('c-ordersWaiting').textContent })",
  );
  t.equal(Number(shown.text), shown.s['ordersWaiting'], 'what is drawn is what arrived');
  t.equal(
    shown.s['ordersWaiting']! + shown.s['ordersEnRoute']!,
    shown.s['ordersLive'],
    'waiting and en route add up to live',
  );
  t.ok(requests.includes(`${w.url}/console/h3.js`), 'h3-js was loaded from the server');
  t.notOk(
    requests.some((u) => !u.startsWith(w.url)),
    `every request went to the server: ${requests.join(' ')}`,
  );
});

t.test('riders move between two screenshots', async (t) => {
  const page = await openConsole(admin.token);
  await until(async () => (await seqOf(page)) >= 2, 20_000);
  const positions = () =>
    inPage<Record<string, string>>(
      page,
      "Object.fromEntries(window.consoleState.snapshot.riders.map((r) => [r[0], r[1] + ',' + r[2]]))",
    );
  const shotA = await page.screenshot();
  const a = await positions();
  const seqA = await seqOf(page);
  await until(async () => (await seqOf(page)) >= seqA + 2, 10_000);
  const shotB = await page.screenshot();
  const b = await positions();
  t.ok(!shotA.equals(shotB), 'the two screenshots differ');
  const moved = Object.keys(b).filter((id) => a[id] !== undefined && a[id] !== b[id]);
  t.ok(moved.length > 0, `${moved.length} riders moved`);
  const path = process.env['CONSOLE_SCREENSHOT'];
  if (path) writeFileSync(path, shotB);
});

t.test('a non-admin is refused with a clear message, and sees no data', async (t) => {
  const page = await openConsole(customer.token);
  await page.waitForSelector('body[data-refused]', { timeout: 15_000 });
  t.equal(await inPage(page, 'document.body.dataset.refused'), 'AUTH_ROLE_FORBIDDEN');
  t.match(await page.textContent('#status'), /refused: the console is for admins; this token's role is customer/);
  t.equal(await seqOf(page), 0, 'no snapshot reached the page');
  t.equal(await storedToken(page), null, 'the refused token is forgotten');
  t.notOk(await page.isHidden('#signin'), 'asked for another token');
});

t.test(
  'the socket directly: refusals (no token, a bad token, a non-admin at upgrade), an admin at upgrade',
  async (t) => {
    const wsUrl = `${w.url.replace('http', 'ws')}/v1/console`;
    const talk = (token: string | null, q = '') =>
      new Promise<{ msgs: any[]; code: number }>((resolve, reject) => {
        const ws = new WebSocket(wsUrl + q);
        const msgs: any[] = [];
        ws.on('message', (m: Buffer) => msgs.push(JSON.parse(m.toString('utf8'))));
        ws.on('open', () => {
          if (token !== null) ws.send(JSON.stringify({ type: 'authenticate', token }));
        });
        ws.on('close', (code) => resolve({ msgs, code }));
        ws.on('unexpected-response', (_req, res) => resolve({ msgs: [], code: res.statusCode ?? 0 }));
        ws.on('error', reject);
      });
    const bad = await talk('not-a-token');
    t.equal(bad.code, 4001);
    t.match(bad.msgs[0], { type: 'error', data: { code: 'AUTH_TOKEN_INVALID' } });
    const empty = await talk('');
    t.match(empty.msgs[0], { type: 'error', data: { code: 'AUTH_TOKEN_MISSING' } });
    const rider = await talk(customer.token);
    t.equal(rider.code, 4003);
    t.match(rider.msgs, [{ type: 'error', data: { code: 'AUTH_ROLE_FORBIDDEN' } }]);
    const atUpgrade = await talk(null, `?token=${encodeURIComponent(customer.token)}`);
    t.equal(atUpgrade.code, 403, 'a non-admin token at upgrade gets no socket');

    // An admin's token at upgrade: admitted at once; a second authenticate is refused, the socket stays.
    const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(admin.token)}`, 'dispatch.console.v1');
    const msgs: any[] = [];
    ws.on('message', (m: Buffer) => msgs.push(JSON.parse(m.toString('utf8'))));
    t.teardown(() => ws.close());
    await until(() => msgs.some((m) => m.type === 'snapshot'), 10_000);
    t.match(msgs[0], { type: 'authenticated', data: { role: 'admin', interval_ms: 1000 } });
    t.equal(ws.protocol, 'dispatch.console.v1');
    ws.send(JSON.stringify({ type: 'authenticate', token: admin.token }));
    ws.send('not json');
    await until(() => msgs.filter((m) => m.type === 'error').length === 2, 10_000);
    t.match(
      msgs.filter((m) => m.type === 'error'),
      [{ data: { code: 'FRAME_INVALID', message: 'already authenticated' } }, { data: { code: 'FRAME_INVALID' } }],
    );
    const n = msgs.filter((m) => m.type === 'snapshot').length;
    await until(() => msgs.filter((m) => m.type === 'snapshot').length > n, 10_000);
    t.pass('snapshots keep coming');
  },
);

t.test('after the demo stops: the page agrees with the order rows in Postgres', async (t) => {
  const page = await openConsole(admin.token);
  await until(async () => (await seqOf(page)) >= 1, 20_000);
  const deliveredRows = async () =>
    Number(
      (await db.query<{ n: string }>(`SELECT count(*) AS n FROM orders WHERE seed_status = 'delivered'`)).rows[0]?.n,
    );
  await until(async () => (await deliveredRows()) > 0, 90_000);
  await city.stop();
  await until(
    async () => (await counter(page, 'ordersLive')) === 0 && (await counter(page, 'ridersOnline')) === 0,
    20_000,
  );
  const rows = await db.query<{ s: string; n: string }>(
    `SELECT seed_status AS s, count(*) AS n FROM orders GROUP BY seed_status`,
  );
  const inDb = Object.fromEntries(rows.rows.map((r) => [r.s, Number(r.n)]));
  t.ok((inDb['delivered'] ?? 0) > 0, 'some orders were delivered');
  await until(
    async () =>
      (await counter(page, 'delivered')) === (inDb['delivered'] ?? 0) &&
      (await counter(page, 'cancelled')) === (inDb['cancelled'] ?? 0),
    10_000,
  ).catch(() => undefined);
  t.equal(await counter(page, 'delivered'), inDb['delivered'] ?? 0, 'delivered: page = Postgres');
  t.equal(await counter(page, 'cancelled'), inDb['cancelled'] ?? 0, 'cancelled: page = Postgres');
  t.equal(await counter(page, 'ridersIdle'), 0);
});
