/**
 * The sandbox gateway's books: payment orders, payments and refunds with
 * Razorpay's rules (a refund needs a captured payment and may not exceed what
 * is left of it; an idempotency key answers its first refund again; a key
 * reused with another body is refused). Every state change is reported as
 * the webhook Razorpay would send. Shared by the in-memory gateway and the
 * sandbox HTTP server, so the two behave alike by construction; the ledger's
 * own counts are what tests check "exactly once" against.
 */
import { randomBytes } from 'node:crypto';
import {
  GatewayError,
  type GatewayOrder,
  type GatewayPayment,
  type GatewayRefund,
  type RefundRequest,
} from '../../engine/ports/payment-gateway.js';

export interface LedgerEvent {
  readonly id: string;
  readonly event: 'payment.captured' | 'payment.failed' | 'refund.processed' | 'refund.failed';
  readonly payment: GatewayPayment;
  readonly refund?: GatewayRefund;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const newId = (prefix: string): string =>
  `${prefix}_${randomBytes(10).toString('base64url').replace(/[-_]/g, 'x').slice(0, 14)}`;
const refused = (why: string) => new GatewayError('rejected', why, 400);

export class SandboxLedger {
  readonly orders = new Map<string, Mutable<GatewayOrder>>();
  readonly payments = new Map<string, Mutable<GatewayPayment>>();
  readonly refunds = new Map<string, Mutable<GatewayRefund>>();
  /** Idempotency key → the refund it made and the body it was made with. */
  readonly #keys = new Map<string, { refundId: string; body: string }>();
  readonly #listeners: ((e: LedgerEvent) => void)[] = [];

  /** Called with every event a webhook would carry. */
  onEvent(fn: (e: LedgerEvent) => void): void {
    this.#listeners.push(fn);
  }

  createOrder(o: { amount: number; receipt: string; notes: Record<string, string> }): GatewayOrder {
    if (!Number.isInteger(o.amount) || o.amount < 100) throw refused('amount must be an integer of at least 100 paise');
    if (typeof o.receipt !== 'string' || o.receipt.length === 0 || o.receipt.length > 40) {
      throw refused('receipt: 1 to 40 characters');
    }
    const order = {
      id: newId('order'),
      amount: o.amount,
      currency: 'INR' as const,
      receipt: o.receipt,
      status: 'created' as const,
      notes: { ...o.notes },
    };
    this.orders.set(order.id, order);
    return { ...order };
  }

  createUpiIntent(o: { orderId: string; vpa: string; payee: string }): { paymentId: string; link: string } {
    const order = this.#order(o.orderId);
    if (order.status === 'paid') throw refused(`order ${order.id} is already paid`);
    const payment = {
      id: newId('pay'),
      orderId: order.id,
      amount: order.amount,
      status: 'created' as const,
      amountRefunded: 0,
      notes: { ...order.notes },
    };
    this.payments.set(payment.id, payment);
    order.status = 'attempted';
    const am = (order.amount / 100).toFixed(2);
    const q = new URLSearchParams({ pa: o.payee, pn: 'Sandbox Gateway', tr: payment.id, am, cu: 'INR' });
    return { paymentId: payment.id, link: `upi://pay?${q.toString()}` };
  }

