/**
 * The money rows: payment requests, the gateway's events (webhook inbox),
 * refunds and their outbox rows as the relay claims and settles them, what
 * reconciliation asks about, and the settlement report. Refunds move only
 * forward: requested → pending (the gateway accepted) → processed | failed;
 * `failed` is for an operator. Writes that take a `tx` run in the caller's
 * transaction (CatalogStore.transaction); the REST handlers' reads turn a lost
 * connection into DependencyUnavailableError ({@link guarded}).
 */
import { guarded } from './guarded.js';
import type { SqlDatabase, SqlTx } from './sql-database.js';

export interface PaymentRow {
  readonly id: string;
  readonly order_id: string;
  readonly customer_id: string;
  readonly amount_paise: number;
  readonly status: string;
  readonly transaction_id: string;
  readonly payer_vpa: string;
  readonly payment_url: string;
  readonly expires_at: Date;
  readonly created_at: Date;
  readonly updated_at: Date;
  /** The gateway's payment order, when the payment went through the gateway. */
  readonly gateway_order_id?: string | null;
}

/** A refund as orders and payments show it (times as the database gives them, ISO strings in JSON). */
export interface RefundView {
  readonly id: string;
  readonly status: 'requested' | 'pending' | 'processed' | 'failed';
  readonly amount_paise: number;
  readonly reason: string;
  readonly requested_at: string | Date;
  readonly accepted_at: string | Date | null;
  readonly settled_at: string | Date | null;
}

/** An outbox row claimed by the relay, with what the gateway call needs. */
export interface ClaimedRefund {
  readonly outbox_id: number;
  readonly key: string;
  readonly attempts: number;
  readonly refund_id: string;
  readonly amount_paise: number;
  readonly reason: string;
  readonly order_id: string;
  readonly payment_id: string;
  /** The gateway's payment id (set when the capture was recorded). */
  readonly gateway_ref: string | null;
}

/** A refund whose status changed, with what the customer is told. */
export interface MovedRefund {
  readonly id: string;
  readonly order_id: string;
  readonly amount_paise: number;
  readonly status: string;
}

export interface StuckPayment {
  readonly id: string;
  readonly expires_at: Date;
  readonly order_id: string;
  readonly transaction_id: string;
  readonly gateway_order_id: string;
  readonly amount_paise: number;
}

export interface StuckRefund {
  readonly id: string;
  readonly gateway_ref: string;
  readonly gateway_payment: string;
}

export interface MissingRefund {
  readonly id: string;
  readonly order_id: string;
  readonly amount_paise: number;
  readonly reason: string;
}

export interface CapturedPayment {
  readonly id: string;
  readonly gateway_ref: string | null;
  readonly amount_paise: number;
  readonly refunded_paise: number;
  readonly refund_accepted_paise: number;
}

export interface SettlementRow {
  readonly restaurant_id: string;
  readonly captured_paise: number;
  readonly refunded_paise: number;
  readonly refund_pending_paise: number;
  readonly refund_failed_paise: number;
  readonly net_paise: number;
  readonly payments: number;
  readonly refunds: number;
}

export class MoneyStore {
  constructor(readonly db: SqlDatabase) {}

  // ─── Payments ────────────────────────────────────────────────────────────

  /** Inserts a payment request; false when the order already has an open one. */
  async insertPayment(tx: SqlTx, p: Omit<PaymentRow, 'created_at' | 'updated_at'>): Promise<boolean> {
    const res = await tx.query(
      `INSERT INTO payments (id, order_id, customer_id, gateway, amount_paise, status, transaction_id, payer_vpa, payment_url, expires_at, gateway_order_id)
       VALUES ($1, $2, $3, $10, $4, $5, $6, $7, $8, $9, $11)
       ON CONFLICT (order_id) WHERE status IN ('created', 'pending', 'captured') DO NOTHING RETURNING id`,
      [
        p.id,
        p.order_id,
        p.customer_id,
        p.amount_paise,
        p.status,
        p.transaction_id,
        p.payer_vpa,
        p.payment_url,
        p.expires_at,
        p.gateway_order_id ? 'razorpay' : 'upi-intent',
        p.gateway_order_id ?? null,
      ],
    );
    return res.rows.length === 1;
  }

  getPayment(id: string): Promise<PaymentRow | undefined> {
    return guarded(
      'read payment',
      async () => (await this.db.query<PaymentRow>('SELECT * FROM payments WHERE id = $1', [id])).rows[0],
    );
  }

