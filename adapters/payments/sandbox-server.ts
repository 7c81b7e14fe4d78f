/**
 * The sandbox gateway: an HTTP server that speaks the Razorpay API subset the
 * adapter uses (razorpay-gateway.ts) over a {@link SandboxLedger}, sends
 * signed webhooks to the app, and injects faults on request. Development
 * endpoints under `/sandbox/` capture or fail a payment, fail a refund, show
 * the ledger, set faults, and hold, release or replay webhooks; `GET /sandbox/pay/{id}`
 * is a page with the buttons a newcomer needs. Run with `npm run sandbox`.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GatewayError,
  type GatewayOrder,
  type GatewayPayment,
  type GatewayRefund,
} from '../../engine/ports/payment-gateway.js';
import { type LedgerEvent, SandboxLedger } from './sandbox-ledger.js';

export interface SandboxOptions {
  readonly port: number;
  readonly host: string;
  readonly keyId: string;
  readonly keySecret: string;
  readonly webhookUrl: string;
  readonly webhookSecret: string;
  /** Capture a UPI payment this long after it is created; null: only when told (default null). */
  readonly autoCaptureMs: number | null;
  /** A refund is processed this long after it is accepted (default 50); null: only when told. */
  readonly refundSettleMs: number | null;
}

/** Faults on request; counts are consumed one call (or webhook) at a time; probabilities apply to every one. */
export interface Faults {
  fail5xx: number;
  timeout: number;
  /** Refund calls that do the refund, then never answer. */
  refundTimeout: number;
  dropWebhooks: number;
  duplicateWebhooks: number;
  /** Every webhook about this gateway payment id is dropped (one that never comes, whatever else is in flight). */
  dropPayment: string;
  /** Webhooks wait this long before they leave (late). */
  webhookDelayMs: number;
  /** Webhooks are held until `POST /sandbox/webhooks/release` (in reverse order: out of order). */
  holdWebhooks: boolean;
  p5xx: number;
  pTimeout: number;
  pRefundTimeout: number;
  pDropWebhook: number;
  pDuplicateWebhook: number;
}

const noFaults = (): Faults => ({
  fail5xx: 0,
  timeout: 0,
  refundTimeout: 0,
  dropWebhooks: 0,
  duplicateWebhooks: 0,
  dropPayment: '',
  webhookDelayMs: 0,
  holdWebhooks: false,
  p5xx: 0,
  pTimeout: 0,
  pRefundTimeout: 0,
  pDropWebhook: 0,
  pDuplicateWebhook: 0,
});

const sec = () => Math.floor(Date.now() / 1000);
export const paymentToWire = (p: GatewayPayment) => ({
  id: p.id,
  entity: 'payment',
  amount: p.amount,
  currency: 'INR',
  status: p.status,
  order_id: p.orderId,
  method: 'upi',
  amount_refunded: p.amountRefunded,
  refund_status: p.amountRefunded === 0 ? null : p.amountRefunded === p.amount ? 'full' : 'partial',
  captured: p.status === 'captured' || p.status === 'refunded',
  notes: p.notes,
  created_at: sec(),
});
export const refundToWire = (r: GatewayRefund) => ({
  id: r.id,
  entity: 'refund',
  amount: r.amount,
  currency: 'INR',
  payment_id: r.paymentId,
  notes: r.notes,
  receipt: null,
  status: r.status,
  speed_requested: 'normal',
  speed_processed: 'normal',
  created_at: sec(),
});

type CountedFault = 'fail5xx' | 'timeout' | 'refundTimeout' | 'dropWebhooks' | 'duplicateWebhooks';

export interface RunningSandbox {
  readonly url: string;
  readonly ledger: SandboxLedger;
  readonly faults: Faults;
  /** Faults injected so far, by kind. */
  readonly injected: Readonly<Record<CountedFault, number>>;
  /** Capture and refund timing, changeable while running. */
  readonly settings: { autoCaptureMs: number | null; refundSettleMs: number | null };
  /** Where webhooks go (an app started after the sandbox learns its port late). */
  webhookUrl: string;
  /** Webhooks delivered (each attempt that got a 2xx), in order. */
  readonly delivered: { id: string; event: string; status: number }[];
  close(): Promise<void>;
}