  fetchOrder(id: string): GatewayOrder {
    return { ...this.#order(id) };
  }

  paymentsOfOrder(orderId: string): GatewayPayment[] {
    this.#order(orderId);
    return [...this.payments.values()]
      .filter((p) => p.orderId === orderId)
      .reverse()
      .map((p) => ({ ...p }));
  }

  fetchPayment(id: string): GatewayPayment {
    return { ...this.#payment(id) };
  }

  /** The customer approved in their UPI app: the payment is captured (only from created). */
  capture(paymentId: string): LedgerEvent | undefined {
    const p = this.#payment(paymentId);
    if (p.status !== 'created') return undefined;
    p.status = 'captured';
    this.#order(p.orderId).status = 'paid';
    return this.#emit({ id: newId('evt'), event: 'payment.captured', payment: { ...p } });
  }

  /** The customer declined or the bank refused. */
  fail(paymentId: string): LedgerEvent | undefined {
    const p = this.#payment(paymentId);
    if (p.status !== 'created') return undefined;
    p.status = 'failed';
    return this.#emit({ id: newId('evt'), event: 'payment.failed', payment: { ...p } });
  }

  createRefund(r: RefundRequest): { refund: GatewayRefund; replay: boolean } {
    if (!/^[A-Za-z0-9_-]{10,}$/.test(r.idempotencyKey)) {
      throw refused('X-Refund-Idempotency: at least 10 letters, digits, - or _');
    }
    const body = JSON.stringify({ p: r.paymentId, a: r.amount, n: r.notes });
    const had = this.#keys.get(r.idempotencyKey);
    if (had) {
      if (had.body !== body) throw refused('idempotency key reused with a different request');
      return { refund: { ...this.refunds.get(had.refundId)! }, replay: true };
    }
    const p = this.#payment(r.paymentId);
    if (p.status !== 'captured' && p.status !== 'refunded') {
      throw refused(`payment ${p.id} is ${p.status}, not captured`);
    }
    if (!Number.isInteger(r.amount) || r.amount <= 0 || r.amount > p.amount - p.amountRefunded) {
      throw refused(`refund of ${r.amount} exceeds what is left of payment ${p.id}`);
    }
    const refund = {
      id: newId('rfnd'),
      paymentId: p.id,
      amount: r.amount,
      status: 'pending' as const,
      notes: { ...r.notes },
    };
    this.refunds.set(refund.id, refund);
    this.#keys.set(r.idempotencyKey, { refundId: refund.id, body });
    p.amountRefunded += r.amount;
    if (p.amountRefunded === p.amount) p.status = 'refunded';
    return { refund: { ...refund }, replay: false };
  }

  /** The bank credited the customer (or refused): the refund ends. */
  settleRefund(refundId: string, outcome: 'processed' | 'failed'): LedgerEvent | undefined {
    const r = this.refunds.get(refundId);
    if (!r || r.status !== 'pending') return undefined;
    r.status = outcome;
    const p = this.#payment(r.paymentId);
    if (outcome === 'failed') {
      // The money never left: it may be refunded again.
      p.amountRefunded -= r.amount;
      if (p.status === 'refunded') p.status = 'captured';
    }
    const event = outcome === 'processed' ? 'refund.processed' : 'refund.failed';
    return this.#emit({ id: newId('evt'), event, payment: { ...p }, refund: { ...r } });
  }

  fetchRefund(paymentId: string, refundId: string): GatewayRefund {
    const r = this.refunds.get(refundId);
    if (!r || r.paymentId !== paymentId) throw refused(`no refund ${refundId} of payment ${paymentId}`);
    return { ...r };
  }

  /** Totals in paise, as a settlement report reads them. */
  totals(): { captured: number; refunded: number; refundsPending: number; refundsByPayment: Record<string, number> } {
    let captured = 0;
    let refunded = 0;
    let refundsPending = 0;
    const refundsByPayment: Record<string, number> = {};
    for (const p of this.payments.values()) {
      if (p.status === 'captured' || p.status === 'refunded') captured += p.amount;
    }
    for (const r of this.refunds.values()) {
      if (r.status === 'processed') refunded += r.amount;
      if (r.status === 'pending') refundsPending += r.amount;
      if (r.status !== 'failed') refundsByPayment[r.paymentId] = (refundsByPayment[r.paymentId] ?? 0) + 1;
    }
    return { captured, refunded, refundsPending, refundsByPayment };
  }

  #emit(e: LedgerEvent): LedgerEvent {
    for (const fn of this.#listeners) fn(e);
    return e;
  }

  #order(id: string): Mutable<GatewayOrder> {
    const o = this.orders.get(id);
    if (!o) throw refused(`no order ${id}`);
    return o;
  }

  #payment(id: string): Mutable<GatewayPayment> {
    const p = this.payments.get(id);
    if (!p) throw refused(`no payment ${id}`);
    return p;
  }
}
