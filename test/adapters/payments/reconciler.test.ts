import t from 'tap';
import { Reconciler, type ReconcilerOptions } from '../../../adapters/payments/reconciler.js';
import { GatewayError, type PaymentGateway } from '../../../engine/ports/payment-gateway.js';
import type { CatalogStore } from '../../../adapters/postgres/catalog-store.js';
import type { MoneyStore, StuckPayment } from '../../../adapters/postgres/money-store.js';

/**
 * One reconciliation pass's control flow: an item that fails, whatever the
 * error, is logged and counted, and the pass goes on to the next item and to
 * the refunds a crossed capture and cancellation still owe. (The queries and
 * the settlement run against Postgres in test/adapters/postgres/refund-outbox.test.ts
 * and the money end-to-end tests.)
 */

const stuck = (id: string): StuckPayment => ({
  id,
  expires_at: new Date(Date.now() + 60_000),
  order_id: `order-${id}`,
  transaction_id: `tx-${id}`,
  gateway_order_id: `gw-${id}`,
  amount_paise: 1000,
});

function world(failure: Error) {
  const logged: { level: string; msg: unknown }[] = [];
  const settled: string[] = [];
  const refunds: string[] = [];
  const gateway = {
    async paymentsOfOrder(gatewayOrderId: string) {
      if (gatewayOrderId === 'gw-bad') throw failure;
      return [{ id: `pay-${gatewayOrderId}`, status: 'captured', amount: 1000 }];
    },
  } as unknown as PaymentGateway;
  const money = {
    stuckPayments: async () => [stuck('bad'), stuck('good')],
    stuckRefunds: async () => [],
    refundsMissing: async () => [
      { id: 'p-broken', order_id: 'o-1', amount_paise: 500, reason: 'order_cancelled' },
      { id: 'p-owed', order_id: 'o-2', amount_paise: 700, reason: 'order_cancelled' },
    ],
    expirePayment: async () => false,
    requestRefund: async (_tx: unknown, ask: { paymentId: string }) => {
      if (ask.paymentId === 'p-broken') throw new Error('could not serialize access');
      refunds.push(ask.paymentId);
      return true;
    },
  } as unknown as MoneyStore;
  const catalog = {
    transaction: async <T>(_what: string, fn: (tx: unknown) => Promise<T>) => fn({}),
  } as unknown as CatalogStore;
  const settlement = {
    paymentEvent: async (eventId: string) => {
      settled.push(eventId);
      return { status: 'processed', result: 'payment captured' };
    },
    refundEvent: async () => ({ status: 'processed', result: '' }),
  } as unknown as ReconcilerOptions['settlement'];
  const log = {
    info: (o: Record<string, unknown>) => logged.push({ level: 'info', msg: o['msg'] }),
    warn: (o: Record<string, unknown>) => logged.push({ level: 'warn', msg: o['msg'] }),
    error: (o: Record<string, unknown>) => logged.push({ level: 'error', msg: o['msg'] }),
  };
  const rec = new Reconciler({ gateway, money, catalog, settlement, log, afterMs: 1000, everyMs: 1000 });
  return { rec, logged, settled, refunds };
}

for (const [name, failure] of [
  ['the gateway away', new GatewayError('transient', 'connect ECONNREFUSED')],
  ['a fault of our own', new TypeError("Cannot read properties of undefined (reading 'status')")],
] as const) {
  t.test(`one payment failing (${name}) stops neither the others nor the refunds owed`, async (t) => {
    const w = world(failure);
    const r = await w.rec.runOnce();
    t.same(w.settled, ['recon-pay-gw-good-payment.captured'], 'the payment after the failing one is settled');
    t.same(w.refunds, ['p-owed'], 'the refund after the failing one is asked for');
    t.match(r, { paymentsChecked: 2, paymentsSettled: 1, refundsRequested: 1, errors: 2 });
    t.match(w.logged, [
      { level: failure instanceof GatewayError ? 'warn' : 'error', msg: /reconciliation: payment bad/ },
      { level: 'error', msg: /reconciliation: refund of payment p-broken failed/ },
    ]);
  });
}
