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
  GatewayError, type GatewayOrder, type GatewayPayment, type GatewayRefund,
} from '../../engine/ports/payment-gateway.js';

export interface LedgerEvent {
  readonly id: string;
  readonly event: 'payment.captured' | 'payment.failed' | 'refund.processed' | 'refund.failed';
  readonly payment: GatewayPayment;
  readonly refund?: GatewayRefund;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const newId = (prefix: string): string => `${prefix}_${randomBytes(10).toString('base64url').replace(/[-_]/g, 'x').slice(0, 14)}`;

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
    if (!Number.isInteger(o.amount) || o.amount < 100) throw new GatewayError('rejected', 'amount must be an integer of at least 100 paise', 400);
    if (typeof o.receipt !== 'string' || o.receipt.length === 0 || o.receipt.length > 40) throw new GatewayError('rejected', 'receipt: 1 to 40 characters', 400);
    const order = { id: newId('order'), amount: o.amount, currency: 'INR' as const, receipt: o.receipt, status: 'created' as const, notes: { ...o.notes } };
    this.orders.set(order.id, order);
    return { ...order };
  }

  createUpiIntent(o: { orderId: string; vpa: string; payee: string }): { paymentId: string; link: string } {
    const order = this.#order(o.orderId);
    if (order.status === 'paid') throw new GatewayError('rejected', `order ${order.id} is already paid`, 400);
    const payment = { id: newId('pay'), orderId: order.id, amount: order.amount, status: 'created' as const, amountRefunded: 0, notes: { ...order.notes } };
    this.payments.set(payment.id, payment);
    order.status = 'attempted';
    const q = new URLSearchParams({ pa: o.payee, pn: 'Sandbox Gateway', tr: payment.id, am: (order.amount / 100).toFixed(2), cu: 'INR' });
    return { paymentId: payment.id, link: `upi://pay?${q.toString()}` };
  }

  fetchOrder(id: string): GatewayOrder {
    return { ...this.#order(id) };
  }

  paymentsOfOrder(orderId: string): GatewayPayment[] {
    this.#order(orderId);
    return [...this.payments.values()].filter((p) => p.orderId === orderId).reverse().map((p) => ({ ...p }));
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

  createRefund(r: { paymentId: string; amount: number; idempotencyKey: string; notes: Record<string, string> }): { refund: GatewayRefund; replay: boolean } {
    if (!/^[A-Za-z0-9_-]{10,}$/.test(r.idempotencyKey)) throw new GatewayError('rejected', 'X-Refund-Idempotency: at least 10 letters, digits, - or _', 400);
    const body = JSON.stringify({ p: r.paymentId, a: r.amount, n: r.notes });
    const had = this.#keys.get(r.idempotencyKey);
    if (had) {
      if (had.body !== body) throw new GatewayError('rejected', 'idempotency key reused with a different request', 400);
      return { refund: { ...this.refunds.get(had.refundId)! }, replay: true };
    }
    const p = this.#payment(r.paymentId);
    if (p.status !== 'captured' && p.status !== 'refunded') throw new GatewayError('rejected', `payment ${p.id} is ${p.status}, not captured`, 400);
    if (!Number.isInteger(r.amount) || r.amount <= 0 || r.amount > p.amount - p.amountRefunded) {
      throw new GatewayError('rejected', `refund of ${r.amount} exceeds what is left of payment ${p.id}`, 400);
    }
    const refund = { id: newId('rfnd'), paymentId: p.id, amount: r.amount, status: 'pending' as const, notes: { ...r.notes } };
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
    return this.#emit({ id: newId('evt'), event: outcome === 'processed' ? 'refund.processed' : 'refund.failed', payment: { ...p }, refund: { ...r } });
  }

  fetchRefund(paymentId: string, refundId: string): GatewayRefund {
    const r = this.refunds.get(refundId);
    if (!r || r.paymentId !== paymentId) throw new GatewayError('rejected', `no refund ${refundId} of payment ${paymentId}`, 400);
    return { ...r };
  }

  /** Totals in paise, as a settlement report reads them. */
  totals(): { captured: number; refunded: number; refundsPending: number; refundsByPayment: Record<string, number> } {
    let captured = 0;
    let refunded = 0;
    let refundsPending = 0;
    const refundsByPayment: Record<string, number> = {};
    for (const p of this.payments.values()) if (p.status === 'captured' || p.status === 'refunded') captured += p.amount;
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
    if (!o) throw new GatewayError('rejected', `no order ${id}`, 400);
    return o;
  }

  #payment(id: string): Mutable<GatewayPayment> {
    const p = this.payments.get(id);
    if (!p) throw new GatewayError('rejected', `no payment ${id}`, 400);
    return p;
  }
}
