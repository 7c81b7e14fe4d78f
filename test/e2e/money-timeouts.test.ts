/**
 * Cancellations the engine makes by itself after capture, end to end: the
 * restaurant never answers, and no rider is found. Each gets exactly one
 * refund at the sandbox gateway (its own ledger counts), and the order reads
 * `refunded`. The server runs with short engine timeouts so they fire here.
 */
import t from 'tap';
import { until } from '../contracts/job-queue.contract.js';
import { api } from '../support/rest-server.js';
import { orderUntil, paidOrder, startMoneyWorld } from '../support/money-world.js';

const w = await startMoneyWorld(t, {}, {}, false, {
  engine: { config: { restaurantAcceptTimeoutMs: 1_500, dispatchGiveUpMs: 1_500, dispatchRetryMs: 300 } },
});
const refundsAt = (gatewayPayment: string) => w.sandbox.ledger.totals().refundsByPayment[gatewayPayment] ?? 0;

/** Waits until the order is refunded, then a while longer, and answers the refunds the gateway made. */
const settled = async (order: string, gatewayPayment: string) => {
  await orderUntil(w, order, (b) => b.payment_status === 'refunded');
  // Long enough for a second relay pass or a reconciliation round to refund again, were it to.
  await new Promise((r) => setTimeout(r, 1_500));
  return refundsAt(gatewayPayment);
};

t.test('the restaurant never accepts a paid order: cancelled by its timeout, refunded once', async (t) => {
  const paid = await paidOrder(w);
  const o = await orderUntil(w, paid.order, (b) => b.engine_state === 'cancelled');
  t.equal(o.status, 'cancelled');
  t.equal(await settled(paid.order, paid.gatewayPayment), 1, 'one refund at the gateway');
});

t.test('no rider is found for a paid, accepted order: given up, refunded once', async (t) => {
  const paid = await paidOrder(w);
  const accepted = await api(w.url, 'PUT', `/orders/${paid.order}/status`, {
    token: w.cast.restaurant.token,
    body: { status: 'confirmed', estimated_preparation_time: 0 },
  });
  t.equal(accepted.status, 200, 'the restaurant accepts; dispatch starts at once and finds nobody');
  await until(async () => (await orderUntil(w, paid.order, () => true)).engine_state === 'cancelled', 20_000);
  t.equal(await settled(paid.order, paid.gatewayPayment), 1, 'one refund at the gateway');
});
