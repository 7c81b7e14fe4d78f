/** The payment gateway's configuration: required in production, optional (the sandbox's keys) elsewhere. */
import t from 'tap';
import { parseServerConfig, ServerConfigError } from '../../../adapters/server/server-config.js';

const dev = { NODE_ENV: 'development' };

const problemsOf = (env: Record<string, string>): string => {
  try {
    parseServerConfig(env);
    return '';
  } catch (err) {
    if (err instanceof ServerConfigError) return err.message;
    throw err;
  }
};

t.test('production refuses to start without the gateway, and names each variable', async (t) => {
  const p = problemsOf({ NODE_ENV: 'production' });
  for (const name of [
    'UPI_GATEWAY_URL',
    'UPI_MERCHANT_ID',
    'UPI_API_KEY',
    'UPI_API_KEY_SECRET',
    'PAYMENT_WEBHOOK_SECRET',
  ])
    t.match(p, name);
  const half = problemsOf({ NODE_ENV: 'production', UPI_GATEWAY_URL: 'http://gw.example', UPI_API_KEY: 'rzp_live_x' });
  t.match(half, 'UPI_GATEWAY_URL must be https in production');
  t.match(half, 'UPI_API_KEY_SECRET is required');
  t.notMatch(half, 'UPI_API_KEY is required');
});

t.test("development: no URL, no gateway; a URL alone takes the sandbox's keys", async (t) => {
  t.equal(parseServerConfig(dev).paymentGateway, undefined);
  const c = parseServerConfig({ ...dev, UPI_GATEWAY_URL: 'http://127.0.0.1:9400/' });
  t.same(c.paymentGateway, {
    url: 'http://127.0.0.1:9400',
    merchantId: 'acc_sandbox',
    keyId: 'rzp_test_sandbox',
    keySecret: 'sandbox-secret',
    reconcileAfterMs: 300_000,
    reconcileEveryMs: 60_000,
  });
  t.ok(Object.isFrozen(c.paymentGateway));
});

t.test('bad values are listed, not crashed on', async (t) => {
  t.match(problemsOf({ ...dev, UPI_GATEWAY_URL: 'ftp://x' }), 'UPI_GATEWAY_URL must be an http(s) URL');
  t.match(
    problemsOf({ ...dev, UPI_GATEWAY_URL: 'http://x', PAYMENT_RECONCILE_EVERY_MS: 'soon' }),
    'PAYMENT_RECONCILE_EVERY_MS must be an integer',
  );
});
