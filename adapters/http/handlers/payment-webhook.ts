/**
 * `POST /payments/webhook`: the payment gateway says a payment was captured
 * or failed. Money crosses into systems we do not control, so this is the
 * synchronous path of DESIGN.md's Durability section:
 *
 * 1. the signature (hex HMAC-SHA256 of the raw body, `X-Razorpay-Signature`)
 *    is checked on the bytes, in constant time, before anything is parsed;
 * 2. in ONE transaction: the event goes into the inbox under its id (a
 *    redelivery hits the key), the payment moves forward only (pending →
 *    captured or failed), and when captured money cannot be used (the order
 *    was cancelled meanwhile, or the amount is wrong) a refund and its outbox
 *    row are written;
 * 3. the engine hears the result (confirm or fail the order's payment).
 *
 * Every delivery, first or repeated, ends by bringing the engine in line with
 * the stored payment, so a crash between commit and the engine's write-behind
 * is repaired by the gateway's retry. The gateway retries any non-2xx; a
 * refund waits in the outbox for the refund relay (payments/refund-relay.ts).
 *
 * `refund.processed` and `refund.failed` end a refund (forward only, found by
 * our id in its notes or the gateway's id), in the same transaction as the
 * inbox row; the customer is told once it is committed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { OrderId } from '../../../protocol/index.js';
import type { RefundStage } from '../../../engine/notify-rules.js';
import {
  PaymentWebhook,
  type PaymentWebhookBody,
  RefundWebhook,
  type RefundWebhookBody,
} from '../../../protocol/rest/schemas.js';
import { rupees } from '../../payments/refund-relay.js';
import type { SqlTx } from '../../postgres/sql-database.js';
import { problem, type Reply, type RequestInfo } from '../http-io.js';
import { validate } from '../validate.js';
import type { GatewayDeps } from '../gateway-deps.js';

export const WEBHOOK_GATEWAY = 'razorpay';

/** The signature a body must carry under `secret`. */
export const signWebhook = (secret: string, body: Uint8Array | string): string =>
  createHmac('sha256', secret).update(body).digest('hex');

export interface WebhookDeps extends GatewayDeps {
  readonly webhookSecret: string;
  /** Tells an order's watchers; called after the change is committed. */
  readonly notify: (orderId: string, message: string, refund: { refundId: string; stage: RefundStage }) => void;
}

/**
 * Applying what the gateway says, once per event id: the webhook handler and
 * reconciliation (which reads the same facts from the status API) share it.
 */
