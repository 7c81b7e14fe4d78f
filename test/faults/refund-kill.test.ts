/**
 * `kill -9` of the server between an order's cancellation and the refund
 * relay's record of it: the server runs as a child process (what `npm start`
 * runs) on a throwaway database and the machine's Redis, against the sandbox
 * gateway in this process. Twice:
 *
 * 1. the gateway performs the refund but its answer never comes (the relay
 *    is left waiting), and the server is killed: after restart the relay
 *    sends the same key again and the gateway answers its first refund;
 * 2. the gateway answers nothing at all (the refund was never made), and the
 *    server is killed once the cancellation and its outbox row are in
 *    Postgres: after restart the refund is sent.
 *
 * Either way the sandbox's ledger holds exactly one refund for the payment,
 * and the order shows `refunded`.
 */
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { getAuth } from 'firebase-admin/auth';
import { startSandbox } from '../../adapters/payments/sandbox-server.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { until } from '../contracts/job-queue.contract.js';
import { useAuthEmulator } from '../support/firebase-emulator.js';
import { gatewayPaymentOf, WEBHOOK_SECRET } from '../support/money-world.js';
import { throwawayDatabase } from '../support/pg.js';
import { api, makeCast, openRestaurant, seed } from '../support/rest-server.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';

const sandbox = await startSandbox({ webhookUrl: 'http://127.0.0.1:9/not-yet', webhookSecret: WEBHOOK_SECRET });
t.teardown(() => sandbox.close());
const setFaults = async (f: Record<string, unknown>) =>
  (await fetch(`${sandbox.url}/sandbox/faults`, { method: 'POST', body: JSON.stringify(f) })).json();
const dbUrl = await throwawayDatabase(t, 'refund_kill');
const db = serverDatabase(dbUrl, { max: 1 });
t.teardown(() => db.close());
const emu = await useAuthEmulator(t);
const env: Record<string, string> = {
  NODE_ENV: 'test',
  SERVER_HOST: '127.0.0.1',
  SERVER_PORT: '0',
  DATABASE_URL: dbUrl,
  REDIS_URL: 'redis://127.0.0.1:6379',
  QUEUE_PREFIX: `rk${process.pid}${randomBytes(3).toString('hex')}`,
  QUEUE_LOCK_MS: '3000',
  FIREBASE_AUTH_EMULATOR_HOST: emu.host,
  FIREBASE_PROJECT_ID: emu.projectId,
  ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  UPI_GATEWAY_URL: sandbox.url,
  PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET,
  PAYMENT_RECONCILE_AFTER_MS: '1000',
  PAYMENT_RECONCILE_EVERY_MS: '250',
};
process.env['FIREBASE_AUTH_EMULATOR_HOST'] = emu.host;
const app = initializeApp({ projectId: emu.projectId }, `refund-kill-${randomUUID()}`);
t.teardown(() => deleteApp(app));
const cast = await makeCast(getAuth(app));

let srv: ServerProcess = await spawnServer(t, env);
const base = () => `http://127.0.0.1:${srv.port}`;
sandbox.webhookUrl = `${base()}/payments/webhook`;
const shop = await openRestaurant(base(), cast.restaurant);

const outboxRow = async (payment: string) =>
  (
    await db.query<{ sent: boolean }>('SELECT sent_at IS NOT NULL AS sent FROM outbox WHERE key = $1', [
      `refund-${payment}`,
    ])
  ).rows[0];
const refundsAt = (gatewayPayment: string) => sandbox.ledger.totals().refundsByPayment[gatewayPayment] ?? 0;
const order = (id: string) => api(base(), 'GET', `/orders/${id}`, { token: cast.customer.token });

async function paidOrder(): Promise<{ order: string; payment: string; gatewayPayment: string }> {
  const o = await api(base(), 'POST', '/orders', {
    token: cast.customer.token,
    body: seed.order(shop.id, [{ menu_item_id: shop.items['Butter Chicken']!, quantity: 1 }]),
  });
  const p = await api(base(), 'POST', '/payments', {
    token: cast.customer.token,
    body: { order_id: o.body.id, payment_method: { type: 'UPI', vpa: 'user@paytm' }, amount: 280 },
  });
  if (p.status !== 201) throw new Error(JSON.stringify(p.body));
  const g = gatewayPaymentOf(sandbox, p.body.id)!;
  sandbox.ledger.capture(g.id);
  await until(async () => (await order(o.body.id)).body.payment_status === 'paid', 20_000);
  return { order: o.body.id, payment: p.body.id, gatewayPayment: g.id };
}

async function restart(): Promise<void> {
  await srv.kill9();
  await setFaults({});
  srv = await spawnServer(t, env);
  sandbox.webhookUrl = `${base()}/payments/webhook`;
}

t.test("killed while the gateway's answer to a refund it made is lost: refunded once after restart", async (t) => {
  const paid = await paidOrder();
  await setFaults({ refundTimeout: 1000 });
  t.equal(
    (
      await api(base(), 'PUT', `/orders/${paid.order}/status`, {
        token: cast.customer.token,
        body: { status: 'cancelled' },
      })
    ).status,
    200,
  );
  await until(() => refundsAt(paid.gatewayPayment) === 1, 20_000);
  t.equal((await outboxRow(paid.payment))?.sent, false, 'the relay has not recorded it');
  await restart();
  // The dead relay's claim lapses after its lease (30 s), then the restarted one sends the same key.
  await until(async () => (await outboxRow(paid.payment))?.sent === true, 50_000);
  await until(async () => (await order(paid.order)).body.payment_status === 'refunded', 50_000);
  t.equal(refundsAt(paid.gatewayPayment), 1, 'one refund in the sandbox ledger');
});

t.test(
  'killed after the cancellation is stored, before any refund reached the gateway: sent once after restart',
  async (t) => {
    const paid = await paidOrder();
    await setFaults({ timeout: 100_000 });
    t.equal(
      (
        await api(base(), 'PUT', `/orders/${paid.order}/status`, {
          token: cast.customer.token,
          body: { status: 'cancelled' },
        })
      ).status,
      200,
    );
    await until(async () => (await outboxRow(paid.payment)) !== undefined, 20_000);
    t.equal(refundsAt(paid.gatewayPayment), 0, 'nothing reached the gateway');
    await restart();
    await until(async () => (await order(paid.order)).body.payment_status === 'refunded', 50_000);
    t.equal(refundsAt(paid.gatewayPayment), 1, 'one refund in the sandbox ledger');
  },
);