  openPaymentOf(orderId: string): Promise<PaymentRow | undefined> {
    return guarded(
      'read payment',
      async () =>
        (
          await this.db.query<PaymentRow>(
            `SELECT * FROM payments WHERE order_id = $1 AND status IN ('created', 'pending', 'captured')`,
            [orderId],
          )
        ).rows[0],
    );
  }

  // ─── Webhooks, refunds, outbox ───────────────────────────────────────────

  /** Records a gateway event; false when it was recorded before (a redelivery). */
  async insertInbox(tx: SqlTx, gateway: string, eventId: string, type: string, payload: unknown): Promise<boolean> {
    const res = await tx.query(
      `INSERT INTO webhook_inbox (gateway, event_id, event_type, payload) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (gateway, event_id) DO NOTHING RETURNING event_id`,
      [gateway, eventId, type, JSON.stringify(payload)],
    );
    return res.rows.length === 1;
  }

  async markInboxProcessed(tx: SqlTx, gateway: string, eventId: string): Promise<void> {
    await tx.query('UPDATE webhook_inbox SET processed_at = now() WHERE gateway = $1 AND event_id = $2', [
      gateway,
      eventId,
    ]);
  }

  /** The payment of a UPI reference, locked until the transaction ends. */
  async paymentByTransaction(tx: SqlTx, transactionId: string): Promise<PaymentRow | undefined> {
    return (await tx.query<PaymentRow>('SELECT * FROM payments WHERE transaction_id = $1 FOR UPDATE', [transactionId]))
      .rows[0];
  }

  /** Moves a payment on, only forward: from created or pending to `status`, or from expired to captured. */
  async settlePayment(tx: SqlTx, id: string, status: 'captured' | 'failed', gatewayRef: string): Promise<boolean> {
    // A capture after we gave up on the payment (expired) is still money received: recorded, then refunded.
    const res = await tx.query(
      `UPDATE payments SET status = $2, gateway_ref = $3, updated_at = now(), captured_at = CASE WHEN $2 = 'captured' THEN now() END
       WHERE id = $1 AND (status IN ('created', 'pending') OR (status = 'expired' AND $2 = 'captured')) RETURNING id`,
      [id, status, gatewayRef],
    );
    return res.rows.length === 1;
  }

  /**
   * Asks for a refund: a refunds row and the outbox row that will carry it to
   * the gateway, in the caller's transaction, both keyed so that asking twice
   * changes nothing. Answers whether this call created it.
   */
  async requestRefund(
    tx: SqlTx,
    r: { id: string; paymentId: string; amountPaise: number; reason: string },
  ): Promise<boolean> {
    const key = `refund-${r.paymentId}`;
    const res = await tx.query(
      `INSERT INTO refunds (id, payment_id, order_id, idempotency_key, amount_paise, reason, status)
       SELECT $1, $2, p.order_id, $3, $4, $5, 'requested' FROM payments p WHERE p.id = $2
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING order_id`,
      [r.id, r.paymentId, key, r.amountPaise, r.reason],
    );
    if (res.rows.length === 0) return false;
    await tx.query(
      `INSERT INTO outbox (topic, key, payload) VALUES ('payment.refund', $1, $2::jsonb) ON CONFLICT (key) DO NOTHING`,
      [
        key,
        JSON.stringify({
          refund_id: r.id,
          payment_id: r.paymentId,
          order_id: res.rows[0]!['order_id'],
          amount_paise: r.amountPaise,
          reason: r.reason,
        }),
      ],
    );
    return true;
  }

  refundsOf(paymentId: string): Promise<RefundView[]> {
    return guarded(
      'read refunds',
      async () =>
        (
          await this.db.query<RefundView>(
            `SELECT id, status, amount_paise, reason, created_at AS requested_at, accepted_at, settled_at
       FROM refunds WHERE payment_id = $1 ORDER BY created_at`,
            [paymentId],
          )
        ).rows,
    );
  }

  // ─── Refund relay, reconciliation, settlement ────────────────────────────

