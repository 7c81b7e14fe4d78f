/**
 * The transactional outbox of refunds: the write-behind statement that stores
 * an order's cancellation also writes its refund and outbox rows, for every
 * reason the engine cancels a paid order, once however often the batch is
 * written; and reconciliation's query finds a captured payment of a cancelled
 * order that has no refund (a capture that landed after the cancellation).
 */
import t from 'tap';
import { MoneyStore } from '../../../adapters/postgres/money-store.js';
import { migrate } from '../../../adapters/postgres/migrate.js';
import { PgEventStore } from '../../../adapters/postgres/pg-event-store.js';
import { serverDatabase } from '../../../adapters/postgres/server-database.js';
import type { EventRecord } from '../../../engine/ports/event-store.js';
import { throwawayDatabase } from '../../support/pg.js';

const db = serverDatabase(await throwawayDatabase(t, 'refund_outbox'), { max: 2 });
await migrate(db);
const store = new PgEventStore(db);
t.teardown(() => store.close());
const money = new MoneyStore(db);

let n = 0;
async function payment(orderId: string, status: string): Promise<string> {
  const id = `pay-${++n}`;
  await db.query(
    `INSERT INTO payments (id, order_id, gateway, gateway_ref, amount_paise, status, transaction_id, expires_at, captured_at)
     VALUES ($1, $2, 'razorpay', $3, 28000, $4, $5, now(), CASE WHEN $4 = 'captured' THEN now() END)`,
    [id, orderId, `gw_${id}`, status, `TXN${n}`],
  );
  return id;
}
const cancelled = (orderId: string, reason: string, refundDue: boolean, seq = 5): EventRecord => ({
  event: {
    type: 'order_cancelled',
    aggregate: 'order',
    id: orderId,
    seq,
    at: Date.now(),
    by: 'system',
    reason,
    fromState: 'preparing',
    refundDue,
    riderId: null,
  } as EventRecord['event'],
  state: null,
  idCounter: 0,
});
const rowsOf = async (paymentId: string) => ({
  refunds: (
    await db.query<{ status: string; amount_paise: number; reason: string; order_id: string }>(
      'SELECT status, amount_paise, reason, order_id FROM refunds WHERE payment_id = $1',
      [paymentId],
    )
  ).rows,
  outbox: (
    await db.query<{ topic: string; payload: { amount_paise: number } }>(
      'SELECT topic, payload FROM outbox WHERE key = $1',
      [`refund-${paymentId}`],
    )
  ).rows,
});

t.test('every reason the engine cancels a paid order: one refund and one outbox row, with the event', async (t) => {
  for (const reason of [
    'customer_request',
    'restaurant_rejected',
    'restaurant_timeout',
    'no_rider',
    'rider_lost',
    'order_expired',
    'admin',
  ]) {
    const order = `o-${reason}`;
    const p = await payment(order, 'captured');
    const batch = [cancelled(order, reason, true)];
    t.equal((await store.append(batch)).inserted, 1);
    t.equal((await store.append(batch)).inserted, 0, 'the batch again: nothing new');
    const rows = await rowsOf(p);
    t.match(
      rows.refunds,
      [{ status: 'requested', amount_paise: 28000, reason: `order_${reason}`, order_id: order }],
      reason,
    );
    t.equal(rows.refunds.length, 1);
    t.match(rows.outbox, [{ topic: 'payment.refund', payload: { amount_paise: 28000 } }]);
  }
});

t.test('no refund without captured money: unpaid, cash (no payment), a payment not captured', async (t) => {
  const unpaid = await payment('o-unpaid', 'captured');
  await store.append([cancelled('o-unpaid', 'payment_expired', false)]);
  t.same((await rowsOf(unpaid)).refunds, [], 'refundDue false');
  await store.append([cancelled('o-cash', 'customer_request', true)]);
  t.equal(
    (await db.query('SELECT 1 FROM refunds WHERE order_id = $1', ['o-cash'])).rows.length,
    0,
    'cash: no payment row',
  );
  const pending = await payment('o-pending', 'pending');
  await store.append([cancelled('o-pending', 'customer_request', true)]);
  t.same((await rowsOf(pending)).refunds, []);
  // The capture lands after the cancellation: reconciliation's query finds it.
  await db.query(`UPDATE payments SET status = 'captured', captured_at = now() WHERE id = $1`, [pending]);
  const missing = await money.refundsMissing(100);
  t.match(
    missing
      .filter((m) => m.id === pending || m.id === unpaid)
      .map((m) => m.id)
      .sort(),
    [pending, unpaid].sort(),
  );
});
