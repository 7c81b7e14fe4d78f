/**
 * `/payments`: a UPI payment request for an order waiting for payment. With a
 * payment gateway configured (UPI_GATEWAY_URL) it is the gateway's payment
 * order and its UPI intent link; without one (development only) a UPI intent
 * link to the configured payee (NPCI linking spec). The request is written
 * to Postgres before the answer; at most one is open per order. Confirmation
 * comes from the gateway's webhook or status API (reconciliation), never from
 * the client.
 */
import { isWholePaise, toPaise } from '../../../engine/index.js';
import { type OrderId, reject, type Rejection, upiIntentLink } from '../../../protocol/index.js';
import type { CreatePaymentBody } from '../../../protocol/rest/schemas.js';
import type { PaymentRow, RefundView } from '../../postgres/money-store.js';
import type { Reply } from '../http-io.js';
import type { RestContext } from '../rest-gateway.js';
import { GatewayError } from '../../../engine/ports/payment-gateway.js';
import { type GatewayDeps, iso, mayAct, refundJson, rupeesOf } from '../gateway-deps.js';

/** Stored status → the seed's vocabulary. */
const SEED_STATUS: Readonly<Record<string, string>> = {
  created: 'processing',
  pending: 'processing',
  captured: 'completed',
  failed: 'failed',
  expired: 'expired',
};

export function paymentHandlers(d: GatewayDeps) {
  const { engine, catalog, money } = d;

  const paymentJson = (p: PaymentRow, refunds: readonly RefundView[] = []): Record<string, unknown> => {
    const open = p.status === 'created' || p.status === 'pending';
    const expired = open && p.expires_at.getTime() <= d.clock.now();
    const last = refunds.at(-1);
    const refund = last === undefined ? undefined : last.status === 'processed' ? 'refunded' : 'refund_pending';
    return {
      id: p.id,
      order_id: p.order_id,
      status: refund ?? (expired ? 'expired' : (SEED_STATUS[p.status] ?? p.status)),
      amount: rupeesOf(p.amount_paise),
      currency: 'INR',
      transaction_id: p.transaction_id,
      payment_url: p.payment_url,
      payer_vpa: p.payer_vpa,
      expires_at: iso(p.expires_at),
      created_at: iso(p.created_at),
      updated_at: iso(p.updated_at),
    };
  };

  return {
    async createPayment(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const b = ctx.body as CreatePaymentBody;
      const live = engine.getOrder(b.order_id as OrderId);
      const row = live.ok ? await catalog.getOrder(b.order_id) : undefined;
      if (!live.ok || !row) return reject('ORDER_NOT_FOUND', `no order ${b.order_id}`);
      const o = live.value;
      const denied = mayAct(
        p,
        'payment.create',
        { customerId: o.customerId },
        'ORDER_NOT_FOUND',
        `order ${b.order_id}`,
      );
      if (denied) return denied;
      if (row.payment_method === 'CASH')
        return reject('PAYMENT_NOT_ALLOWED', `order ${o.id} is paid in cash on delivery`);
      if (o.paid) return reject('PAYMENT_NOT_ALLOWED', `order ${o.id} is already paid`);
      if (o.state !== 'awaiting_payment' && o.state !== 'placed')
        return reject('PAYMENT_NOT_ALLOWED', `order ${o.id} is ${o.state} and takes no payment`);
      if (!isWholePaise(b.amount)) return reject('INVALID_ARGUMENT', 'amount: at most two decimals');
      const amount = toPaise(b.amount);
      if (amount !== row.total_paise) {
        return reject(
          'PAYMENT_AMOUNT_MISMATCH',
          `amount ${b.amount.toFixed(2)} differs from the order total ${rupeesOf(row.total_paise).toFixed(2)}`,
        );
      }
      const open = await money.openPaymentOf(o.id);
      if (open)
        return reject(
          'PAYMENT_NOT_ALLOWED',
          `order ${o.id} already has payment ${open.id} (${SEED_STATUS[open.status] ?? open.status}); GET /payments/${open.id}`,
        );

      const id = d.newId();
      // tr: unique, ≤ 35 characters, letters and digits only (some UPI apps refuse others).
      const transactionId = `TXN${id.replace(/-/g, '').slice(0, 20).toUpperCase()}`;
      const expiresAt = new Date(Math.max(d.clock.now(), o.placedAt + engine.config.paymentTimeoutMs));
      let url: string;
      let gatewayOrderId: string | null = null;
      if (d.gateway) {
        try {
          const g = await d.gateway.createOrder({
            amount,
            receipt: id.slice(0, 40),
            notes: { transaction_id: transactionId, payment_id: id, order_id: o.id },
          });
          url = (await d.gateway.createUpiIntent({ orderId: g.id, vpa: b.payment_method.vpa })).link;
          gatewayOrderId = g.id;
        } catch (err) {
          if (!(err instanceof GatewayError)) throw err;
          return reject(
            err.kind === 'transient' ? 'DEPENDENCY_UNAVAILABLE' : 'PAYMENT_GATEWAY_REFUSED',
            `payment gateway: ${err.message}`,
          );
        }
      } else {
        url = upiIntentLink({
          payeeVpa: d.config.upi.payeeVpa,
          payeeName: d.config.upi.payeeName,
          reference: transactionId,
          note: `Order ${row.tracking_id}`,
          amountPaise: amount,
          merchantCode: d.config.upi.merchantCode,
        });
      }
      return catalog.transaction('create payment', async (tx) => {
        const inserted = await money.insertPayment(tx, {
          id,
          order_id: o.id,
          customer_id: o.customerId,
          amount_paise: amount,
          status: 'pending',
          transaction_id: transactionId,
          payer_vpa: b.payment_method.vpa,
          payment_url: url,
          expires_at: expiresAt,
          gateway_order_id: gatewayOrderId,
        });
        if (!inserted) return reject('PAYMENT_NOT_ALLOWED', `order ${o.id} already has an open payment`);
        const now = new Date(d.clock.now());
        const reply: Reply = {
          status: 201,
          body: paymentJson({
            id,
            order_id: o.id,
            customer_id: o.customerId,
            amount_paise: amount,
            status: 'pending',
            transaction_id: transactionId,
            payer_vpa: b.payment_method.vpa,
            payment_url: url,
            expires_at: expiresAt,
            created_at: now,
            updated_at: now,
          }),
          headers: { location: `/payments/${id}` },
        };
        await ctx.remember(tx, reply);
        return reply;
      });
    },

    async getPayment(ctx: RestContext): Promise<Reply | Rejection> {
      const id = ctx.req.params['payment_id']!;
      const row = await money.getPayment(id);
      if (!row) return reject('PAYMENT_NOT_FOUND', `no payment ${id}`);
      const denied = mayAct(
        ctx.principal,
        'payment.read',
        { customerId: row.customer_id as never },
        'PAYMENT_NOT_FOUND',
        `payment ${id}`,
      );
      if (denied) return denied;
      const refunds = await money.refundsOf(row.id);
      return { status: 200, body: { ...paymentJson(row, refunds), refunds: refunds.map(refundJson) } };
    },
  };
}
