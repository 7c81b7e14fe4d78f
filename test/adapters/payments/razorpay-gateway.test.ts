/**
 * The HTTP adapter's resilience against the sandbox gateway's injected
 * faults: 5xx answers retried, timeouts retried, a refund that succeeded but
 * whose answer was lost retried under the same key (one refund in the
 * sandbox's ledger), a circuit that fails fast while the gateway is down.
 */
import t from 'tap';
import { GatewayError } from '../../../engine/ports/payment-gateway.js';
import { RazorpayGateway } from '../../../adapters/payments/razorpay-gateway.js';
import { defaultResilience, type ResilienceOptions } from '../../../adapters/payments/resilient-call.js';
import { type Faults, startSandbox } from '../../../adapters/payments/sandbox-server.js';

const sandbox = await startSandbox({
  webhookUrl: 'http://127.0.0.1:9/none',
  webhookSecret: 'resilience-secret-0123456789',
});
t.teardown(() => sandbox.close());
const setFaults = async (f: Partial<Faults>) =>
  (await fetch(`${sandbox.url}/sandbox/faults`, { method: 'POST', body: JSON.stringify(f) })).json();
const config = { baseUrl: sandbox.url, keyId: 'rzp_test_sandbox', keySecret: 'sandbox-secret', merchantId: 'acc_test' };
const fast = (o: Partial<ResilienceOptions> = {}): ResilienceOptions => ({
  ...defaultResilience,
  timeoutMs: 300,
  backoffBaseMs: 5,
  backoffCapMs: 20,
  ...o,
});
const caught = async (p: Promise<unknown>): Promise<GatewayError> => {
  try {
    await p;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('resolved');
};

async function capturedPayment(g: RazorpayGateway, amount = 30_000): Promise<string> {
  const order = await g.createOrder({ amount, receipt: `r${Math.random()}`.slice(0, 20), notes: {} });
  const { paymentId } = await g.createUpiIntent({ orderId: order.id, vpa: 'user@paytm' });
  sandbox.ledger.capture(paymentId);
  return paymentId;
}

t.test('5xx three times, then success: one call, retried', async (t) => {
  const g = new RazorpayGateway(config, fast({ attempts: 4 }));
  const before = sandbox.ledger.orders.size;
  await setFaults({ fail5xx: 3 });
  const order = await g.createOrder({ amount: 10_000, receipt: 'r-5xx', notes: {} });
  t.equal(order.amount, 10_000);
  t.equal(sandbox.faults.fail5xx, 0, 'the three failures were consumed');
  t.equal(sandbox.ledger.orders.size, before + 1, 'one order at the gateway');
  await setFaults({ fail5xx: 3 });
  const e = await caught(
    new RazorpayGateway(config, fast({ attempts: 3 })).createOrder({ amount: 10_000, receipt: 'r-5xx-2', notes: {} }),
  );
  t.equal(e.kind, 'transient', 'three attempts all 5xx: transient, for the caller to retry later');
  await setFaults({});
});

t.test('a timeout is retried', async (t) => {
  const g = new RazorpayGateway(config, fast({ attempts: 2 }));
  await setFaults({ timeout: 1 });
  const order = await g.createOrder({ amount: 10_000, receipt: 'r-timeout', notes: {} });
  t.equal(order.status, 'created');
  await setFaults({ timeout: 1 });
  const e = await caught(new RazorpayGateway(config, fast({ attempts: 1 })).fetchOrder(order.id));
  t.equal(e.kind, 'transient');
  t.match(e.message, /no answer within 300 ms/);
});

t.test('a refund done at the gateway whose answer was lost: retried under its key, refunded once', async (t) => {
  const g = new RazorpayGateway(config, fast({ attempts: 1 }));
  const paymentId = await capturedPayment(g);
  await setFaults({ refundTimeout: 1 });
  const e = await caught(
    g.createRefund({ paymentId, amount: 30_000, idempotencyKey: `refund-${paymentId}`, notes: {} }),
  );
  t.equal(e.kind, 'transient', 'the caller cannot know it was done');
  const r = await g.createRefund({ paymentId, amount: 30_000, idempotencyKey: `refund-${paymentId}`, notes: {} });
  t.equal(sandbox.ledger.totals().refundsByPayment[paymentId], 1, 'one refund in the sandbox ledger');
  t.equal(r.paymentId, paymentId);

  const g3 = new RazorpayGateway(config, fast({ attempts: 3 }));
  const second = await capturedPayment(g3);
  await setFaults({ refundTimeout: 1 });
  const r2 = await g3.createRefund({
    paymentId: second,
    amount: 30_000,
    idempotencyKey: `refund-${second}`,
    notes: {},
  });
  t.equal(r2.paymentId, second, 'the retry inside one call gets the refund');
  t.equal(sandbox.ledger.totals().refundsByPayment[second], 1, 'still one refund');
});

t.test('the circuit opens after consecutive failures and fails fast, then lets one trial through', async (t) => {
  let now = 1_000;
  const g = new RazorpayGateway(
    config,
    fast({ attempts: 1, breakerThreshold: 2, breakerCooldownMs: 5_000, now: () => now }),
  );
  await setFaults({ fail5xx: 100 });
  await caught(g.fetchOrder('order_x'));
  await caught(g.fetchOrder('order_x'));
  t.equal(g.breaker.state, 'open');
  const left = sandbox.faults.fail5xx;
  const e = await caught(g.fetchOrder('order_x'));
  t.match(e.message, /circuit open/);
  t.equal(sandbox.faults.fail5xx, left, 'the open circuit did not call the gateway');
  await setFaults({});
  now += 5_001;
  t.equal(g.breaker.state, 'half-open');
  const order = await g.createOrder({ amount: 10_000, receipt: 'r-trial', notes: {} });
  t.ok(order.id, 'the trial call succeeds');
  t.equal(g.breaker.state, 'closed');
});

t.test('wrong credentials are rejected at once, not retried, and do not open the circuit', async (t) => {
  const g = new RazorpayGateway({ ...config, keySecret: 'wrong' }, fast({ attempts: 3, breakerThreshold: 1 }));
  const e = await caught(g.fetchOrder('order_x'));
  t.equal(e.kind, 'rejected');
  t.equal(e.status, 401);
  t.equal(g.breaker.state, 'closed');
});
