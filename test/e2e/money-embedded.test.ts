/**
 * The money path on embedded storage (PGlite, in-process queue), as `./dev start`
 * runs it with the sandbox gateway: paid through the gateway, cancelled,
 * refunded once, with the relay's and reconciliation's SQL on PGlite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { orderUntil, paidOrder, startMoneyWorld, unpaidOrder } from '../support/money-world.js';
import { api } from '../support/rest-server.js';

const dataDir = mkdtempSync(join(tmpdir(), 'dispatch-money-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
const w = await startMoneyWorld(t, { DATA_DIR: dataDir }, {}, true);

t.test('embedded: a paid order cancelled is refunded once; a lost capture webhook is reconciled', async (t) => {
  const paid = await paidOrder(w);
  t.equal((await api(w.url, 'PUT', `/orders/${paid.order}/status`, { token: w.cast.customer.token, body: { status: 'cancelled' } })).status, 200);
  const o = await orderUntil(w, paid.order, (b) => b.payment_status === 'refunded');
  t.match(o.refund, { status: 'processed', amount: 280 });
  t.equal(w.sandbox.ledger.totals().refundsByPayment[paid.gatewayPayment], 1);

  const u = await unpaidOrder(w);
  await fetch(`${w.sandbox.url}/sandbox/faults`, { method: 'POST', body: JSON.stringify({ dropPayment: u.gatewayPayment }) });
  w.sandbox.ledger.capture(u.gatewayPayment);
  t.equal((await orderUntil(w, u.order, (b) => b.payment_status === 'paid')).engine_state, 'awaiting_restaurant');
});
