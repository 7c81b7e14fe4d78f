/**
 * The payment-gateway port over Razorpay's REST API (v1): Basic auth with the
 * key id and secret, the merchant account in `X-Razorpay-Account`, amounts in
 * paise, refunds keyed by `X-Refund-Idempotency`. Translates the wire shape
 * (snake case, `{error: {code, description}}`) to the port's; every call goes
 * through {@link resilientCall} (timeout, retries with jittered backoff,
 * circuit). The sandbox gateway (sandbox-server.ts) speaks the same API.
 */
import {
  GatewayError,
  type GatewayOrder,
  type GatewayPayment,
  type GatewayRefund,
  type OrderRequest,
  type PaymentGateway,
  type RefundRequest,
} from '../../engine/ports/payment-gateway.js';
import { CircuitBreaker, defaultResilience, type ResilienceOptions, resilientCall } from './resilient-call.js';

export interface RazorpayConfig {
  /** e.g. https://api.razorpay.com (the `/v1` paths are appended). */
  readonly baseUrl: string;
  readonly keyId: string;
  readonly keySecret: string;
  readonly merchantId: string;
}

type Json = Record<string, unknown>;

const str = (x: unknown): string => (typeof x === 'string' ? x : '');
const int = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
const notesOf = (x: unknown): Record<string, string> =>
  x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x).map(([k, v]) => [k, String(v)]))
    : {};

export const orderFromWire = (w: Json): GatewayOrder => ({
  id: str(w['id']),
  amount: int(w['amount']),
  currency: 'INR',
  receipt: str(w['receipt']),
  status: (str(w['status']) || 'created') as GatewayOrder['status'],
  notes: notesOf(w['notes']),
});
export const paymentFromWire = (w: Json): GatewayPayment => ({
  id: str(w['id']),
  orderId: str(w['order_id']),
  amount: int(w['amount']),
  status: str(w['status']) as GatewayPayment['status'],
  amountRefunded: int(w['amount_refunded']),
  notes: notesOf(w['notes']),
});
export const refundFromWire = (w: Json): GatewayRefund => ({
  id: str(w['id']),
  paymentId: str(w['payment_id']),
  amount: int(w['amount']),
  status: str(w['status']) as GatewayRefund['status'],
  notes: notesOf(w['notes']),
});

export class RazorpayGateway implements PaymentGateway {
  readonly breaker: CircuitBreaker;
  readonly #auth: string;

  constructor(
    readonly config: RazorpayConfig,
    readonly resilience: ResilienceOptions = defaultResilience,
  ) {
    this.breaker = new CircuitBreaker(resilience);
    this.#auth = `Basic ${Buffer.from(`${config.keyId}:${config.keySecret}`).toString('base64')}`;
  }

  async createOrder(o: OrderRequest): Promise<GatewayOrder> {
    const body = { amount: o.amount, currency: 'INR', receipt: o.receipt, notes: o.notes };
    return orderFromWire(await this.#call('POST', '/v1/orders', body));
  }

  async createUpiIntent(o: { orderId: string; vpa: string }): Promise<{ paymentId: string; link: string }> {
    const order = await this.fetchOrder(o.orderId);
    const w = await this.#call('POST', '/v1/payments/create/upi', {
      amount: order.amount,
      currency: 'INR',
      order_id: o.orderId,
      method: 'upi',
      upi: { flow: 'intent' },
      notes: order.notes,
    });
    return { paymentId: str(w['razorpay_payment_id']), link: str(w['link']) };
  }

  async fetchOrder(id: string): Promise<GatewayOrder> {
    return orderFromWire(await this.#call('GET', `/v1/orders/${encodeURIComponent(id)}`));
  }

  async paymentsOfOrder(orderId: string): Promise<GatewayPayment[]> {
    const w = await this.#call('GET', `/v1/orders/${encodeURIComponent(orderId)}/payments`);
    return (Array.isArray(w['items']) ? (w['items'] as Json[]) : []).map(paymentFromWire);
  }

  async fetchPayment(id: string): Promise<GatewayPayment> {
    return paymentFromWire(await this.#call('GET', `/v1/payments/${encodeURIComponent(id)}`));
  }

  async createRefund(r: RefundRequest): Promise<GatewayRefund> {
    return refundFromWire(
      await this.#call(
        'POST',
        `/v1/payments/${encodeURIComponent(r.paymentId)}/refund`,
        { amount: r.amount, speed: 'normal', notes: r.notes },
        { 'x-refund-idempotency': r.idempotencyKey },
      ),
    );
  }

  async fetchRefund(paymentId: string, refundId: string): Promise<GatewayRefund> {
    const path = `/v1/payments/${encodeURIComponent(paymentId)}/refunds/${encodeURIComponent(refundId)}`;
    return refundFromWire(await this.#call('GET', path));
  }

  #call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Json> {
    const what = `${method} ${path}`;
    return resilientCall(this.resilience, this.breaker, what, async (signal) => {
      const res = await fetch(`${this.config.baseUrl}${path}`, {
        method,
        signal,
        headers: {
          authorization: this.#auth,
          'x-razorpay-account': this.config.merchantId,
          ...headers,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      let w: Json = {};
      try {
        w = text === '' ? {} : (JSON.parse(text) as Json);
      } catch {
        if (res.ok) throw new GatewayError('transient', `${what}: answer is not JSON`, res.status);
      }
      if (res.ok) return w;
      const err = (w['error'] ?? {}) as Json;
      const detail = `${what}: ${res.status} ${str(err['code'])} ${str(err['description'])}`.trim();
      // 409: the same idempotent request is still in progress; 429 and 5xx: try again later.
      const transient = res.status === 409 || res.status === 429 || res.status >= 500;
      throw new GatewayError(transient ? 'transient' : 'rejected', detail, res.status);
    });
  }
}
