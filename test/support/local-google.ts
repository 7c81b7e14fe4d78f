/**
 * A local stand-in for the Google endpoints firebase-admin's production path
 * calls, over real HTTPS: the x509 key endpoint `verifyIdToken` fetches
 * ({@link GOOGLE_CERTS_URL}), the OAuth token endpoint of a service account
 * credential, and `accounts:lookup` (the user lookup of `checkRevoked` and
 * `getUser`). Its TLS certificate is issued by a CA made for the run, and
 * {@link localGoogleAgent} is an `https.Agent` that sends every connection to
 * the stand-in while checking the certificate against that CA and the real
 * host name: firebase-admin's own HTTP code runs unchanged, only the route
 * and the trust anchor are ours. Used by the benchmarks and the tests.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Agent, createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect } from 'node:tls';
import { certificate, GOOGLE_CERTS_PATH, type SigningKey } from './google-certs.js';

/** The hosts the stand-in answers for (its certificate names exactly these). */
export const GOOGLE_HOSTS = ['www.googleapis.com', 'oauth2.googleapis.com', 'identitytoolkit.googleapis.com'];
/** Google serves its keys with about five hours of max-age; firebase-admin caches them that long. */
const CERTS_CACHE_CONTROL = 'public, max-age=19000, must-revalidate, no-transform';

/** An account as `accounts:lookup` returns it (`localId`, `customAttributes`, `validSince`, `disabled`...). */
export type LookupAccount = Record<string, unknown> & { readonly localId: string };

/** What {@link startLocalGoogle} answers. */
export interface LocalGoogle {
  readonly port: number;
  /** The run's CA certificate (PEM): the only trust anchor of {@link LocalGoogle.agent}. */
  readonly caPem: string;
  /** An agent for firebase-admin (`httpAgent`) that reaches this stand-in. */
  readonly agent: Agent;
  /** Requests served, by endpoint. */
  readonly requests: { certs: number; token: number; lookup: number; other: number };
  /** Accounts `accounts:lookup` knows, by uid; absent ones are answered as Google does (no `users`). */
  readonly accounts: Map<string, LookupAccount>;
  /** Replaces the keys served at the certificate URL. */
  setKeys(keys: readonly SigningKey[]): void;
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1 (a free port), serving `keys` at Google's certificate URL. */
export async function startLocalGoogle(opts: {
  readonly projectId: string;
  readonly keys: readonly SigningKey[];
}): Promise<LocalGoogle> {
  const tlsCert = makeServerCertificate();
  const requests = { certs: 0, token: 0, lookup: 0, other: 0 };
  const accounts = new Map<string, LookupAccount>();
  let certsBody = certsJson(opts.keys);
  const lookupPath = `/v1/projects/${opts.projectId}/accounts:lookup`;

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const path = (req.url ?? '').split('?')[0];
    if (host === 'www.googleapis.com' && req.method === 'GET' && path === GOOGLE_CERTS_PATH) {
      requests.certs++;
      reply(res, 200, certsBody, { 'cache-control': CERTS_CACHE_CONTROL });
      return;
    }
    if (host === 'oauth2.googleapis.com' && req.method === 'POST' && path === '/token') {
      requests.token++;
      reply(res, 200, JSON.stringify({ access_token: 'ya29.local', expires_in: 3600, token_type: 'Bearer' }));
      return;
    }
    if (host === 'identitytoolkit.googleapis.com' && req.method === 'POST' && path === lookupPath) {
      requests.lookup++;
      const ids = (JSON.parse(body || '{}') as { localId?: string[] }).localId ?? [];
      const users = ids.flatMap((id) => accounts.get(id) ?? []);
      const out = { kind: 'identitytoolkit#GetAccountInfoResponse', ...(users.length > 0 ? { users } : {}) };
      reply(res, 200, JSON.stringify(out));
      return;
    }
    requests.other++;
    reply(res, 404, JSON.stringify({ error: { code: 404, message: `no stand-in for ${host}${path}` } }));
  };

  const server: Server = createServer({ key: tlsCert.keyPem, cert: tlsCert.certPem }, (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => handle(req, res, body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const agent = localGoogleAgent(port, tlsCert.caPem);
  return {
    port,
    caPem: tlsCert.caPem,
    agent,
    requests,
    accounts,
    setKeys: (keys) => {
      certsBody = certsJson(keys);
    },
    close: () => {
      agent.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * An agent whose every connection goes to 127.0.0.1:`port`, verified against
 * `caPem` for the host the request named (never `rejectUnauthorized: false`).
 * It can be made in another process than the stand-in: the bench's server
 * gets the port and the CA.
 */
export function localGoogleAgent(port: number, caPem: string): Agent {
  return new LocalGoogleAgent(port, caPem);
}

class LocalGoogleAgent extends Agent {
  constructor(
    private readonly port: number,
    private readonly caPem: string,
  ) {
    super({ keepAlive: true });
  }

  override createConnection(options: Parameters<Agent['createConnection']>[0]): Duplex {
    const servername = typeof options.servername === 'string' ? options.servername : (options.host ?? undefined);
    if (servername === undefined || !GOOGLE_HOSTS.includes(servername)) {
      throw new Error(`the local Google stand-in does not serve ${String(servername)}`);
    }
    // The TLS options Node's agent computed, with our route and our trust anchor.
    return connect({ ...(options as object), host: '127.0.0.1', port: this.port, servername, ca: this.caPem });
  }
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
  res.end(body);
}

const certsJson = (keys: readonly SigningKey[]): string =>
  JSON.stringify(Object.fromEntries(keys.map((k) => [k.kid, k.certPem])));

/** A CA made for this run and a server certificate it issued for {@link GOOGLE_HOSTS}. */
function makeServerCertificate(): { caPem: string; certPem: string; keyPem: string } {
  const now = Date.now();
  const validity = { notBefore: now - 3_600_000, notAfter: now + 7 * 86_400_000 };
  const ca = rsa();
  const caName = 'dispatch local Google stand-in CA';
  const caPem = certificate({
    subject: caName,
    issuer: caName,
    spki: ca.spki,
    signer: ca.privateKey,
    ca: true,
    ...validity,
  });
  const leaf = rsa();
  const certPem = certificate({
    subject: GOOGLE_HOSTS[0]!,
    issuer: caName,
    spki: leaf.spki,
    signer: ca.privateKey,
    serial: 0x345678,
    dnsNames: GOOGLE_HOSTS,
    ...validity,
  });
  return { caPem, certPem, keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function rsa(): { privateKey: KeyObject; spki: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}
