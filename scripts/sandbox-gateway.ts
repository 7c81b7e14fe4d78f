/**
 * `npm run sandbox`: the sandbox payment gateway (adapters/payments/sandbox-server.ts)
 * for development. Speaks Razorpay's API on SANDBOX_HOST:SANDBOX_PORT
 * (127.0.0.1:9400) and sends signed webhooks to SANDBOX_WEBHOOK_URL (the
 * local server's `/payments/webhook`). Keys and the webhook secret default to
 * the server's development defaults, so `./dev start` needs no settings.
 * A UPI payment is captured SANDBOX_AUTO_CAPTURE_MS after it is created
 * (5000; `off`: only from the page `GET /sandbox/pay/{payment id}` or
 * `POST /sandbox/payments/{id}/capture`); a refund is processed
 * SANDBOX_REFUND_SETTLE_MS after it is accepted (2000).
 */
import { loggerFromEnv } from '../adapters/observability/logger.js';
import { startSandbox } from '../adapters/payments/sandbox-server.js';

const env = process.env;
const log = loggerFromEnv('sandbox');
const ms = (name: string, dflt: number): number | null => {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (raw === 'off') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    log.fatal({ msg: `sandbox: ${name} must be a number of milliseconds or off, got ${JSON.stringify(raw)}` });
    process.exit(2);
  }
  return n;
};

const sandbox = await startSandbox({
  host: env['SANDBOX_HOST'] || '127.0.0.1',
  port: Number(env['SANDBOX_PORT'] || 9400),
  keyId: env['UPI_API_KEY'] || 'rzp_test_sandbox',
  keySecret: env['UPI_API_KEY_SECRET'] || 'sandbox-secret',
  webhookUrl: env['SANDBOX_WEBHOOK_URL'] || `http://127.0.0.1:${env['SERVER_PORT'] || 8080}/payments/webhook`,
  webhookSecret: env['PAYMENT_WEBHOOK_SECRET'] || 'dev-webhook-secret-not-for-production',
  autoCaptureMs: ms('SANDBOX_AUTO_CAPTURE_MS', 5_000),
  refundSettleMs: ms('SANDBOX_REFUND_SETTLE_MS', 2_000),
});
log.info({ msg: `sandbox: payment gateway on ${sandbox.url}, webhooks to ${sandbox.webhookUrl}` });
const stop = () => void sandbox.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
