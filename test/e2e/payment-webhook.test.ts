/**
 * The payment gateway's webhook: signed on the raw body, recorded in the inbox
 * in the same transaction as the payment's change, applied once whatever is
 * redelivered, and refunded when the order can no longer use the money.
 */
import t from 'tap';
import { signWebhook } from '../../adapters/http/handlers/payment-webhook.js';
import { api, makeCast, openRestaurant, seed, startTestServer } from '../support/rest-server.js';

const SECRET = 'test-webhook-secret-0123456789';
const { url, auth } = await startTestServer(t, { label: 'webhook', env: { PAYMENT_WEBHOOK_SECRET: SECRET } });
const cast = await makeCast(auth);
const shop = await openRestaurant(url, cast.restaurant);

let n = 0;
const event = (type: string, transactionId: string, amountPaise: number) => ({
  entity: 'event',
  event: type,
  contains: ['payment'],
  created_at: 1700000000,
  payload: {
    payment: {
      entity: {
        id: `pay_${++n}`,
        amount: amountPaise,
        currency: 'INR',
        status: type === 'payment.captured' ? 'captured' : 'failed',
        method: 'upi',
        vpa: 'user@paytm',
        notes: { transaction_id: transactionId },
      },
    },
  },
});
const deliver = (body: unknown, eventId: string, o: { secret?: string; raw?: string } = {}) => {
  const raw = o.raw ?? JSON.stringify(body);
  return api(url, 'POST', '/payments/webhook', {
    raw,
    headers: {
      'content-type': 'application/json',
      'x-razorpay-signature': signWebhook(o.secret ?? SECRET, raw),
      'x-razorpay-event-id': eventId,
    },
  });
};

/** A UPI order with its payment request. */
async function upiOrder(): Promise<{ order: string; payment: string; txn: string }> {
  const o = await api(url, 'POST', '/orders', {
    token: cast.customer.token,
    body: seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
  });
  const p = await api(url, 'POST', '/payments', {
    token: cast.customer.token,
    body: { order_id: o.body.id, payment_method: { type: 'UPI', vpa: 'user@paytm' }, amount: 280 },
  });
  if (p.status !== 201) throw new Error(JSON.stringify(p.body));
  return { order: o.body.id, payment: p.body.id, txn: p.body.transaction_id };
}

t.test('captured: the payment completes and the order goes to the restaurant, once', async (t) => {
  const { order, payment, txn } = await upiOrder();
  const ev = event('payment.captured', txn, 28_000);
  const r = await deliver(ev, 'evt_capture_1');
  t.equal(r.status, 200, JSON.stringify(r.body));
  t.same(r.body, { status: 'processed', result: 'payment captured; order confirmed' });
  const p = await api(url, 'GET', `/payments/${payment}`, { token: cast.customer.token });
  t.equal(p.body.status, 'completed');
  const o = await api(url, 'GET', `/orders/${order}`, { token: cast.customer.token });
  t.equal(o.body.payment_status, 'paid');
  t.equal(o.body.engine_state, 'awaiting_restaurant');

  const again = await deliver(ev, 'evt_capture_1');
  t.equal(again.status, 200);
  t.equal(again.body.status, 'duplicate', 'a redelivery changes nothing');
  const later = await deliver(event('payment.failed', txn, 28_000), 'evt_fail_after');
  t.equal(later.status, 200);
  const still = await api(url, 'GET', `/payments/${payment}`, { token: cast.customer.token });
  t.equal(still.body.status, 'completed', 'forward only: a late failure does not undo a capture');
  t.same(still.body.refunds, []);
});

