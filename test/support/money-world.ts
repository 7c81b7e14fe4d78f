/**
 * A server (Postgres, BullMQ on Redis, the Auth emulator) wired to a sandbox
 * gateway of its own, with helpers to take an order from cart to paid and to
 * watch its stream: what the money suites share.
 */
import WebSocket from 'ws';
import { type RunningSandbox, startSandbox } from '../../adapters/payments/sandbox-server.js';
import { until } from '../contracts/job-queue.contract.js';
import type { ServerHooks } from '../../adapters/server/server.js';
import { api, makeCast, openRestaurant, seed, startTestServer, type Tap } from './rest-server.js';

export const WEBHOOK_SECRET = 'money-webhook-secret-0123456789';

export type Cast = Awaited<ReturnType<typeof makeCast>>;

export async function startMoneyWorld(
  t: Tap,
  env: Record<string, string> = {},
  restaurant: Record<string, unknown> = {},
  embedded = false,
  hooks: ServerHooks = {},
) {
  const sandbox = await startSandbox({ webhookUrl: 'http://127.0.0.1:9/not-yet', webhookSecret: WEBHOOK_SECRET });
  t.teardown(() => sandbox.close());
  const ts = await startTestServer(t, {
    label: 'money',
    embedded,
    hooks,
    env: {
      PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET,
      UPI_GATEWAY_URL: sandbox.url,
      PAYMENT_RECONCILE_AFTER_MS: '1000',
      PAYMENT_RECONCILE_EVERY_MS: '250',
      ...env,
    },
  });
  sandbox.webhookUrl = `${ts.url}/payments/webhook`;
  const cast = await makeCast(ts.auth);
  const shop = await openRestaurant(ts.url, cast.restaurant, restaurant);
  return { ...ts, sandbox, cast, shop };
}

export type MoneyWorld = Awaited<ReturnType<typeof startMoneyWorld>>;

/** The sandbox's payment for our payment id (its notes carry ours). */
export const gatewayPaymentOf = (sandbox: RunningSandbox, paymentId: string) =>
  [...sandbox.ledger.payments.values()].find((p) => p.notes['payment_id'] === paymentId);

/** An order placed and its payment requested through the gateway (not yet paid). */
export async function unpaidOrder(
  w: MoneyWorld,
  qty = 1,
): Promise<{ order: string; payment: string; gatewayPayment: string; paymentUrl: string }> {
  const o = await api(w.url, 'POST', '/orders', {
    token: w.cast.customer.token,
    body: seed.order(w.shop.id, [{ menu_item_id: w.shop.items['Butter Chicken']!, quantity: qty }]),
  });
  if (o.status !== 201) throw new Error(`POST /orders: ${o.status} ${JSON.stringify(o.body)}`);
  const p = await api(w.url, 'POST', '/payments', {
    token: w.cast.customer.token,
    body: { order_id: o.body.id, payment_method: { type: 'UPI', vpa: 'user@paytm' }, amount: 280 * qty },
  });
  if (p.status !== 201) throw new Error(`POST /payments: ${p.status} ${JSON.stringify(p.body)}`);
  const g = gatewayPaymentOf(w.sandbox, p.body.id);
  if (!g) throw new Error('no gateway payment for the request');
  return { order: o.body.id, payment: p.body.id, gatewayPayment: g.id, paymentUrl: p.body.payment_url };
}

/** Polls the order until `check` holds. */
export async function orderUntil(
  w: MoneyWorld,
  order: string,
  check: (body: any) => boolean,
  ms = 20_000,
): Promise<any> {
  // One GET every 50 ms at most: the customer's token shares the REST rate limit (50 a second) with
  // the calls the test makes next, which a faster poll would get refused.
  let last: any;
  await until(
    async () => {
      last = (await api(w.url, 'GET', `/orders/${order}`, { token: w.cast.customer.token })).body;
      return check(last);
    },
    ms,
    50,
  ).catch(() => {
    throw new Error(`order ${order} never matched; last: ${JSON.stringify(last)}`);
  });
  return last;
}

/** Paid through the gateway: captured at the sandbox, confirmed by its webhook. */
export async function paidOrder(w: MoneyWorld): Promise<{ order: string; payment: string; gatewayPayment: string }> {
  const u = await unpaidOrder(w);
  w.sandbox.ledger.capture(u.gatewayPayment);
  await orderUntil(w, u.order, (b) => b.payment_status === 'paid');
  return u;
}

/** A customer's `/ws` stream subscribed to one order, collecting every message. */
export async function watch(w: MoneyWorld, order: string): Promise<{ msgs: any[]; close(): void }> {
  const ws = new WebSocket(`${w.url.replace('http', 'ws')}/ws`);
  const msgs: any[] = [];
  ws.on('message', (m: Buffer) => msgs.push(JSON.parse(m.toString('utf8'))));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'authenticate', token: w.cast.customer.token }));
  await until(() => msgs.some((m) => m.type === 'authenticated'));
  ws.send(JSON.stringify({ type: 'subscribe', order_id: order }));
  await until(() => msgs.some((m) => m.type === 'subscribed'));
  return { msgs, close: () => ws.close() };
}
