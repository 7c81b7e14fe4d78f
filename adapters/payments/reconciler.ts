/**
 * Reconciliation: a periodic job for what webhooks did not settle. It asks
 * the gateway about payment requests still open after `afterMs` (a capture
 * webhook that never came) and refunds pending after `afterMs`, and applies
 * the answers exactly as a webhook would (same code, an inbox id of its own,
 * forward-only moves). It also asks for the refund of any captured payment of
 * a cancelled order that has none (a capture and a cancellation that crossed),
 * under the usual key, so it is still one refund.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError, type PaymentGateway } from '../../engine/ports/payment-gateway.js';
import type { paymentSettlement } from '../http/handlers/payment-webhook.js';
import type { CatalogStore } from '../postgres/catalog-store.js';
import type { MoneyStore } from '../postgres/money-store.js';
import type { RelayLogger } from './refund-relay.js';

export interface ReconcilerOptions {
  readonly gateway: PaymentGateway;
  readonly money: MoneyStore;
  /** Opens the transaction a missing refund is asked for in. */
  readonly catalog: CatalogStore;
  readonly settlement: ReturnType<typeof paymentSettlement>;
  readonly log: RelayLogger;
  /** How long a payment or refund may stay open before the gateway is asked. */
  readonly afterMs: number;
  readonly everyMs: number;
  readonly batch?: number;
}

export interface ReconcileReport {
  readonly paymentsChecked: number;
  readonly paymentsSettled: number;
  readonly paymentsExpired: number;
  readonly refundsChecked: number;
  readonly refundsSettled: number;
  readonly refundsRequested: number;
  readonly errors: number;
}

export class Reconciler {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<ReconcileReport> | undefined;

  constructor(readonly o: ReconcilerOptions) {}

  start(): this {
    this.#timer = setInterval(() => {
      this.runOnce().then(
        (r) => {
          const did = r.paymentsSettled + r.paymentsExpired + r.refundsSettled + r.refundsRequested + r.errors;
          if (did > 0) this.o.log.info({ msg: 'reconciliation', ...r });
        },
        (err: unknown) => this.o.log.warn({ msg: 'reconciliation failed; tried again next round', err: String(err) }),
      );
    }, this.o.everyMs);
    this.#timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  /** One pass. Public for tests and the load script. */
  runOnce(): Promise<ReconcileReport> {
    this.#running ??= this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(): Promise<ReconcileReport> {
    const { gateway, money, catalog, settlement, afterMs } = this.o;
    const batch = this.o.batch ?? 100;
    let paymentsSettled = 0;
    let paymentsExpired = 0;
    let refundsSettled = 0;
    let refundsRequested = 0;
    let errors = 0;
    // One item that fails (the gateway away, or anything else) is logged and left for the next pass;
    // it must not stop the items after it, nor the refunds asked for at the end of the pass.
    const note = (err: unknown, what: string) => {
      errors++;
      if (err instanceof GatewayError) this.o.log.warn({ msg: `reconciliation: ${what}`, err: err.message });
      else this.o.log.error({ msg: `reconciliation: ${what} failed`, err: String(err) });
    };

    const payments = await money.stuckPayments(afterMs, batch);
    for (const p of payments) {
      try {
        const attempts = await gateway.paymentsOfOrder(p.gateway_order_id);
        const captured = attempts.find((a) => a.status === 'captured' || a.status === 'refunded');
        const failed = attempts.length > 0 && attempts.every((a) => a.status === 'failed');
        const g = captured ?? (failed ? attempts[0] : undefined);
        if (!g) {
          // Nothing captured well past the deadline (the engine cancelled the order then): stop asking.
          const lapsed = new Date(p.expires_at).getTime() + afterMs < Date.now();
          if (lapsed && (await money.expirePayment(p.id))) paymentsExpired++;
          continue;
        }
        const event = captured ? 'payment.captured' : 'payment.failed';
        await settlement.paymentEvent(
          `recon-${g.id}-${event}`,
          event,
          { source: 'reconciliation', payment: g },
          {
            transactionId: p.transaction_id,
            gatewayPaymentId: g.id,
            amount: g.amount,
          },
        );
        paymentsSettled++;
      } catch (err) {
        note(err, `payment ${p.id}`);
      }
    }

    const refunds = await money.stuckRefunds(afterMs, batch);
    for (const r of refunds) {
      try {
        const g = await gateway.fetchRefund(r.gateway_payment, r.gateway_ref);
        if (g.status === 'pending') continue;
        const event = g.status === 'processed' ? 'refund.processed' : 'refund.failed';
        const wire = { id: g.id, payment_id: g.paymentId, amount: g.amount, status: g.status };
        await settlement.refundEvent(`recon-${g.id}-${event}`, {
          event,
          payload: {
            refund: { entity: { ...wire, notes: { refund_id: r.id } } },
          },
        });
        refundsSettled++;
      } catch (err) {
        note(err, `refund ${r.id}`);
      }
    }

    for (const m of await money.refundsMissing(batch)) {
      const ask = { id: randomUUID(), paymentId: m.id, amountPaise: m.amount_paise, reason: m.reason };
      try {
        const created = await catalog.transaction('reconcile refund', (tx) => money.requestRefund(tx, ask));
        if (created) refundsRequested++;
      } catch (err) {
        note(err, `refund of payment ${m.id}`);
      }
    }
    return {
      paymentsChecked: payments.length,
      paymentsSettled,
      paymentsExpired,
      refundsChecked: refunds.length,
      refundsSettled,
      refundsRequested,
      errors,
    };
  }
}