export async function startSandbox(
  opts: Partial<SandboxOptions> & Pick<SandboxOptions, 'webhookUrl' | 'webhookSecret'>,
): Promise<RunningSandbox> {
  const o: SandboxOptions = {
    port: 0,
    host: '127.0.0.1',
    keyId: 'rzp_test_sandbox',
    keySecret: 'sandbox-secret',
    autoCaptureMs: null,
    refundSettleMs: 50,
    ...opts,
  };
  const ledger = new SandboxLedger();
  let faults = noFaults();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const delivered: RunningSandbox['delivered'] = [];
  let webhookUrl = o.webhookUrl;
  const settings = { autoCaptureMs: o.autoCaptureMs, refundSettleMs: o.refundSettleMs };
  const sent = new Map<string, string>();
  let held: { id: string; body: string }[] = [];
  const hanging = new Set<ServerResponse>();

  const chance = (p: number) => p > 0 && Math.random() < p;
  const injected = { fail5xx: 0, timeout: 0, refundTimeout: 0, dropWebhooks: 0, duplicateWebhooks: 0 };
  const take = (k: keyof typeof injected, p: number): boolean => {
    const hit = faults[k] > 0 ? (faults[k]--, true) : chance(p);
    if (hit) injected[k]++;
    return hit;
  };

  /** Posts one webhook; Razorpay retries any non-2xx with backoff, so does the sandbox (a few times, quickly). */
  const post = (id: string, body: string, attempt = 0): void => {
    const signature = createHmac('sha256', o.webhookSecret).update(body).digest('hex');
    const headers = {
      'content-type': 'application/json',
      'x-razorpay-signature': signature,
      'x-razorpay-event-id': id,
    };
    fetch(webhookUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(5_000) }).then(
      async (res) => {
        await res.arrayBuffer();
        if (res.ok) delivered.push({ id, event: (JSON.parse(body) as { event: string }).event, status: res.status });
        else if (attempt < 8) later(100 * 2 ** attempt, () => post(id, body, attempt + 1));
      },
      () => {
        if (attempt < 8) later(100 * 2 ** attempt, () => post(id, body, attempt + 1));
      },
    );
  };
  const send = (e: LedgerEvent): void => {
    const body = JSON.stringify({
      entity: 'event',
      account_id: 'acc_sandbox',
      event: e.event,
      contains: e.refund ? ['refund', 'payment'] : ['payment'],
      payload: {
        payment: { entity: paymentToWire(e.payment) },
        ...(e.refund ? { refund: { entity: refundToWire(e.refund) } } : {}),
      },
      created_at: sec(),
    });
    sent.set(e.id, body);
    if (faults.dropPayment !== '' && e.payment.id === faults.dropPayment) return;
    if (take('dropWebhooks', faults.pDropWebhook)) return;
    if (faults.holdWebhooks) {
      held.push({ id: e.id, body });
      return;
    }
    const twice = take('duplicateWebhooks', faults.pDuplicateWebhook);
    later(faults.webhookDelayMs, () => {
      post(e.id, body);
      if (twice) later(10, () => post(e.id, body));
    });
  };
  ledger.onEvent(send);

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: string, description: string) =>
    answer(res, status, { error: { code, description, source: 'business', reason: 'input_validation_failed' } });
  const notFound = (res: ServerResponse): Promise<void> => {
    error(res, 404, 'NOT_FOUND', 'not found');
    return Promise.resolve();
  };
  const authorised = (req: IncomingMessage): boolean => {
    const want = Buffer.from(`Basic ${Buffer.from(`${o.keyId}:${o.keySecret}`).toString('base64')}`);
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === want.length && timingSafeEqual(got, want);
  };
  const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  };

  const api = async (req: IncomingMessage, res: ServerResponse, path: string[]): Promise<void> => {
    if (!authorised(req)) {
      error(res, 401, 'BAD_REQUEST_ERROR', 'The api key provided is invalid');
      return;
    }
    const isRefund = req.method === 'POST' && path[1] === 'payments' && path[3] === 'refund';
    if (take('timeout', faults.pTimeout)) {
      hanging.add(res);
      return;
    }
    if (take('fail5xx', faults.p5xx)) {
      error(res, 500, 'SERVER_ERROR', 'sandbox: injected failure');
      return;
    }
    const b = req.method === 'POST' ? await readJson(req) : {};
    const m = `${req.method} /${path.join('/')}`;
    const notes = (b['notes'] ?? {}) as Record<string, string>;
    if (m === 'POST /v1/orders') {
      const order = ledger.createOrder({ amount: b['amount'] as number, receipt: b['receipt'] as string, notes });
      answer(res, 200, wireOrder(order));
      return;
    }
    if (m === 'POST /v1/payments/create/upi') {
      const intent = ledger.createUpiIntent({ orderId: String(b['order_id']), vpa: '', payee: 'sandbox@razorpay' });
      const captureMs = settings.autoCaptureMs;
      if (captureMs !== null) later(captureMs, () => ledger.capture(intent.paymentId));
      answer(res, 200, { razorpay_payment_id: intent.paymentId, link: intent.link });
      return;
    }
    const get = req.method === 'GET';
    const [, kind, id] = path;
    if (get && kind === 'orders' && path.length === 3) {
      answer(res, 200, wireOrder(ledger.fetchOrder(id!)));
      return;
    }
    if (get && path[1] === 'orders' && path[3] === 'payments') {
      const items = ledger.paymentsOfOrder(path[2]!).map(paymentToWire);
      answer(res, 200, { entity: 'collection', count: items.length, items });
      return;
    }
    if (get && kind === 'payments' && path.length === 3) {
      answer(res, 200, paymentToWire(ledger.fetchPayment(id!)));
      return;
    }
    if (isRefund) {
      const key = String(req.headers['x-refund-idempotency'] ?? '');
      const ask = { paymentId: id!, amount: b['amount'] as number, idempotencyKey: key, notes };
      const { refund, replay } = ledger.createRefund(ask);
      const settleMs = settings.refundSettleMs;
      if (!replay && settleMs !== null) later(settleMs, () => ledger.settleRefund(refund.id, 'processed'));
      // Done, but the answer is lost: the caller must retry with the same key.
      if (take('refundTimeout', faults.pRefundTimeout)) {
        hanging.add(res);
        return;
      }
      answer(res, 200, refundToWire(refund));
      return;
    }
    if (get && path[1] === 'payments' && path[3] === 'refunds' && path.length === 5) {
      answer(res, 200, refundToWire(ledger.fetchRefund(path[2]!, path[4]!)));
      return;
    }
    error(res, 404, 'NOT_FOUND', `no route ${m}`);
  };

  const dev = async (req: IncomingMessage, res: ServerResponse, path: string[]): Promise<void> => {
    const m = `${req.method} ${path.slice(1, 3).join('/')}`;
    const id = path[2] ?? '';
    const did = (e: LedgerEvent | undefined) => answer(res, 200, { event: e?.event ?? null });
    if (m === `POST payments/${id}` && path[3] === 'capture') {
      did(ledger.capture(id));
      return;
    }
    if (m === `POST payments/${id}` && path[3] === 'fail') {
      did(ledger.fail(id));
      return;
    }
    if (m === `POST refunds/${id}` && path[3] === 'fail') {
      did(ledger.settleRefund(id, 'failed'));
      return;
    }
    if (m === `POST refunds/${id}` && path[3] === 'process') {
      did(ledger.settleRefund(id, 'processed'));
      return;
    }
    if (m === 'GET ledger') {
      const size = { payments: ledger.payments.size, refunds: ledger.refunds.size };
      answer(res, 200, { ...ledger.totals(), ...size, webhooks_delivered: delivered.length, injected });
      return;
    }
    if (m === 'POST faults') {
      faults = { ...noFaults(), ...((await readJson(req)) as Partial<Faults>) };
      answer(res, 200, faults);
      return;
    }
    if (m === 'POST webhooks/release') {
      const out = held.reverse();
      held = [];
      for (const h of out) post(h.id, h.body);
      answer(res, 200, { released: out.length });
      return;
    }
    if (m === 'POST webhooks/replay') {
      const eventId = String((await readJson(req))['event_id']);
      const body = sent.get(eventId);
      if (!body) {
        error(res, 404, 'NOT_FOUND', 'no such event');
        return;
      }
      post(eventId, body);
      answer(res, 200, { replayed: true });
      return;
    }
    if (m === `GET pay/${id}`) {
      const p = ledger.fetchPayment(id);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>Sandbox UPI</title>
<h1>Payment ${p.id}: ₹${(p.amount / 100).toFixed(2)} (${p.status})</h1>
<form method=post action="/sandbox/payments/${p.id}/capture"><button>Pay</button></form>
<form method=post action="/sandbox/payments/${p.id}/fail"><button>Decline</button></form>`);
      return;
    }
    error(res, 404, 'NOT_FOUND', `no route ${m}`);
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/')
      .split('?')[0]!
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    const run = path[0] === 'v1' ? api(req, res, path) : path[0] === 'sandbox' ? dev(req, res, path) : notFound(res);
    run.catch((err: unknown) => {
      if (err instanceof GatewayError) {
        error(res, err.status || 400, 'BAD_REQUEST_ERROR', err.message);
        return;
      }
      if (err instanceof SyntaxError) {
        error(res, 400, 'BAD_REQUEST_ERROR', 'body is not JSON');
        return;
      }
      error(res, 500, 'SERVER_ERROR', String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(o.port, o.host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host}:${port}`,
    ledger,
    delivered,
    settings,
    injected,
    get faults() {
      return faults;
    },
    get webhookUrl() {
      return webhookUrl;
    },
    set webhookUrl(u: string) {
      webhookUrl = u;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function wireOrder(o: GatewayOrder) {
  const paid = o.status === 'paid' ? o.amount : 0;
  return {
    id: o.id,
    entity: 'order',
    amount: o.amount,
    amount_paid: paid,
    amount_due: o.amount - paid,
    currency: 'INR',
    receipt: o.receipt,
    status: o.status,
    attempts: 0,
    notes: o.notes,
    created_at: sec(),
  };
}

/** A fresh event id when a test wants to replay an event under a new id. */
export const newEventId = () => `evt_${randomBytes(8).toString('hex')}`;