t.test('forged or tampered webhooks are refused and change nothing', async (t) => {
  const { payment, txn } = await upiOrder();
  const ev = event('payment.captured', txn, 28_000);
  const forged = await deliver(ev, 'evt_forged', { secret: 'someone-elses-secret-123' });
  t.equal(forged.status, 401);
  t.equal(forged.body.code, 'WEBHOOK_SIGNATURE_INVALID');
  const raw = JSON.stringify(ev);
  const tampered = await api(url, 'POST', '/payments/webhook', {
    raw: raw.replace('28000', '1'),
    headers: {
      'content-type': 'application/json',
      'x-razorpay-signature': signWebhook(SECRET, raw),
      'x-razorpay-event-id': 'evt_tampered',
    },
  });
  t.equal(tampered.status, 401);
  const unsigned = await api(url, 'POST', '/payments/webhook', {
    raw,
    headers: { 'content-type': 'application/json', 'x-razorpay-event-id': 'evt_unsigned' },
  });
  t.equal(unsigned.status, 401);
  const junk = await deliver(undefined, 'evt_junk', { raw: '{"event": ' });
  t.equal(junk.status, 400);
  t.equal(junk.body.code, 'INVALID_JSON');
  const noId = await deliver(ev, '');
  t.equal(noId.status, 400);
  const p = await api(url, 'GET', `/payments/${payment}`, { token: cast.customer.token });
  t.equal(p.body.status, 'processing', 'still waiting');
});

t.test('failed: the order is cancelled', async (t) => {
  const { order, payment, txn } = await upiOrder();
  const r = await deliver(event('payment.failed', txn, 28_000), 'evt_failed_1');
  t.equal(r.status, 200, JSON.stringify(r.body));
  t.equal(r.body.result, 'payment failed; order cancelled');
  const o = await api(url, 'GET', `/orders/${order}`, { token: cast.customer.token });
  t.equal(o.body.status, 'cancelled');
  const p = await api(url, 'GET', `/payments/${payment}`, { token: cast.customer.token });
  t.equal(p.body.status, 'failed');
});

t.test('money captured for an order already cancelled is refunded, once', async (t) => {
  const { order, payment, txn } = await upiOrder();
  const c = await api(url, 'PUT', `/orders/${order}/status`, {
    token: cast.customer.token,
    body: { status: 'cancelled' },
  });
  t.equal(c.status, 200, JSON.stringify(c.body));
  const ev = event('payment.captured', txn, 28_000);
  const r = await deliver(ev, 'evt_late_capture');
  t.equal(r.status, 200, JSON.stringify(r.body));
  t.equal(r.body.result, 'payment captured; refund requested');
  const again = await deliver(ev, 'evt_late_capture');
  t.equal(again.body.result, 'payment captured; refund already requested');
  const p = await api(url, 'GET', `/payments/${payment}`, { token: cast.customer.token });
  t.equal(p.body.status, 'refund_pending', 'captured, and owed back');
  t.equal(p.body.refunds.length, 1, 'one refund whatever is redelivered');
  t.match(p.body.refunds[0], {
    status: 'requested',
    amount: 280,
    reason: 'order_cancelled',
    requested_at: String,
    accepted_at: null,
    settled_at: null,
  });
  const o = await api(url, 'GET', `/orders/${order}`, { token: cast.customer.token });
  t.equal(o.body.payment_status, 'refund_pending');
  t.match(o.body.refund, { status: 'requested', amount: 280 });
});

t.test('a capture for the wrong amount does not confirm the order and is refunded', async (t) => {
  const { order, payment, txn } = await upiOrder();
  const r = await deliver(event('payment.captured', txn, 100), 'evt_short');
  t.equal(r.body.result, 'payment captured; refund requested');
  const o = await api(url, 'GET', `/orders/${order}`, { token: cast.customer.token });
  t.equal(o.body.payment_status, 'refund_pending', 'the order is not paid; the wrong amount is owed back');
  t.equal(o.body.engine_state, 'awaiting_payment');
  const p = await api(url, 'GET', `/payments/${payment}`, { token: cast.customer.token });
  t.match(p.body.refunds[0], { amount: 1, reason: 'amount_mismatch' });
});
