/**
 * Money that moves, end to end: the real server on Postgres and Redis, the
 * sandbox gateway over HTTP. Payments go through the gateway and are
 * confirmed by its webhook; every cancellation after capture gets exactly one
 * refund at the gateway (counted in the sandbox's own ledger), shown as
 * refund_pending then refunded, with the customer told when the gateway
 * accepted it and when it completed; faults change none of that.
 */
import t from 'tap';
import { RazorpayGateway } from '../../adapters/payments/razorpay-gateway.js';
import { settlementReport } from '../../adapters/payments/settlement-report.js';
import { MoneyStore } from '../../adapters/postgres/money-store.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { api } from '../support/rest-server.js';
import { until } from '../contracts/job-queue.contract.js';
import { orderUntil, paidOrder, startMoneyWorld, unpaidOrder, watch } from '../support/money-world.js';

const w = await startMoneyWorld(t);
const { cast, sandbox, url } = w;
const setFaults = async (f: Record<string, unknown>) =>
  (await fetch(`${sandbox.url}/sandbox/faults`, { method: 'POST', body: JSON.stringify(f) })).json();
const refundsAt = (gatewayPayment: string) => sandbox.ledger.totals().refundsByPayment[gatewayPayment] ?? 0;
const db = serverDatabase(w.databaseUrl!, { max: 1 });
t.teardown(() => db.close());
/** Whether the relay has finished with the refund of our payment (its outbox row sent). */
const relayDone = async (payment: string) =>
  (
    await db.query<{ sent: boolean }>(`SELECT sent_at IS NOT NULL AS sent FROM outbox WHERE key = $1`, [
      `refund-${payment}`,
    ])
  ).rows[0]?.sent === true;
const cancel = async (order: string, token: string) => {
  const r = await api(url, 'PUT', `/orders/${order}/status`, { token, body: { status: 'cancelled' } });
  if (r.status !== 200) throw new Error(`cancel ${order}: ${r.status} ${JSON.stringify(r.body)}`);
  return r;
};

t.test(
  'POST /payments creates the gateway order and answers its UPI intent link; the webhook, not the app, confirms it',
  async (t) => {
    const u = await unpaidOrder(w);
    t.match(u.paymentUrl, /^upi:\/\/pay\?pa=sandbox%40razorpay/, "the gateway's link");
    const p = await api(url, 'GET', `/payments/${u.payment}`, { token: cast.customer.token });
    t.match(p.body, { status: 'processing', amount: 280, expires_at: String });
    sandbox.ledger.capture(u.gatewayPayment);
    const o = await orderUntil(w, u.order, (b) => b.payment_status === 'paid');
    t.equal(o.engine_state, 'awaiting_restaurant');
    t.equal((await api(url, 'GET', `/payments/${u.payment}`, { token: cast.customer.token })).body.status, 'completed');
  },
);

t.test(
  'a cancellation after capture: refund accepted (customer told), then processed (told again), once',
  async (t) => {
    sandbox.settings.refundSettleMs = null;
    t.teardown(() => {
      sandbox.settings.refundSettleMs = 50;
    });
    const paid = await paidOrder(w);
    const stream = await watch(w, paid.order);
    t.teardown(() => stream.close());
    t.equal((await cancel(paid.order, cast.customer.token)).status, 200);
    await until(
      () => stream.msgs.some((m) => m.type === 'notification' && /is on its way/.test(m.data.message)),
      20_000,
    );
    const pending = await orderUntil(
      w,
      paid.order,
      (b) => b.payment_status === 'refund_pending' && b.refund?.status === 'pending',
    );
    t.match(pending.refund, { amount: 280, reason: 'order_customer_request', accepted_at: String, settled_at: null });
    t.equal(refundsAt(paid.gatewayPayment), 1, 'the gateway holds the refund when the customer is told');
    t.notOk(
      stream.msgs.some((m) => m.type === 'notification' && /completed/.test(m.data.message)),
      'not yet told it completed',
    );
    const rf = [...sandbox.ledger.refunds.values()].find((r) => r.paymentId === paid.gatewayPayment)!;
    await fetch(`${sandbox.url}/sandbox/refunds/${rf.id}/process`, { method: 'POST' });
    const done = await orderUntil(w, paid.order, (b) => b.payment_status === 'refunded');
    t.match(done.refund, { status: 'processed', settled_at: String });
    await until(() =>
      stream.msgs.some((m) => m.type === 'notification' && /₹280\.00 has been completed/.test(m.data.message)),
    );
    const p = await api(url, 'GET', `/payments/${paid.payment}`, { token: cast.customer.token });
    t.match(p.body, { status: 'refunded', refunds: [{ status: 'processed', amount: 280 }] });
    t.equal(p.body.refunds.length, 1);
    t.equal(refundsAt(paid.gatewayPayment), 1);
  },
);

