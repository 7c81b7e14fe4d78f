/**
 * The refund relay: sends the outbox's refund rows to the payment gateway.
 * Each row carries its idempotency key (`refund-<payment id>`), sent as
 * `X-Refund-Idempotency` on every attempt, so a retry after a timeout, a crash
 * or a restart gets the gateway's first refund back, never a second. Rows are
 * claimed under a lease (a relay that dies leaves them due again), transient
 * failures are retried with jittered backoff, a rejection is flagged for an
 * operator. The customer is told a refund is on its way only once the gateway
 * has accepted it.
 */
import { GatewayError, type PaymentGateway } from '../../engine/ports/payment-gateway.js';
import type { RefundStage } from '../../engine/notify-rules.js';
import type { ClaimedRefund, MoneyStore } from '../postgres/money-store.js';

export interface RelayLogger {
  info(o: Record<string, unknown>): void;
  warn(o: Record<string, unknown>): void;
  error(o: Record<string, unknown>): void;
}

export interface RefundRelayOptions {
  readonly store: MoneyStore;
  readonly gateway: PaymentGateway;
  /** Tells the order's watchers (the customer's stream); called after the change is committed. */
  readonly notify: (orderId: string, message: string, refund: { refundId: string; stage: RefundStage }) => void;
  readonly log: RelayLogger;
  /** Told each round's counts (metrics). */
  readonly onRound?: (r: RelayRound) => void;
  /** Between polls when idle (default 200). */
  readonly pollMs?: number;
  /** A claimed row is due again after this long if its relay vanished (default 30000: beyond a call's retries). */
  readonly leaseMs?: number;
  readonly batch?: number;
  /** Retry delay base and cap (defaults 1000 and 300000), with jitter. */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
  readonly random?: () => number;
}

export const rupees = (paise: number): string => `₹${(paise / 100).toFixed(2)}`;

export interface RelayRound {
  readonly sent: number;
  readonly retried: number;
  readonly rejected: number;
}

export class RefundRelay {
  readonly #o: RefundRelayOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<RelayRound> | undefined;
  #stopped = false;

  constructor(o: RefundRelayOptions) {
    this.#o = o;
  }

  start(): this {
    this.#stopped = false;
    this.#schedule(0);
    return this;
  }

  /** One round: claims due rows and sends each. Public for tests and the load script. */
  runOnce(): Promise<RelayRound> {
    this.#running ??= this.#round().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Stops polling; resolves after the round in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.runOnce().then(
        (r) => {
          this.#o.onRound?.(r);
          this.#schedule(r.sent + r.retried + r.rejected > 0 ? 0 : (this.#o.pollMs ?? 200));
        },
        (err: unknown) => {
          this.#o.log.warn({ msg: 'refund relay round failed; trying again', err: String(err) });
          this.#schedule(1_000);
        },
      );
    }, ms);
    this.#timer.unref();
  }

  async #round(): Promise<RelayRound> {
    const o = this.#o;
    const claimed = await o.store.claimRefunds(o.batch ?? 20, o.leaseMs ?? 30_000);
    const outcomes = await Promise.all(claimed.map((c) => this.#send(c)));
    return {
      sent: outcomes.filter((x) => x === 'sent').length,
      retried: outcomes.filter((x) => x === 'retried').length,
      rejected: outcomes.filter((x) => x === 'rejected').length,
    };
  }

  async #send(c: ClaimedRefund): Promise<'sent' | 'retried' | 'rejected'> {
    const o = this.#o;
    if (c.gateway_ref === null) {
      await o.store.refundRejected(c, 'the payment has no gateway payment id');
      o.log.error({ msg: 'refund flagged for an operator', refund: c.refund_id, why: 'no gateway payment id' });
      return 'rejected';
    }
    try {
      const r = await o.gateway.createRefund({
        paymentId: c.gateway_ref,
        amount: c.amount_paise,
        idempotencyKey: c.key,
        notes: { refund_id: c.refund_id, order_id: c.order_id, reason: c.reason },
      });
      const moved = await o.store.refundAccepted(c, r.id, r.status === 'processed');
      if (moved)
        o.notify(
          c.order_id,
          moved.status === 'processed'
            ? `Your refund of ${rupees(c.amount_paise)} has been completed`
            : `Your refund of ${rupees(c.amount_paise)} is on its way`,
          { refundId: c.refund_id, stage: moved.status === 'processed' ? 'completed' : 'accepted' },
        );
      o.log.info({
        msg: 'refund accepted by the gateway',
        refund: c.refund_id,
        gateway_refund: r.id,
        attempts: c.attempts,
      });
      return 'sent';
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError('transient', String(err));
      if (e.kind === 'rejected') {
        await o.store.refundRejected(c, e.message);
        o.log.error({
          msg: 'refund rejected by the gateway; flagged for an operator',
          refund: c.refund_id,
          err: e.message,
        });
        return 'rejected';
      }
      const base = o.retryBaseMs ?? 1_000;
      const cap = Math.min(o.retryCapMs ?? 300_000, base * 2 ** Math.min(c.attempts, 20));
      const delay = Math.floor(cap / 2 + (o.random ?? Math.random)() * (cap / 2));
      await o.store.refundRetryLater(c, delay, e.message);
      o.log.warn({
        msg: 'refund not sent; trying again',
        refund: c.refund_id,
        attempts: c.attempts,
        in_ms: delay,
        err: e.message,
      });
      return 'retried';
    }
  }
}
