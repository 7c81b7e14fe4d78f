/**
 * A server (Postgres, BullMQ on Redis, the Auth emulator) paying through a
 * sandbox gateway of its own, as `./dev start` runs it: what the demo and the
 * console suites feed with the demo city.
 */
import { type RunningSandbox, startSandbox } from '../../adapters/payments/sandbox-server.js';
import { startTestServer, type Tap, type TestServer } from './rest-server.js';
import { EMULATOR_HOST, EMULATOR_PROJECT } from './firebase-emulator.js';

const WEBHOOK_SECRET = 'demo-webhook-secret-0123456789';

export interface DemoWorld extends TestServer {
  readonly sandbox: RunningSandbox;
  readonly emulatorHost: string;
  readonly projectId: string;
}

export async function startDemoWorld(t: Tap): Promise<DemoWorld> {
  // Payments are captured only when the demo's customers pay, as with the Pay button.
  const sandbox = await startSandbox({
    webhookUrl: 'http://127.0.0.1:9/not-yet',
    webhookSecret: WEBHOOK_SECRET,
    autoCaptureMs: null,
  });
  t.teardown(() => sandbox.close());
  const ts = await startTestServer(t, {
    label: 'demo',
    env: { PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET, UPI_GATEWAY_URL: sandbox.url },
  });
  sandbox.webhookUrl = `${ts.url}/payments/webhook`;
  return { ...ts, sandbox, emulatorHost: EMULATOR_HOST, projectId: EMULATOR_PROJECT };
}

/** Demo flags for a quick city: small, fast riders, short kitchens. */
export const quickDemo = {
  restaurants: 2,
  riders: 6,
  customers: 2,
  ordersPerMinute: 40,
  speedMps: 150,
  radiusM: 1200,
  prepS: 1,
} as const;
