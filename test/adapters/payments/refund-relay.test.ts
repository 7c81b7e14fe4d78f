/**
 * The refund relay on real Postgres against the sandbox gateway over HTTP:
 * a transient failure leaves the row due again with its error and the same
 * key; a rejection flags the refund for an operator and is never sent again;
 * the customer is told once, when the gateway accepted.
 */
import t from 'tap';
import { RazorpayGateway } from '../../../adapters/payments/razorpay-gateway.js';
import { RefundRelay } from '../../../adapters/payments/refund-relay.js';
import { defaultResilience } from '../../../adapters/payments/resilient-call.js';
import { startSandbox } from '../../../adapters/payments/sandbox-server.js';
import { CatalogStore } from '../../../adapters/postgres/catalog-store.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { MoneyStore } from '../../../adapters/postgres/money-store.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import { throwawayDatabase } from '../../support/pg.js';

const db = serverDatabase(await throwawayDatabase(t, 'refund_relay'), { max: 3 });
t.teardown(() => db.close());
await migrate(db);
const sandbox = await startSandbox({
  webhookUrl: 'http://127.0.0.1:9/none',
  webhookSecret: 'relay-secret-0123456789',
  refundSettleMs: null,
});
t.teardown(() => sandbox.close());
const setFaults = async (f: Record<string, unknown>) =>
  (await fetch(`${sandbox.url}/sandbox/faults`, { method: 'POST', body: JSON.stringify(f) })).json();
const gateway = new RazorpayGateway(
  { baseUrl: sandbox.url, keyId: 'rzp_test_sandbox', keySecret: 'sandbox-secret', merchantId: 'acc_test' },
  { ...defaultResilience, attempts: 1, timeoutMs: 500, breakerThreshold: 1_000 },
);
const money = new MoneyStore(db);
const catalog = new CatalogStore(db);
const told: [string, string][] = [];
const logged: Record<string, unknown>[] = [];
const log = {
  info: () => {},
  warn: (o: Record<string, unknown>) => logged.push(o),
  error: (o: Record<string, unknown>) => logged.push(o),
};
const relay = new RefundRelay({
  store: money,
  gateway,
  notify: (o, m) => told.push([o, m]),
  log,
  retryBaseMs: 1,
  retryCapMs: 5,
});

let n = 0;
/** A payment captured at the sandbox and in our rows, with its refund asked for. */
async function refundAsked(gatewayRef?: string): Promise<{ payment: string; order: string; gatewayPayment: string }> {
  const order = `order-${++n}`;
  const go = sandbox.ledger.createOrder({ amount: 28_000, receipt: order, notes: {} });
  const { paymentId } = sandbox.ledger.createUpiIntent({ orderId: go.id, vpa: 'x@y', payee: 'p@q' });
  sandbox.ledger.capture(paymentId);
  const payment = `pay-${n}`;
  await db.query(
    `INSERT INTO payments (id, order_id, gateway, gateway_ref, amount_paise, status, transaction_id, expires_at, gateway_order_id)
     VALUES ($1, $2, 'razorpay', $3, 28000, 'captured', $4, now(), $5)`,
    [payment, order, gatewayRef ?? paymentId, `TXN${n}`, go.id],
  );
  await catalog.transaction('t', (tx) =>
    money.requestRefund(tx, { id: `rf-${n}`, paymentId: payment, amountPaise: 28_000, reason: 'order_cancelled' }),
  );
  return { payment, order, gatewayPayment: paymentId };
}
const outbox = async (payment: string) =>
  (
    await db.query<{ sent: boolean; attempts: number; last_error: string | null }>(
      'SELECT sent_at IS NOT NULL AS sent, attempts, last_error FROM outbox WHERE key = $1',
      [`refund-${payment}`],
    )
  ).rows[0]!;
const refund = async (payment: string) =>
  (
    await db.query<{ status: string; gateway_ref: string | null; failure: string | null }>(
      'SELECT status, gateway_ref, failure FROM refunds WHERE payment_id = $1',
      [payment],
    )
  ).rows[0]!;

t.test('a transient failure: retried under the same key until accepted; the customer told once', async (t) => {
  const r = await refundAsked();
  await setFaults({ fail5xx: 2 });
  t.same(await relay.runOnce(), { sent: 0, retried: 1, rejected: 0 });
  const first = await outbox(r.payment);
  t.match(first, { sent: false, attempts: 1, last_error: /500/ });
  t.same(told, [], 'nothing told before the gateway accepted');
  await new Promise((res) => setTimeout(res, 20));
  t.same(await relay.runOnce(), { sent: 0, retried: 1, rejected: 0 });
  await new Promise((res) => setTimeout(res, 20));
  t.same(await relay.runOnce(), { sent: 1, retried: 0, rejected: 0 });
  t.match(await outbox(r.payment), { sent: true, attempts: 3, last_error: null });
  t.match(await refund(r.payment), { status: 'pending', gateway_ref: /^rfnd_/ });
  t.same(told, [[r.order, 'Your refund of ₹280.00 is on its way']]);
  t.equal(sandbox.ledger.totals().refundsByPayment[r.gatewayPayment], 1);
  t.same(await relay.runOnce(), { sent: 0, retried: 0, rejected: 0 }, 'nothing left to send');
});

t.test('a rejection flags the refund for an operator and is never sent again', async (t) => {
  const r = await refundAsked('pay_not_at_the_gateway');
  t.same(await relay.runOnce(), { sent: 0, retried: 0, rejected: 1 });
  t.match(await refund(r.payment), { status: 'failed', failure: /no payment pay_not_at_the_gateway/ });
  t.match(await outbox(r.payment), { sent: true });
  t.ok(logged.some((o) => /flagged for an operator/.test(String(o['msg']))));
  t.same(await relay.runOnce(), { sent: 0, retried: 0, rejected: 0 });
});

t.test('the relay running by itself picks rows up as they come', async (t) => {
  const running = new RefundRelay({ store: money, gateway, notify: () => {}, log, pollMs: 20 }).start();
  t.teardown(() => running.stop());
  const r = await refundAsked();
  const end = Date.now() + 10_000;
  while (!(await outbox(r.payment)).sent && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
  t.match(await refund(r.payment), { status: 'pending' });
});