t.test(
  'refund.failed at the gateway: flagged for an operator, still owed to the customer, never told it completed',
  async (t) => {
    sandbox.settings.refundSettleMs = null;
    t.teardown(() => {
      sandbox.settings.refundSettleMs = 50;
    });
    const paid = await paidOrder(w);
    const stream = await watch(w, paid.order);
    t.teardown(() => stream.close());
    await cancel(paid.order, cast.customer.token);
    await orderUntil(w, paid.order, (b) => b.refund?.status === 'pending');
    const rf = [...sandbox.ledger.refunds.values()].find((r) => r.paymentId === paid.gatewayPayment)!;
    await fetch(`${sandbox.url}/sandbox/refunds/${rf.id}/fail`, { method: 'POST' });
    const o = await orderUntil(w, paid.order, (b) => b.refund?.status === 'failed');
    t.equal(o.payment_status, 'refund_pending', 'the customer is still owed the money');
    t.match(o.refund, { settled_at: String });
    const flagged = await db.query<{ failure: string }>('SELECT failure FROM refunds WHERE order_id = $1', [
      paid.order,
    ]);
    t.match(flagged.rows[0]?.failure, /refund\.failed/);
    t.notOk(stream.msgs.some((m) => m.type === 'notification' && /completed/.test(m.data.message)));
  },
);

t.test('every kind of cancellation after capture: exactly one refund each', async (t) => {
  const kinds: [string, (order: string) => Promise<unknown>][] = [
    ['customer', (o) => cancel(o, cast.customer.token)],
    ['restaurant rejects', (o) => cancel(o, cast.restaurant.token)],
    ['admin', (o) => cancel(o, cast.admin.token)],
    [
      'restaurant, after confirming',
      async (o) => {
        const c = await api(url, 'PUT', `/orders/${o}/status`, {
          token: cast.restaurant.token,
          body: { status: 'confirmed', estimated_preparation_time: 20 },
        });
        t.equal(c.status, 200, 'confirmed first');
        return cancel(o, cast.restaurant.token);
      },
    ],
  ];
  for (const [kind, act] of kinds) {
    const paid = await paidOrder(w);
    const r = (await act(paid.order)) as { status: number; body: unknown };
    t.equal(r.status, 200, `${kind}: cancelled`);
    await orderUntil(w, paid.order, (b) => b.payment_status === 'refunded');
    t.equal(refundsAt(paid.gatewayPayment), 1, `${kind}: one refund at the gateway`);
  }
});

t.test('the refund call times out though the gateway did it: retried under its key, refunded once', async (t) => {
  const paid = await paidOrder(w);
  await setFaults({ refundTimeout: 1 });
  await cancel(paid.order, cast.customer.token);
  await orderUntil(w, paid.order, (b) => b.payment_status === 'refunded');
  t.equal(sandbox.faults.refundTimeout, 0, 'the fault happened');
  // The webhook may end the refund first; the relay's retry must still find the first refund.
  await until(() => relayDone(paid.payment), 20_000);
  t.equal(refundsAt(paid.gatewayPayment), 1);
  await setFaults({});
});

t.test('the gateway answers 5xx three times, then succeeds: one refund', async (t) => {
  const paid = await paidOrder(w);
  await setFaults({ fail5xx: 3 });
  await cancel(paid.order, cast.customer.token);
  await orderUntil(w, paid.order, (b) => b.payment_status === 'refunded');
  t.equal(sandbox.faults.fail5xx, 0, 'three 5xx answers were given');
  t.equal(refundsAt(paid.gatewayPayment), 1);
  await setFaults({});
});

t.test('webhooks duplicated and out of order change nothing', async (t) => {
  await setFaults({ duplicateWebhooks: 10 });
  const paid = await paidOrder(w);
  await cancel(paid.order, cast.customer.token);
  await orderUntil(w, paid.order, (b) => b.payment_status === 'refunded');
  t.equal(refundsAt(paid.gatewayPayment), 1);
  await setFaults({});
});

t.test("out of order: the refund's end arrives before the capture it refunds", async (t) => {
  await setFaults({ holdWebhooks: true });
  const u = await unpaidOrder(w);
  sandbox.ledger.capture(u.gatewayPayment);
  // The capture webhook is held: reconciliation confirms the order from the status API.
  await orderUntil(w, u.order, (b) => b.payment_status === 'paid');
  await cancel(u.order, cast.customer.token);
  await until(() => relayDone(u.payment), 20_000);
  await until(() =>
    [...sandbox.ledger.refunds.values()].some((r) => r.paymentId === u.gatewayPayment && r.status === 'processed'),
  );
  const before = sandbox.delivered.length;
  const released = (await (await fetch(`${sandbox.url}/sandbox/webhooks/release`, { method: 'POST' })).json()) as {
    released: number;
  };
  t.equal(released.released, 2, "the capture and the refund's end, released newest first");
  await until(() => sandbox.delivered.length >= before + 2);
  t.same(
    sandbox.delivered
      .slice(before)
      .map((d) => d.event)
      .sort(),
    ['payment.captured', 'refund.processed'],
  );
  const o = await orderUntil(w, u.order, (b) => b.payment_status === 'refunded');
  t.equal(o.refund.status, 'processed');
  t.equal(refundsAt(u.gatewayPayment), 1, 'the late capture asked for no second refund');
  await setFaults({});
});

