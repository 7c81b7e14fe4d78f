/**
 * The payment-gateway port, in the shape of Razorpay's API (orders, UPI
 * intent payments, refunds with an idempotency key, status reads). Amounts
 * are integer paise; times are gateway epoch seconds as the gateway gives
 * them. Implementations: the HTTP adapter (adapters/payments/razorpay-gateway.ts)
 * and the embedded in-memory one (adapters/payments/memory-gateway.ts); both
 * pass test/contracts/payment-gateway.contract.ts.
 */

export type GatewayPaymentStatus = 'created' | 'authorized' | 'captured' | 'failed' | 'refunded';
export type GatewayRefundStatus = 'pending' | 'processed' | 'failed';

export interface GatewayOrder {
  readonly id: string;
  readonly amount: number;
  readonly currency: 'INR';
  readonly receipt: string;
  readonly status: 'created' | 'attempted' | 'paid';
  readonly notes: Readonly<Record<string, string>>;
}

export interface GatewayPayment {
  readonly id: string;
  readonly orderId: string;
  readonly amount: number;
  readonly status: GatewayPaymentStatus;
  readonly amountRefunded: number;
  readonly notes: Readonly<Record<string, string>>;
}

export interface GatewayRefund {
  readonly id: string;
  readonly paymentId: string;
  readonly amount: number;
  readonly status: GatewayRefundStatus;
  readonly notes: Readonly<Record<string, string>>;
}

/** Why a call failed: `transient` may succeed when retried (timeouts, 5xx, an open circuit), `rejected` will not. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly kind: 'transient' | 'rejected',
    message: string,
    readonly status = 0,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A payment order to create: amount in paise, our receipt (≤ 40 characters), notes copied to its payments. */
export interface OrderRequest {
  readonly amount: number;
  readonly receipt: string;
  readonly notes: Record<string, string>;
}

/** A refund to ask for, under an idempotency key of at least 10 characters. */
export interface RefundRequest {
  readonly paymentId: string;
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly notes: Record<string, string>;
}

export interface PaymentGateway {
  /** A payment order for `amount` paise; `receipt` is ours (≤ 40 characters) and unique per order. */
  createOrder(o: OrderRequest): Promise<GatewayOrder>;
  /** A UPI intent payment on an order: the link the customer's UPI app opens. */
  createUpiIntent(o: { orderId: string; vpa: string }): Promise<{ paymentId: string; link: string }>;
  fetchOrder(id: string): Promise<GatewayOrder>;
  /** The order's payments, newest first. */
  paymentsOfOrder(orderId: string): Promise<GatewayPayment[]>;
  fetchPayment(id: string): Promise<GatewayPayment>;
  /**
   * A refund of a captured payment. The same `idempotencyKey` (sent as
   * `X-Refund-Idempotency`) with the same body answers the first refund again,
   * never a second one.
   */
  createRefund(r: RefundRequest): Promise<GatewayRefund>;
  fetchRefund(paymentId: string, refundId: string): Promise<GatewayRefund>;
}