export function paymentSettlement(d: Omit<WebhookDeps, 'webhookSecret'>) {
  const { engine, catalog, money } = d;

  /**
   * What the stored payment asks of the engine, read inside the settling transaction: a refund is
   * asked for there (it commits with the payment), while the engine is told only by `tell`, after the
   * commit. The engine's word is what customers see ("paid"), and an order cancelled once its
   * payment shows as paid must find the capture committed, so that the cancellation's stored event
   * brings its refund (sql/statements/append-batch.sql).
   */
  const reconcile = async (
    tx: SqlTx,
    transactionId: string,
    amountPaid: number,
  ): Promise<{ did: string; tell?: () => Promise<string> }> => {
    const pay = await money.paymentByTransaction(tx, transactionId);
    if (!pay) return { did: 'ignored: unknown transaction' };
    const orderId = pay.order_id as OrderId;
    if (pay.status === 'failed') {
      return {
        did: 'payment failed',
        tell: async () =>
          (await d.commands.failPayment(orderId)).ok ? 'payment failed; order cancelled' : 'payment failed',
      };
    }
    if (pay.status !== 'captured') return { did: `payment ${pay.status}` };
    const order = engine.getOrder(orderId);
    const waiting =
      order.ok && !order.value.paid && (order.value.state === 'awaiting_payment' || order.value.state === 'placed');
    if (waiting && amountPaid === pay.amount_paise) {
      // Cancelled (unpaid, so with no refund due) or expired between this read and the confirmation:
      // the capture is committed and the order cannot use it, so it is given back at once, in a
      // transaction of its own (should that fail, reconciliation's sweep for missing refunds asks).
      return {
        did: 'payment captured',
        tell: async () => {
          if ((await d.commands.confirmPayment(orderId)).ok) return 'payment captured; order confirmed';
          const now = engine.getOrder(orderId);
          // Paid meanwhile (a duplicate of this event, or reconciliation, got there first), or still
          // waiting: the order uses this payment, or its deadline will end it and the sweep refunds it.
          if (now.ok && (now.value.paid || now.value.state === 'awaiting_payment' || now.value.state === 'placed'))
            return 'payment captured';
          const created = await catalog.transaction('payment webhook refund', (tx2) =>
            money.requestRefund(tx2, {
              id: d.newId(),
              paymentId: pay.id,
              amountPaise: pay.amount_paise,
              reason: `order_${now.ok ? now.value.state : 'gone'}`,
            }),
          );
          return created ? 'payment captured; refund requested' : 'payment captured; refund already requested';
        },
      };
    }
    if (order.ok && order.value.paid) return { did: 'payment captured' };
    // Captured, but the order can no longer use it (cancelled, expired, gone, or the wrong amount): give it back.
    const created = await money.requestRefund(tx, {
      id: d.newId(),
      paymentId: pay.id,
      amountPaise: amountPaid > 0 ? amountPaid : pay.amount_paise,
      reason: amountPaid !== pay.amount_paise ? 'amount_mismatch' : `order_${order.ok ? order.value.state : 'gone'}`,
    });
    return { did: created ? 'payment captured; refund requested' : 'payment captured; refund already requested' };
  };

  /** A refund ended at the gateway: processed (the customer is told) or failed (flagged for an operator). */
  const refundEvent = async (eventId: string, w: RefundWebhookBody): Promise<{ status: string; result: string }> => {
    const entity = w.payload.refund.entity;
    const outcome = w.event === 'refund.processed' ? 'processed' : w.event === 'refund.failed' ? 'failed' : undefined;
    const { answer, moved } = await catalog.transaction('refund webhook', async (tx) => {
      const fresh = await money.insertInbox(tx, WEBHOOK_GATEWAY, eventId, w.event, w);
      if (!fresh) return { answer: { status: 'duplicate', result: 'already applied' }, moved: undefined };
      const moved = outcome
        ? await money.settleRefund(tx, { ourId: entity.notes.refund_id, gatewayRef: entity.id, outcome })
        : undefined;
      await money.markInboxProcessed(tx, WEBHOOK_GATEWAY, eventId);
      const result = !outcome
        ? `ignored: event ${w.event}`
        : moved
          ? `refund ${outcome}`
          : 'refund already ended or unknown';
      return { answer: { status: 'processed', result }, moved };
    });
    if (moved?.status === 'processed')
      d.notify(moved.order_id, `Your refund of ${rupees(moved.amount_paise)} has been completed`, {
        refundId: moved.id,
        stage: 'completed',
      });
    return answer;
  };

  /** A payment captured or failed at the gateway (event `payment.*`), named by our UPI reference. */
  const paymentEvent = async (
    eventId: string,
    event: string,
    payload: unknown,
    p: { transactionId: string; gatewayPaymentId: string; amount: number },
  ): Promise<{ status: string; result: string }> => {
    const outcome = event === 'payment.captured' ? 'captured' : event === 'payment.failed' ? 'failed' : undefined;
    const settled = await catalog.transaction('payment webhook', async (tx) => {
      const fresh = await money.insertInbox(tx, WEBHOOK_GATEWAY, eventId, event, payload);
      if (fresh && outcome) {
        const pay = await money.paymentByTransaction(tx, p.transactionId);
        if (pay) await money.settlePayment(tx, pay.id, outcome, p.gatewayPaymentId);
      }
      const r = outcome ? await reconcile(tx, p.transactionId, p.amount) : { did: `ignored: event ${event}` };
      if (fresh) await money.markInboxProcessed(tx, WEBHOOK_GATEWAY, eventId);
      return { status: fresh ? 'processed' : 'duplicate', ...r };
    });
    // Committed: now the engine may say so.
    const result = settled.tell ? await settled.tell() : settled.did;
    await d.durable();
    return { status: settled.status, result };
  };

  return { paymentEvent, refundEvent };
}

export function paymentWebhookHandler(d: WebhookDeps) {
  const { paymentEvent, refundEvent } = paymentSettlement(d);
  return async (req: RequestInfo, raw: Buffer | undefined): Promise<Reply> => {
    const id = req.requestId;
    const given = req.headers['x-razorpay-signature'] ?? '';
    const want = signWebhook(d.webhookSecret, raw ?? Buffer.alloc(0));
    const a = Buffer.from(given, 'utf8');
    const b = Buffer.from(want, 'utf8');
    if (a.length !== b.length || !timingSafeEqual(a, b))
      return problem('WEBHOOK_SIGNATURE_INVALID', 'X-Razorpay-Signature is not the HMAC-SHA256 of this body', id);
    let body: unknown;
    try {
      body = JSON.parse((raw ?? Buffer.alloc(0)).toString('utf8'));
    } catch (err) {
      return problem('INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`, id);
    }
    const isRefund =
      typeof (body as { event?: unknown } | null)?.event === 'string' &&
      (body as { event: string }).event.startsWith('refund.');
    const errors = validate(isRefund ? RefundWebhook : PaymentWebhook, body);
    if (errors.length > 0)
      return problem('INVALID_ARGUMENT', errors.map((e) => `${e.field}: ${e.message}`).join('; '), id, errors);
    const eventId = req.headers['x-razorpay-event-id'] ?? '';
    if (!/^[\x21-\x7e]{1,100}$/.test(eventId))
      return problem('INVALID_ARGUMENT', 'X-Razorpay-Event-Id must name the event', id);
    if (isRefund) return { status: 200, body: await refundEvent(eventId, body as RefundWebhookBody) };
    const w = body as PaymentWebhookBody;
    const entity = w.payload.payment.entity;
    const answer = await paymentEvent(eventId, w.event, body, {
      transactionId: entity.notes.transaction_id,
      gatewayPaymentId: entity.id,
      amount: entity.amount,
    });
    return { status: 200, body: answer };
  };
}
