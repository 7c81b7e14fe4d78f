/**
 * `npm run money-load -- [--orders 1000] [--cancel 0.333] [--concurrency 16] [--seed 1] [--no-faults] [--json]`:
 * the money load run of issue 14. A real server (Postgres, BullMQ on Redis,
 * the Auth emulator) and the sandbox gateway with random faults (5xx answers,
 * timeouts, refunds done but unanswered, dropped and duplicated webhooks).
 * Every order is placed, paid through the gateway (the customer approves in
 * the sandbox), and a seeded third of them cancelled in one of four ways
 * (customer, restaurant rejects, admin, restaurant after confirming). Then it
 * waits for every refund to settle and prints the figures: refunds missing,
 * refunded twice, refunds of orders not cancelled, and whether the sandbox's
 * ledger and our settlement report balance to the paisa. Exit code 1 if any
 * of those is off.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { RazorpayGateway } from '../adapters/payments/razorpay-gateway.js';
import { settlementReport } from '../adapters/payments/settlement-report.js';
import { MoneyStore } from '../adapters/postgres/money-store.js';
import { serverDatabase } from '../adapters/postgres/server-database.js';
import { gatewayPaymentOf, startMoneyWorld } from '../test/support/money-world.js';
import { api, type ApiResponse, openRestaurant, seed } from '../test/support/rest-server.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number): number =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt;
const ORDERS = flag('--orders', 1000);
const CANCEL = flag('--cancel', 1 / 3);
const CONCURRENCY = flag('--concurrency', 16);
let seedState = flag('--seed', 1) >>> 0;
const FAULTS = !args.includes('--no-faults');
const JSON_OUT = args.includes('--json');
const say = (m: string) => {
  if (!JSON_OUT || process.stderr.isTTY) process.stderr.write(`${m}\n`);
};

/** mulberry32: the run's choices repeat with the seed (the faults and timings do not). */
const random = (): number => {
  seedState = (seedState + 0x6d2b79f5) >>> 0;
  let x = seedState;
  x = Math.imul(x ^ (x >>> 15), x | 1);
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
  return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
};

const closers: (() => unknown)[] = [];
const t0 = performance.now();
const w = await startMoneyWorld(
  { teardown: (fn) => closers.push(fn) },
  { REST_RATE_PER_S: '1000000', REST_RATE_BURST: '1000000' },
  { capacity: 1000 },
);
const { url, cast, sandbox } = w;
const db = serverDatabase(w.databaseUrl!, { max: 2 });
closers.push(() => db.close());

/** Two restaurants that can hold every order of the run at once. */
const second = await openRestaurant(url, cast.restaurant2, { capacity: 1000 });
const shops = [
  { id: w.shop.id, item: w.shop.items['Butter Chicken']!, owner: cast.restaurant },
  { id: second.id, item: second.items['Butter Chicken']!, owner: cast.restaurant2 },
];

/** The fields of the API's answers this run reads (orders and payments). */
interface Answer {
  readonly id: string;
  readonly status: string;
  readonly payment_status: string;
  readonly engine_state: string;
  readonly [field: string]: unknown;
}

/** A POST with an Idempotency-Key, retried while the server answers 503 (a dependency down). */
async function post(path: string, token: string, body: unknown, key: string): Promise<ApiResponse<Answer>> {
  for (let attempt = 0; ; attempt++) {
    const r = await api<Answer>(url, path === '/payments' || path === '/orders' ? 'POST' : 'PUT', path, {
      token,
      body,
      headers: { 'idempotency-key': key },
    });
    if (r.status !== 503 || attempt >= 20) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}
const getOrder = async (id: string) =>
  (await api<Answer>(url, 'GET', `/orders/${id}`, { token: cast.customer.token })).body;
async function until<T>(fn: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined || Date.now() > end) return v;
    await new Promise((res) => setTimeout(res, 100));
  }
}

if (FAULTS) {
  await fetch(`${sandbox.url}/sandbox/faults`, {
    method: 'POST',
    body: JSON.stringify({
      p5xx: 0.03,
      pTimeout: 0.003,
      pRefundTimeout: 0.1,
      pDropWebhook: 0.05,
      pDuplicateWebhook: 0.1,
    }),
  });
}

type Kind = 'customer' | 'restaurant' | 'admin' | 'restaurant_after_confirming';
const KINDS: Kind[] = ['customer', 'restaurant', 'admin', 'restaurant_after_confirming'];
interface Run {
  order: string;
  payment: string;
  gatewayPayment: string;
  cancel: Kind | null;
  error?: string;
}
const runs: Run[] = [];
const plan = Array.from({ length: ORDERS }, (_, i) => ({
  i,
  shop: shops[i % shops.length]!,
  cancel: random() < CANCEL ? KINDS[Math.floor(random() * KINDS.length)]! : null,
}));

