/**
 * A local HTTPS server that speaks the FCM HTTP v1 send endpoint
 * (`POST /v1/projects/<project>/messages:send`), for development and tests,
 * as the sandbox gateway is for payments: firebase-admin's real messaging code
 * talks to it through {@link standInAgent}, which dials it for
 * `fcm.googleapis.com` and trusts its CA. It records every message, answers
 * `{name}` like FCM, and fails on request per token with FCM's own error
 * bodies (UNREGISTERED, INVALID_ARGUMENT, QUOTA_EXCEEDED with Retry-After,
 * UNAVAILABLE, INTERNAL), so per-token handling is tested against real
 * responses.
 */
import { readFile } from 'node:fs/promises';
import { Agent, createServer, type AgentOptions, type Server } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import { ensureDevCert } from '../../scripts/edge/dev-cert.js';

export const FCM_HOST = 'fcm.googleapis.com';
/** The bearer token the stand-in accepts (the stand-in credential hands it out). */
export const STAND_IN_ACCESS_TOKEN = 'stand-in-access-token';

/** What FCM may answer for one message. */
export type FcmFault =
  | { readonly kind: 'unregistered' }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'sender_mismatch' }
  | { readonly kind: 'quota'; readonly retryAfterS?: number }
  | { readonly kind: 'unavailable'; readonly retryAfterS?: number }
  | { readonly kind: 'internal' };

/** One message as the stand-in received it. */
export interface ReceivedMessage {
  readonly project: string;
  readonly message: Record<string, unknown> & { token?: string };
  readonly bytes: number;
  /** The answer given: 200 or the fault's status. */
  readonly status: number;
}

export interface FcmStandIn {
  readonly port: number;
  readonly caPem: string;
  readonly received: ReceivedMessage[];
  /** Makes the next `times` messages to `token` fail with `fault` (default: every one until cleared). */
  fail(token: string, fault: FcmFault, times?: number): void;
  clear(): void;
  /** Called with each message answered 200 (`./dev start` logs them). */
  onMessage: ((m: ReceivedMessage) => void) | undefined;
  close(): Promise<void>;
}

const FAULTS = {
  unregistered: [404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.'],
  invalid: [
    400,
    'INVALID_ARGUMENT',
    'INVALID_ARGUMENT',
    'The registration token is not a valid FCM registration token',
  ],
  sender_mismatch: [403, 'PERMISSION_DENIED', 'SENDER_ID_MISMATCH', 'SenderId mismatch'],
  quota: [429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', 'Quota exceeded for the device.'],
  unavailable: [503, 'UNAVAILABLE', 'UNAVAILABLE', 'The service is currently unavailable.'],
  internal: [500, 'INTERNAL', 'INTERNAL', 'Internal error encountered.'],
} as const;

const SEND_PATH = /^\/v1\/projects\/([a-z0-9-]+)\/messages:send$/;

/** Starts the stand-in on 127.0.0.1 (port 0: a free one), its certificate and CA kept in `certDir`. */
export async function startFcmStandIn(opts: { certDir: string; port?: number }): Promise<FcmStandIn> {
  const cert = await ensureDevCert({ dir: opts.certDir, hosts: [FCM_HOST] });
  const [key, crt, caPem] = await Promise.all([
    readFile(cert.keyPath),
    readFile(cert.certPath),
    readFile(cert.caCertPath, 'utf8'),
  ]);
  const faults = new Map<string, { fault: FcmFault; left: number }>();
  const received: ReceivedMessage[] = [];
  let seq = 0;
  const server: Server = createServer({ key, cert: crt }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
        res.end(JSON.stringify(body));
      };
      const m = SEND_PATH.exec(req.url ?? '');
      const error = (code: number, message: string, status: string) =>
        reply(code, { error: { code, message, status } });
      if (req.method !== 'POST' || !m) {
        error(404, 'not found', 'NOT_FOUND');
        return;
      }
      if (req.headers.authorization !== `Bearer ${STAND_IN_ACCESS_TOKEN}`) {
        error(401, 'Request had invalid authentication credentials.', 'UNAUTHENTICATED');
        return;
      }
      const raw = Buffer.concat(chunks);
      let message: ReceivedMessage['message'];
      try {
        message = (JSON.parse(raw.toString('utf8')) as { message: ReceivedMessage['message'] }).message;
      } catch {
        error(400, 'Invalid JSON payload received.', 'INVALID_ARGUMENT');
        return;
      }
      const token = message.token ?? '';
      const f = faults.get(token);
      if (f !== undefined) {
        if (--f.left <= 0) faults.delete(token);
        const [status, grpc, fcm, text] = FAULTS[f.fault.kind];
        received.push({ project: m[1]!, message, bytes: raw.length, status });
        const after = 'retryAfterS' in f.fault ? f.fault.retryAfterS : undefined;
        const retryAfter = after !== undefined ? { 'retry-after': String(after) } : {};
        reply(
          status,
          {
            error: {
              code: status,
              message: text,
              status: grpc,
              details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: fcm }],
            },
          },
          retryAfter,
        );
        return;
      }
      const r: ReceivedMessage = { project: m[1]!, message, bytes: raw.length, status: 200 };
      received.push(r);
      s.onMessage?.(r);
      reply(200, { name: `projects/${m[1]!}/messages/${++seq}` });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const s: FcmStandIn = {
    port: typeof address === 'object' && address ? address.port : 0,
    caPem,
    received,
    onMessage: undefined,
    fail(token, fault, times = Number.POSITIVE_INFINITY) {
      faults.set(token, { fault, left: times });
    },
    clear() {
      faults.clear();
      received.length = 0;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return s;
}

/**
 * An HTTPS agent that sends requests for `fcm.googleapis.com` to the stand-in
 * at 127.0.0.1:`port`, verifying its certificate against `caPem` under the
 * real host name: firebase-admin's `httpAgent` option, so the SDK's own
 * request, auth header, and response parsing all run.
 */
export function standInAgent(port: number, caPem: string): Agent {
  const options: AgentOptions = { keepAlive: true, maxSockets: 50 };
  const agent = new Agent(options);
  // Node's Agent calls createConnection(options, cb) for each new socket; dial the stand-in instead.
  (agent as unknown as { createConnection: (o: object, cb?: unknown) => TLSSocket }).createConnection = () =>
    connect({ host: '127.0.0.1', port, servername: FCM_HOST, ca: caPem, ALPNProtocols: ['http/1.1'] });
  return agent;
}
