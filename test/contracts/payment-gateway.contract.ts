import type { Test } from 'tap';
import { GatewayError, type PaymentGateway } from '../../engine/ports/payment-gateway.js';

/** A gateway under test, with the customer's side: approving a payment in the UPI app. */
export interface GatewayUnderTest {
  readonly gateway: PaymentGateway;
  capture(paymentId: string): Promise<void>;
}

/** Passes when `p` rejects with a GatewayError of kind `rejected`. */
export async function rejected(t: Test, p: Promise<unknown>, what: string): Promise<void> {
  try {
    await p;
    t.fail(`${what}: resolved`);
  } catch (err) {
    t.ok(err instanceof GatewayError && err.kind === 'rejected', `${what}: ${(err as Error).message}`);
  }
}

let seq = 0;
const receipt = () => `rcpt-${process.pid}-${++seq}`;

/**
 * The one suite every {@link PaymentGateway} passes: the HTTP adapter against
 * the sandbox server and the embedded in-memory gateway.
 */
export function paymentGatewayContract(t: Test, make: (t: Test) => Promise<GatewayUnderTest>): void {
  t.test('an order, its UPI intent payment, and reading both back', async (t) => {
    const { gateway } = await make(t);
    const order = await gateway.createOrder({
      amount: 45_000,
      receipt: 'r-order-1',
      notes: { transaction_id: 'TXN1' },
    });
    t.match(order, {
      amount: 45_000,
      currency: 'INR',
      receipt: 'r-order-1',
      status: 'created',
      notes: { transaction_id: 'TXN1' },
    });
    t.match(order.id, /^order_/);
    t.same(await gateway.fetchOrder(order.id), order);
    const intent = await gateway.createUpiIntent({ orderId: order.id, vpa: 'user@paytm' });
    t.match(intent.link, /^upi:\/\/pay\?/);
    t.match(intent.link, /am=450\.00/);
    const payments = await gateway.paymentsOfOrder(order.id);
    t.equal(payments.length, 1);
    t.match(payments[0], {
      id: intent.paymentId,
      orderId: order.id,
      amount: 45_000,
      status: 'created',
      amountRefunded: 0,
      notes: { transaction_id: 'TXN1' },
    });
  });

  t.test('a captured payment is refunded once per idempotency key, never beyond its amount', async (t) => {
    const g = await make(t);
    const order = await g.gateway.createOrder({ amount: 28_000, receipt: receipt(), notes: {} });
    const { paymentId } = await g.gateway.createUpiIntent({ orderId: order.id, vpa: 'user@paytm' });
    await rejected(
      t,
      g.gateway.createRefund({ paymentId, amount: 28_000, idempotencyKey: 'refund-not-yet-1', notes: {} }),
      'not captured yet',
    );
    await g.capture(paymentId);
    t.equal((await g.gateway.fetchPayment(paymentId)).status, 'captured');
    const r1 = await g.gateway.createRefund({
      paymentId,
      amount: 28_000,
      idempotencyKey: 'refund-key-0001',
      notes: { reason: 'no_rider' },
    });
    t.match(r1, { paymentId, amount: 28_000, notes: { reason: 'no_rider' } });
    t.match(r1.status, /^(pending|processed)$/);
    const again = await g.gateway.createRefund({
      paymentId,
      amount: 28_000,
      idempotencyKey: 'refund-key-0001',
      notes: { reason: 'no_rider' },
    });
    t.equal(again.id, r1.id, 'the same key answers the same refund');
    await rejected(
      t,
      g.gateway.createRefund({ paymentId, amount: 28_000, idempotencyKey: 'refund-key-0002', notes: {} }),
      'a second refund exceeds the payment',
    );
    await rejected(
      t,
      g.gateway.createRefund({ paymentId, amount: 100, idempotencyKey: 'refund-key-0001', notes: {} }),
      'a key reused with another body',
    );
    await rejected(
      t,
      g.gateway.createRefund({ paymentId, amount: 100, idempotencyKey: 'short', notes: {} }),
      'a key under 10 characters',
    );
    const p = await g.gateway.fetchPayment(paymentId);
    t.equal(p.amountRefunded, 28_000);
    t.equal(p.status, 'refunded');
    t.equal((await g.gateway.fetchRefund(paymentId, r1.id)).id, r1.id);
  });

  t.test('bad input is a rejection, not a crash', async (t) => {
    const { gateway } = await make(t);
    await rejected(t, gateway.fetchOrder('order_nope'), 'unknown order');
    await rejected(t, gateway.fetchPayment('pay_nope'), 'unknown payment');
    await rejected(t, gateway.fetchRefund('pay_nope', 'rfnd_nope'), 'unknown refund');
    await rejected(t, gateway.createOrder({ amount: 5, receipt: receipt(), notes: {} }), 'under one rupee');
    await rejected(t, gateway.createOrder({ amount: 1.5, receipt: receipt(), notes: {} }), 'fractional paise');
    await rejected(
      t,
      gateway.createUpiIntent({ orderId: 'order_nope', vpa: 'user@paytm' }),
      'intent on an unknown order',
    );
  });
}