  /**
   * Claims up to `limit` due refund rows for `leaseMs`: they are not due again
   * until then, so a relay that dies mid-call leaves them to the next one, which
   * sends the same key.
   */
  async claimRefunds(limit: number, leaseMs: number): Promise<ClaimedRefund[]> {
    return (
      await this.db.query<ClaimedRefund>(
        `WITH due AS (
         SELECT id FROM outbox WHERE topic = 'payment.refund' AND sent_at IS NULL AND next_attempt_at <= now()
         ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE outbox o SET next_attempt_at = now() + $2 * interval '1 millisecond', attempts = o.attempts + 1
         FROM due WHERE o.id = due.id RETURNING o.id, o.key, o.attempts
       )
       SELECT c.id AS outbox_id, c.key, c.attempts, r.id AS refund_id, r.amount_paise, r.reason,
              COALESCE(r.order_id, p.order_id) AS order_id, p.id AS payment_id, p.gateway_ref
       FROM claimed c JOIN refunds r ON r.idempotency_key = c.key JOIN payments p ON p.id = r.payment_id
       ORDER BY c.id`,
        [limit, leaseMs],
      )
    ).rows;
  }

  /** The gateway accepted the refund: the outbox row is done; the refund moves to pending (or processed). */
  async refundAccepted(
    c: ClaimedRefund,
    gatewayRefundId: string,
    processed: boolean,
  ): Promise<MovedRefund | undefined> {
    return this.db.transaction(async (tx) => {
      await tx.query('UPDATE outbox SET sent_at = now(), last_error = NULL WHERE id = $1', [c.outbox_id]);
      const moved = await tx.query<MovedRefund>(
        `UPDATE refunds SET status = $3, gateway_ref = $2, accepted_at = now(), updated_at = now(),
           settled_at = CASE WHEN $3 = 'processed' THEN now() ELSE settled_at END
         WHERE id = $1 AND status = 'requested' RETURNING id, order_id, amount_paise, status`,
        [c.refund_id, gatewayRefundId, processed ? 'processed' : 'pending'],
      );
      if (moved.rows.length === 0) {
        // A webhook got there first; still record which gateway refund it is.
        await tx.query(
          `UPDATE refunds SET gateway_ref = COALESCE(gateway_ref, $2), accepted_at = COALESCE(accepted_at, now())
           WHERE id = $1`,
          [c.refund_id, gatewayRefundId],
        );
      }
      return moved.rows[0];
    });
  }

  /** A transient failure: the same row is tried again after `delayMs`. */
  async refundRetryLater(c: ClaimedRefund, delayMs: number, error: string): Promise<void> {
    await this.db.query(
      `UPDATE outbox SET next_attempt_at = now() + $2 * interval '1 millisecond', last_error = $3 WHERE id = $1`,
      [c.outbox_id, delayMs, error],
    );
  }

