/**
 * A capture settled by the webhook's code (`paymentSettlement`, which
 * reconciliation shares), on Postgres with a real engine: the engine hears of
 * the capture only after the settling transaction has committed, and an order
 * cancelled in that gap (the customer gave up just then) gets its money back
 * at once, not at reconciliation's next sweep.
 */
import t from 'tap';
import { paymentSettlement } from '../../../adapters/http/handlers/payment-webhook.js';
import { CatalogStore } from '../../../adapters/postgres/catalog-store.js';
import { MoneyStore } from '../../../adapters/postgres/money-store.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import { throwawayDatabase } from '../../support/pg.js';
import { world } from '../../engine/world.js';

const db = serverDatabase(await throwawayDatabase(t, 'capture_settlement'), { max: 2 });
t.teardown(() => db.close());
await migrate(db);

let n = 0;
/** An order waiting for its payment in a fresh engine, and its payment row (pending). */
async function waitingOrder() {
  const w = world();
  const id = `pay-${++n}`;
  const order = w.order(w.restaurant(), { paid: false, id: `cs-order-${n}` });
  await db.query(
    `INSERT INTO payments (id, order_id, gateway, gateway_ref, amount_paise, status, transaction_id, expires_at)
     VALUES ($1, $2, 'razorpay', NULL, 28000, 'pending', $3, now() + interval '15 minutes')`,
    [id, order, `TXN-CS-${n}`],
  );
  return { w, order, payment: id, transactionId: `TXN-CS-${n}` };
}

function settlementFor(w: ReturnType<typeof world>, catalog: CatalogStore) {
  return paymentSettlement({
    engine: w.engine,
    commands: w.engine,
    catalog,
    money: new MoneyStore(db),
    durable: async () => {},
    newId: () => `refund-id-${++n}`,
    notify: () => {},
  } as unknown as Parameters<typeof paymentSettlement>[0]);
}

const refundsOf = async (payment: string) =>
  (
    await db.query<{ reason: string; amount_paise: number }>(
      'SELECT reason, amount_paise FROM refunds WHERE payment_id = $1',
      [payment],
    )
  ).rows;

t.test('the engine is told after the commit: while the transaction runs, the order is still unpaid', async (t) => {
  const o = await waitingOrder();
  const catalog = new CatalogStore(db);
  const seen: boolean[] = [];
  const watching = Object.assign(Object.create(catalog) as CatalogStore, {
    transaction: <T>(what: string, fn: (tx: never) => Promise<T>) =>
      catalog.transaction(what, async (tx) => {
        const r = await fn(tx as never);
        const v = o.w.engine.getOrder(o.order);
        seen.push(v.ok && v.value.paid);
        return r;
      }),
  });
  const answer = await settlementFor(o.w, watching).paymentEvent(
    'evt-cs-1',
    'payment.captured',
    {},
    {
      transactionId: o.transactionId,
      gatewayPaymentId: 'pay_gw_1',
      amount: 28000,
    },
  );
  t.same(answer, { status: 'processed', result: 'payment captured; order confirmed' });
  t.same(seen, [false], 'not paid inside the transaction');
  t.match(o.w.engine.getOrder(o.order), { ok: true, value: { paid: true } }, 'paid once it committed');
  t.same(await refundsOf(o.payment), []);
});

t.test('an order cancelled between the commit and the confirmation is refunded at once', async (t) => {
  const o = await waitingOrder();
  const catalog = new CatalogStore(db);
  const gap = Object.assign(Object.create(catalog) as CatalogStore, {
    transaction: async <T>(what: string, fn: (tx: never) => Promise<T>) => {
      const r = await catalog.transaction(what, fn as never);
      // The customer's cancellation lands after the capture committed, before the engine heard of it.
      if (what === 'payment webhook') t.ok(o.w.engine.cancelOrder({ orderId: o.order, by: 'customer' }).ok);
      return r as T;
    },
  });
  const answer = await settlementFor(o.w, gap).paymentEvent(
    'evt-cs-2',
    'payment.captured',
    {},
    {
      transactionId: o.transactionId,
      gatewayPaymentId: 'pay_gw_2',
      amount: 28000,
    },
  );
  t.same(answer, { status: 'processed', result: 'payment captured; refund requested' });
  t.match(o.w.engine.getOrder(o.order), { ok: true, value: { state: 'cancelled', paid: false } });
  t.match(await refundsOf(o.payment), [{ reason: 'order_cancelled', amount_paise: 28000 }]);
  const again = await settlementFor(o.w, catalog).paymentEvent(
    'evt-cs-2',
    'payment.captured',
    {},
    {
      transactionId: o.transactionId,
      gatewayPaymentId: 'pay_gw_2',
      amount: 28000,
    },
  );
  t.equal(again.status, 'duplicate');
  t.equal((await refundsOf(o.payment)).length, 1, 'one refund however often the event comes');
});
