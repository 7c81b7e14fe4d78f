/**
 * A local certificate authority and a server certificate signed by it, for
 * the HTTP/3 edge in development and in tests. Made with the `openssl` CLI;
 * reused while still good, so trusting the CA once keeps working.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Names every dev certificate covers; `hosts` adds to them. */
export const DEFAULT_CERT_HOSTS: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '::1']);

const CA_DAYS = 1825;
/** Apple refuses TLS server certificates valid for more than 398 days, even from a private CA. */
const SERVER_DAYS = 397;
/** Renew when less than this is left, so a run never starts on a certificate about to lapse. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export interface DevCertOptions {
  /** Folder for the four files (created when missing; keep it out of git). */
  readonly dir: string;
  /** Extra DNS names or IP addresses the server certificate must cover. */
  readonly hosts?: readonly string[];
  /** The time to judge expiry against (tests pass one). */
  readonly now?: Date;
}

export interface DevCert {
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** What this call did: reused both, made a new server certificate, or made both. */
  readonly action: 'reused' | 'issued-server' | 'issued-ca-and-server';
}

/** The file names inside `dir`. */
export function devCertPaths(dir: string): Omit<DevCert, 'action'> {
  return {
    caCertPath: join(dir, 'ca.crt'),
    caKeyPath: join(dir, 'ca.key'),
    certPath: join(dir, 'server.crt'),
    keyPath: join(dir, 'server.key'),
  };
}

/**
 * Makes sure `dir` holds a CA and a server certificate for localhost,
 * 127.0.0.1, ::1 and `hosts`, both valid for 30 more days. Keeps what is
 * there when it is good; makes a new server certificate when only that one
 * is stale, wrong or missing (the CA, perhaps trusted by the user, stays).
 */
export async function ensureDevCert(opts: DevCertOptions): Promise<DevCert> {
  const paths = devCertPaths(opts.dir);
  const hosts = [...new Set([...DEFAULT_CERT_HOSTS, ...(opts.hosts ?? [])])];
  const now = opts.now ?? new Date();
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });

  const ca = await loadPair(paths.caCertPath, paths.caKeyPath);
  const caGood = ca !== undefined && ca.cert.ca && stillValid(ca.cert, now);
  if (!caGood) {
    await issueCa(paths);
    await issueServer(paths, hosts);
    return { ...paths, action: 'issued-ca-and-server' };
  }
  const server = await loadPair(paths.certPath, paths.keyPath);
  const serverGood =
    server !== undefined &&
    stillValid(server.cert, now) &&
    server.cert.verify(ca.cert.publicKey) &&
    hosts.every((h) => covers(server.cert, h));
  if (!serverGood) {
    await issueServer(paths, hosts);
    return { ...paths, action: 'issued-server' };
  }
  return { ...paths, action: 'reused' };
}

/** Whether `cert` names `host` (a DNS name or an IP address) in its subjectAltName. */
export function covers(cert: X509Certificate, host: string): boolean {
  return isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host, { wildcards: false }) !== undefined;
}

function stillValid(cert: X509Certificate, now: Date): boolean {
  return (
    new Date(cert.validFrom).getTime() <= now.getTime() &&
    new Date(cert.validTo).getTime() - now.getTime() > RENEW_BEFORE_MS
  );
}

/** The certificate and key at these paths when both parse and belong together. */
async function loadPair(certPath: string, keyPath: string): Promise<{ cert: X509Certificate } | undefined> {
  try {
    const cert = new X509Certificate(await readFile(certPath));
    const pub = createPublicKey(createPrivateKey(await readFile(keyPath)));
    const same = pub
      .export({ type: 'spki', format: 'der' })
      .equals(cert.publicKey.export({ type: 'spki', format: 'der' }));
    return same ? { cert } : undefined;
  } catch {
    return undefined;
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'] as const;

async function issueCa(paths: Omit<DevCert, 'action'>): Promise<void> {
  const key = `${paths.caKeyPath}.new`;
  const cert = `${paths.caCertPath}.new`;
  await openssl([
    'req',
    '-x509',
    '-new',
    ...EC_KEY,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    String(CA_DAYS),
    '-subj',
    `/O=Dispatch engine development/CN=Dispatch dev CA ${new Date().toISOString().slice(0, 10)}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await chmod(key, 0o600);
  await rename(key, paths.caKeyPath);
  await rename(cert, paths.caCertPath);
}

async function issueServer(paths: Omit<DevCert, 'action'>, hosts: readonly string[]): Promise<void> {
  const key = `${paths.keyPath}.new`;
  const csr = `${paths.certPath}.csr`;
  const ext = `${paths.certPath}.ext`;
  const cert = `${paths.certPath}.new`;
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  try {
    await openssl([
      'req',
      '-new',
      ...EC_KEY,
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      '/O=Dispatch engine development/CN=localhost',
    ]);
    await writeFile(
      ext,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${san}`,
        '',
      ].join('\n'),
    );
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      paths.caCertPath,
      '-CAkey',
      paths.caKeyPath,
      '-set_serial',
      `0x${randomSerial()}`,
      '-days',
      String(SERVER_DAYS),
      '-extfile',
      ext,
      '-out',
      cert,
    ]);
    await chmod(key, 0o600);
    await rename(key, paths.keyPath);
    await rename(cert, paths.certPath);
  } finally {
    await Promise.all([csr, ext, key, cert].map((f) => rm(f, { force: true })));
  }
}

function randomSerial(): string {
  // Positive 127-bit serial: the top bit clear so DER needs no sign byte.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

async function openssl(args: readonly string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (err) {
    const e = err as { code?: unknown; stderr?: unknown };
    if (e.code === 'ENOENT')
      throw new Error('dev-cert: openssl is not installed (apt-get install openssl, or ./dev setup)');
    throw new Error(`dev-cert: openssl ${args[0] ?? ''} failed: ${String(e.stderr ?? err).trim()}`);
  }
}