  /** The gateway refused the refund for good: flagged for an operator, never sent again. */
  async refundRejected(c: ClaimedRefund, error: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('UPDATE outbox SET sent_at = now(), last_error = $2 WHERE id = $1', [c.outbox_id, error]);
      await tx.query(
        `UPDATE refunds SET status = 'failed', failure = $2, updated_at = now()
         WHERE id = $1 AND status IN ('requested', 'pending')`,
        [c.refund_id, error],
      );
    });
  }

  /**
   * The gateway says a refund ended (webhook or status read), found by our id
   * or the gateway's; forward only. Answers the refund when this call moved it.
   */
  async settleRefund(
    tx: SqlTx,
    r: { ourId: string | undefined; gatewayRef: string; outcome: 'processed' | 'failed' },
  ): Promise<MovedRefund | undefined> {
    const res = await tx.query<MovedRefund>(
      `UPDATE refunds SET status = $3, gateway_ref = COALESCE(gateway_ref, $2), updated_at = now(), settled_at = now(),
         accepted_at = COALESCE(accepted_at, now()),
         failure = CASE WHEN $3 = 'failed' THEN 'refund.failed at the gateway' ELSE failure END
       WHERE (id = $1 OR gateway_ref = $2) AND status IN ('requested', 'pending')
       RETURNING id, order_id, amount_paise, status`,
      [r.ourId ?? '', r.gatewayRef, r.outcome],
    );
    return res.rows[0];
  }

  /** Payment requests still open at the gateway after `olderThanMs`. */
  async stuckPayments(olderThanMs: number, limit: number): Promise<StuckPayment[]> {
    return (
      await this.db.query<StuckPayment>(
        `SELECT id, order_id, transaction_id, gateway_order_id, amount_paise, expires_at FROM payments
       WHERE status IN ('created', 'pending') AND gateway_order_id IS NOT NULL
         AND updated_at < now() - $1 * interval '1 millisecond'
       ORDER BY updated_at LIMIT $2`,
        [olderThanMs, limit],
      )
    ).rows;
  }

  /**
   * Gives up on a payment request past its deadline with nothing captured, so
   * reconciliation stops asking about it. A capture that still comes is recorded (settlePayment).
   */
  async expirePayment(id: string): Promise<boolean> {
    return (
      (
        await this.db.query(
          `UPDATE payments SET status = 'expired', updated_at = now()
       WHERE id = $1 AND status IN ('created', 'pending') AND expires_at < now() RETURNING id`,
          [id],
        )
      ).rows.length === 1
    );
  }

  /** Refunds the gateway accepted that have not ended after `olderThanMs`. */
  async stuckRefunds(olderThanMs: number, limit: number): Promise<StuckRefund[]> {
    return (
      await this.db.query<StuckRefund>(
        `SELECT r.id, r.gateway_ref, p.gateway_ref AS gateway_payment
       FROM refunds r JOIN payments p ON p.id = r.payment_id
       WHERE r.status = 'pending' AND r.gateway_ref IS NOT NULL AND p.gateway_ref IS NOT NULL
         AND r.updated_at < now() - $1 * interval '1 millisecond'
       ORDER BY r.updated_at LIMIT $2`,
        [olderThanMs, limit],
      )
    ).rows;
  }

  /**
   * Captured payments of cancelled orders with no refund: a capture recorded
   * while the cancellation was being written (each missed the other). The
   * refund is asked here, under the same key, so it is still one refund.
   * Only captures of the last 7 days (far beyond an order's life), so the scan stays small.
   */
  async refundsMissing(limit: number): Promise<MissingRefund[]> {
    return (
      await this.db.query<MissingRefund>(
        `SELECT p.id, p.order_id, p.amount_paise, 'order_' || (e.body->>'reason') AS reason
       FROM payments p
       JOIN engine_events e ON e.aggregate = 'order' AND e.aggregate_id = p.order_id AND e.type = 'order_cancelled'
       WHERE p.status = 'captured' AND p.captured_at > now() - interval '7 days'
         AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id)
       LIMIT $1`,
        [limit],
      )
    ).rows;
  }

  /** Captured payments in [from, to) with what we hold as refunded or accepted, for checking against the gateway. */
  async capturedPayments(from: Date, to: Date): Promise<CapturedPayment[]> {
    return (
      await this.db.query<CapturedPayment>(
        `SELECT p.id, p.gateway_ref, p.amount_paise,
              COALESCE((SELECT sum(r.amount_paise) FROM refunds r
                        WHERE r.payment_id = p.id AND r.status = 'processed'), 0)::bigint AS refunded_paise,
              COALESCE((SELECT sum(r.amount_paise) FROM refunds r
                        WHERE r.payment_id = p.id AND r.status IN ('pending', 'processed')), 0)::bigint
                AS refund_accepted_paise
       FROM payments p WHERE p.status = 'captured' AND p.captured_at >= $1 AND p.captured_at < $2 ORDER BY p.id`,
        [from, to],
      )
    ).rows;
  }

  /** Per restaurant, in paise, payments captured (by capture time) in [from, to) and what became of them. */
  async settlement(from: Date, to: Date): Promise<SettlementRow[]> {
    return (
      await this.db.query<SettlementRow>(
        `SELECT o.restaurant_id,
              sum(p.amount_paise)::bigint AS captured_paise,
              COALESCE(sum(r.amount_paise) FILTER (WHERE r.status = 'processed'), 0)::bigint AS refunded_paise,
              COALESCE(sum(r.amount_paise) FILTER (WHERE r.status IN ('requested', 'pending')), 0)::bigint
                AS refund_pending_paise,
              COALESCE(sum(r.amount_paise) FILTER (WHERE r.status = 'failed'), 0)::bigint AS refund_failed_paise,
              (sum(p.amount_paise) - COALESCE(sum(r.amount_paise) FILTER (WHERE r.status = 'processed'), 0))::bigint
                AS net_paise,
              count(*)::int AS payments, count(r.id)::int AS refunds
       FROM payments p JOIN orders o ON o.id = p.order_id LEFT JOIN refunds r ON r.payment_id = p.id
       WHERE p.status = 'captured' AND p.captured_at >= $1 AND p.captured_at < $2
       GROUP BY o.restaurant_id ORDER BY o.restaurant_id`,
        [from, to],
      )
    ).rows;
  }
}