async function one(p: (typeof plan)[number]): Promise<void> {
  const o = await post(
    '/orders',
    cast.customer.token,
    seed.order(p.shop.id, [{ menu_item_id: p.shop.item, quantity: 1 }]),
    `o-${p.i}-${randomUUID()}`,
  );
  if (o.status !== 201) {
    runs.push({
      order: '',
      payment: '',
      gatewayPayment: '',
      cancel: p.cancel,
      error: `order ${o.status} ${JSON.stringify(o.body)}`,
    });
    return;
  }
  const pay = await post(
    '/payments',
    cast.customer.token,
    { order_id: o.body.id, payment_method: { type: 'UPI', vpa: 'user@paytm' }, amount: 280 },
    `p-${o.body.id}`,
  );
  if (pay.status !== 201) {
    runs.push({
      order: o.body.id,
      payment: '',
      gatewayPayment: '',
      cancel: p.cancel,
      error: `payment ${pay.status} ${JSON.stringify(pay.body)}`,
    });
    return;
  }
  const g = gatewayPaymentOf(sandbox, pay.body.id)!;
  sandbox.ledger.capture(g.id);
  const run: Run = { order: o.body.id, payment: pay.body.id, gatewayPayment: g.id, cancel: p.cancel };
  runs.push(run);
  const paid = await until(
    async () => ((await getOrder(o.body.id)).payment_status === 'paid' ? true : undefined),
    60_000,
  );
  if (!paid) {
    run.error = 'never paid';
    return;
  }
  const owner = p.shop.owner.token;
  const status = (token: string, body: unknown) =>
    post(`/orders/${o.body.id}/status`, token, body, `s-${o.body.id}-${JSON.stringify(body)}`);
  if (p.cancel === null || p.cancel === 'restaurant_after_confirming')
    await status(owner, { status: 'confirmed', estimated_preparation_time: 20 });
  if (p.cancel === null) return;
  const by = p.cancel === 'customer' ? cast.customer.token : p.cancel === 'admin' ? cast.admin.token : owner;
  const c = await status(by, { status: 'cancelled' });
  if (c.status !== 200) run.error = `cancel ${c.status} ${JSON.stringify(c.body)}`;
}

let next = 0;
let done = 0;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < plan.length) {
      await one(plan[next++]!);
      if (++done % 100 === 0)
        say(`money-load: ${done}/${ORDERS} orders placed and paid (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  }),
);
const placedS = (performance.now() - t0) / 1000;
say('money-load: waiting for every refund to settle');
await fetch(`${sandbox.url}/sandbox/faults`, { method: 'POST', body: '{}' });

// The books settle when no refund is still owed or unsent, or after five minutes.
await until(async () => {
  const r = await db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM refunds WHERE status IN ('requested', 'pending')) + (SELECT count(*) FROM outbox WHERE sent_at IS NULL) AS n`,
  );
  return Number(r.rows[0]!.n) === 0 ? true : undefined;
}, 300_000);

const states = await Promise.all(runs.filter((r) => r.order).map(async (r) => ({ r, o: await getOrder(r.order) })));
const ledger = sandbox.ledger.totals();
let missing = 0;
let twice = 0;
let notCancelledRefunded = 0;
let shownRefunded = 0;
const cancelledBy: Record<string, number> = {};
for (const { r, o } of states) {
  const n = ledger.refundsByPayment[r.gatewayPayment] ?? 0;
  if (o.engine_state === 'cancelled') {
    cancelledBy[r.cancel ?? `system:${o.status}`] = (cancelledBy[r.cancel ?? `system:${o.status}`] ?? 0) + 1;
    if (n === 0) missing++;
    if (o.payment_status === 'refunded') shownRefunded++;
  } else if (n > 0) notCancelledRefunded++;
  if (n > 1) twice++;
}
const gateway = new RazorpayGateway({
  baseUrl: sandbox.url,
  keyId: 'rzp_test_sandbox',
  keySecret: 'sandbox-secret',
  merchantId: 'acc_test',
});
const now = Date.now();
const report = await settlementReport(
  new MoneyStore(db),
  gateway,
  new Date(now - 86_400_000),
  new Date(now + 86_400_000),
);
const cancelled = states.filter((s) => s.o.engine_state === 'cancelled').length;
const figures = {
  orders: ORDERS,
  orders_paid: states.filter((s) => s.o.payment_status !== 'pending').length,
  orders_cancelled: cancelled,
  cancelled_by: cancelledBy,
  errors: runs
    .filter((r) => r.error)
    .map((r) => r.error)
    .slice(0, 10),
  error_count: runs.filter((r) => r.error).length,
  refunds_at_gateway: Object.values(ledger.refundsByPayment).reduce((a, b) => a + b, 0),
  refunds_missing: missing,
  refunded_twice: twice,
  refunds_of_orders_not_cancelled: notCancelledRefunded,
  shown_refunded: shownRefunded,
  faults_injected: sandbox.injected,
  ledger_paise: {
    captured: ledger.captured,
    refunded: ledger.refunded,
    refund_pending: ledger.refundsPending,
    net: ledger.captured - ledger.refunded,
  },
  ours_paise: report.totals,
  balances:
    report.totals.captured_paise === ledger.captured &&
    report.totals.refunded_paise === ledger.refunded &&
    report.totals.net_paise === ledger.captured - ledger.refunded &&
    report.gateway?.matches === true,
  settlement_mismatches: report.gateway?.mismatches.length ?? null,
  place_and_pay_s: Number(placedS.toFixed(1)),
  wall_s: Number(((performance.now() - t0) / 1000).toFixed(1)),
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.versions.node}`,
};
for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
if (JSON_OUT) process.stdout.write(`${JSON.stringify(figures)}\n`);
else process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
const ok =
  missing === 0 && twice === 0 && notCancelledRefunded === 0 && figures.balances && shownRefunded === cancelled;
process.exit(ok ? 0 : 1);
