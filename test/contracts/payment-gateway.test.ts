import t from 'tap';
import { MemoryGateway } from '../../adapters/payments/memory-gateway.js';
import { RazorpayGateway } from '../../adapters/payments/razorpay-gateway.js';
import { defaultResilience } from '../../adapters/payments/resilient-call.js';
import { startSandbox } from '../../adapters/payments/sandbox-server.js';
import { paymentGatewayContract } from './payment-gateway.contract.js';

t.test('HTTP adapter against the sandbox gateway server', async (t) => {
  paymentGatewayContract(t, async (tt) => {
    // No app listens for its webhooks here; the sandbox retries them quietly until closed.
    const sandbox = await startSandbox({
      webhookUrl: 'http://127.0.0.1:9/none',
      webhookSecret: 'contract-secret-0123456789',
    });
    tt.teardown(() => sandbox.close());
    const gateway = new RazorpayGateway(
      { baseUrl: sandbox.url, keyId: 'rzp_test_sandbox', keySecret: 'sandbox-secret', merchantId: 'acc_test' },
      { ...defaultResilience, attempts: 1 },
    );
    return {
      gateway,
      capture: async (id) => {
        const res = await fetch(`${sandbox.url}/sandbox/payments/${id}/capture`, { method: 'POST' });
        await res.arrayBuffer();
      },
    };
  });
});

t.test('embedded in-memory gateway', async (t) => {
  paymentGatewayContract(t, async () => {
    const gateway = new MemoryGateway();
    return { gateway, capture: async (id) => void gateway.ledger.capture(id) };
  });
});