t.test('the capture webhook never arrives: reconciliation asks the gateway and confirms the order', async (t) => {
  const u = await unpaidOrder(w);
  await setFaults({ dropPayment: u.gatewayPayment });
  const delivered = sandbox.delivered.length;
  sandbox.ledger.capture(u.gatewayPayment);
  const o = await orderUntil(w, u.order, (b) => b.payment_status === 'paid');
  t.equal(o.engine_state, 'awaiting_restaurant');
  // The engine hears of the capture inside the transaction that records it: wait for the commit.
  const inbox = async () =>
    (
      await db.query<{ event_id: string }>('SELECT event_id FROM webhook_inbox WHERE event_id LIKE $1', [
        `recon-${u.gatewayPayment}-%`,
      ])
    ).rows;
  await until(async () => (await inbox()).length > 0);
  t.same(
    (await inbox()).map((r) => r.event_id),
    [`recon-${u.gatewayPayment}-payment.captured`],
    'settled by reconciliation',
  );
  t.equal(
    sandbox.delivered.slice(delivered).filter((d) => d.event === 'payment.captured').length,
    0,
    'no capture webhook came',
  );
  await setFaults({});
});

t.test('a payment past its deadline is given up by reconciliation; money that still comes is refunded', async (t) => {
  const u = await unpaidOrder(w);
  await db.query(`UPDATE payments SET expires_at = now() - interval '1 hour' WHERE id = $1`, [u.payment]);
  t.equal(
    (await api(url, 'GET', `/payments/${u.payment}`, { token: cast.customer.token })).body.status,
    'expired',
    'shown expired at once',
  );
  const stored = async () =>
    (await db.query<{ status: string }>('SELECT status FROM payments WHERE id = $1', [u.payment])).rows[0]?.status;
  await until(async () => (await stored()) === 'expired', 20_000);
  t.pass('reconciliation stopped asking about it');
  t.equal((await cancel(u.order, cast.customer.token)).status, 200);
  sandbox.ledger.capture(u.gatewayPayment);
  const o = await orderUntil(w, u.order, (b) => b.payment_status === 'refunded');
  t.match(o.refund, { status: 'processed', amount: 280 });
  t.equal(refundsAt(u.gatewayPayment), 1);
});

t.test('a refund webhook replayed days later, or forged, changes nothing', async (t) => {
  const paid = await paidOrder(w);
  await cancel(paid.order, cast.customer.token);
  await orderUntil(w, paid.order, (b) => b.payment_status === 'refunded');
  const ev = sandbox.delivered.find((d) => d.event === 'refund.processed');
  t.ok(ev, 'a refund.processed was delivered');
  const before = sandbox.delivered.length;
  await fetch(`${sandbox.url}/sandbox/webhooks/replay`, { method: 'POST', body: JSON.stringify({ event_id: ev!.id }) });
  await until(() => sandbox.delivered.length > before);
  const forged = await api(url, 'POST', '/payments/webhook', {
    raw: JSON.stringify({
      event: 'refund.failed',
      payload: {
        refund: {
          entity: { id: 'rfnd_x', payment_id: paid.gatewayPayment, amount: 28_000, status: 'failed', notes: {} },
        },
      },
    }),
    headers: {
      'content-type': 'application/json',
      'x-razorpay-signature': '00'.repeat(32),
      'x-razorpay-event-id': 'evt_forged_refund',
    },
  });
  t.equal(forged.status, 401);
  const o = await orderUntil(w, paid.order, (b) => b.payment_status === 'refunded');
  t.equal(o.refund.status, 'processed', 'still processed');
  t.equal(refundsAt(paid.gatewayPayment), 1);
});

t.test("the settlement report matches the gateway's ledger to the paisa", async (t) => {
  const paid = await paidOrder(w);
  await cancel(paid.order, cast.customer.token);
  await orderUntil(w, paid.order, (b) => b.payment_status === 'refunded');
  await paidOrder(w);
  // Every refund the relay sent is recorded before the books are compared.
  await until(
    async () =>
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL')).rows[0]!.n === 0,
    40_000,
  );
  const gateway = new RazorpayGateway({
    baseUrl: sandbox.url,
    keyId: 'rzp_test_sandbox',
    keySecret: 'sandbox-secret',
    merchantId: 'acc_test',
  });
  const now = Date.now();
  const r = await settlementReport(new MoneyStore(db), gateway, new Date(now - 86_400_000), new Date(now + 86_400_000));
  const ledger = sandbox.ledger.totals();
  t.equal(r.restaurants.length, 1);
  t.equal(r.restaurants[0]!.restaurant_id, w.shop.id);
  t.equal(r.totals.captured_paise, ledger.captured, "captured: ours = the gateway ledger's");
  t.equal(
    r.totals.refunded_paise + r.totals.refund_pending_paise,
    ledger.refunded + ledger.refundsPending,
    "refunded or being refunded: ours = the ledger's",
  );
  t.equal(r.totals.net_paise, r.totals.captured_paise - r.totals.refunded_paise);
  t.same(r.gateway?.mismatches, []);
  t.equal(r.gateway?.matches, true);
  t.ok(r.totals.refunded_paise > 0 && r.totals.net_paise > 0);
});
