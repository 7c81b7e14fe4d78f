/**
 * Stand-ins for Google's token signing, built with node:crypto only: an RSA
 * key, a self-signed X.509 certificate in the format Google publishes at
 * {@link GOOGLE_CERTS_URL}, and RS256 ID tokens shaped like Firebase's.
 * firebase-admin verifies them with its real code; only the key is ours.
 */
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export const GOOGLE_CERTS_ORIGIN = 'https://www.googleapis.com';
export const GOOGLE_CERTS_PATH = '/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com';
export const GOOGLE_CERTS_URL = GOOGLE_CERTS_ORIGIN + GOOGLE_CERTS_PATH;

/** A signing key and its certificate. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly privateKeyPem: string;
  readonly certPem: string;
}

/** A fresh 2048-bit RSA key and a self-signed certificate for it. */
export function makeSigningKey(kid: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const now = Date.now();
  const certPem = selfSignedCert(
    spki,
    privateKey,
    'securetoken.system.gserviceaccount.com',
    now - 3_600_000,
    now + 86_400_000,
  );
  return {
    kid,
    privateKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem,
  };
}

// --- A minimal DER encoder: just what a v1 X.509 certificate needs. ---
const tlv = (tag: number, body: Buffer): Buffer => {
  const len = body.length;
  const head = len < 0x80 ? Buffer.from([len]) : lengthBytes(len);
  return Buffer.concat([Buffer.from([tag]), head, body]);
};
const lengthBytes = (len: number): Buffer => {
  const bytes: number[] = [];
  for (let n = len; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
};
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
// sha256WithRSAEncryption (1.2.840.113549.1.1.11) with NULL parameters.
const SHA256_RSA = seq(Buffer.from('06092a864886f70d01010b', 'hex'), Buffer.from('0500', 'hex'));
// commonName (2.5.4.3).
const CN = Buffer.from('0603550403', 'hex');
const name = (cn: string): Buffer => seq(set(seq(CN, tlv(0x0c, Buffer.from(cn, 'utf8')))));
const utcTime = (ms: number): Buffer => {
  const iso = new Date(ms).toISOString(); // 2024-01-15T10:30:00.000Z
  const s =
    iso.slice(2, 4) +
    iso.slice(5, 7) +
    iso.slice(8, 10) +
    iso.slice(11, 13) +
    iso.slice(14, 16) +
    iso.slice(17, 19) +
    'Z';
  return tlv(0x17, Buffer.from(s, 'ascii'));
};

function selfSignedCert(spki: Buffer, key: KeyObject, cn: string, notBefore: number, notAfter: number): string {
  return certificate({ subject: cn, issuer: cn, spki, signer: key, notBefore, notAfter });
}

/** What {@link certificate} writes; `dnsNames` or `ca` make it a v3 certificate with those extensions. */
export interface CertificateSpec {
  readonly subject: string;
  readonly issuer: string;
  readonly spki: Buffer;
  /** The issuer's private key (the subject's own for a self-signed certificate). */
  readonly signer: KeyObject;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly serial?: number;
  /** subjectAltName DNS names (TLS checks the host name against them). */
  readonly dnsNames?: readonly string[];
  /** basicConstraints CA:TRUE (critical): may sign other certificates. */
  readonly ca?: boolean;
}

// subjectAltName (2.5.29.17) and basicConstraints (2.5.29.19).
const SAN = Buffer.from('0603551d11', 'hex');
const BASIC_CONSTRAINTS = Buffer.from('0603551d13', 'hex');
const TRUE = Buffer.from('0101ff', 'hex');

/** An X.509 certificate in PEM: v1 without extensions, v3 with them. */
export function certificate(c: CertificateSpec): string {
  // A positive INTEGER: the leading 0x01 keeps the top bit clear.
  const n = c.serial ?? 0x234567;
  const serial = tlv(0x02, Buffer.from([0x01, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]));
  const exts: Buffer[] = [];
  if (c.ca === true) exts.push(seq(BASIC_CONSTRAINTS, TRUE, tlv(0x04, seq(TRUE))));
  if (c.dnsNames !== undefined && c.dnsNames.length > 0) {
    const names = c.dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'ascii')));
    exts.push(seq(SAN, tlv(0x04, seq(...names))));
  }
  const v3 = exts.length > 0;
  const tbs = seq(
    ...(v3 ? [tlv(0xa0, tlv(0x02, Buffer.from([2])))] : []),
    serial,
    SHA256_RSA,
    name(c.issuer),
    seq(utcTime(c.notBefore), utcTime(c.notAfter)),
    name(c.subject),
    c.spki,
    ...(v3 ? [tlv(0xa3, seq(...exts))] : []),
  );
  const signature = sign('sha256', tbs, c.signer);
  const der = seq(tbs, SHA256_RSA, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

// --- ID tokens ---
const b64url = (x: unknown): string => Buffer.from(JSON.stringify(x)).toString('base64url');

/** The claims of a well-formed Firebase ID token for `projectId`, valid for an hour from now. */
export function idTokenClaims(
  projectId: string,
  uid: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: `https://securetoken.google.com/${projectId}`,
    aud: projectId,
    auth_time: now - 10,
    user_id: uid,
    sub: uid,
    iat: now - 10,
    exp: now + 3600,
    email: `${uid}@example.test`,
    email_verified: true,
    phone_number: '+919812345678',
    firebase: { identities: { email: [`${uid}@example.test`] }, sign_in_provider: 'password' },
    ...extra,
  };
}

/** An RS256 JWT signed by `key`, with `kid` in the header unless overridden. */
export function signRs256(
  key: SigningKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const h = b64url({ alg: 'RS256', kid: key.kid, typ: 'JWT', ...header });
  const input = `${h}.${b64url(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
}

/** An unsigned token (`alg: none`), as the Auth emulator issues. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
}

/** HS256 keyed with the public certificate: the classic algorithm-confusion forgery. */
export function hs256WithCert(key: SigningKey, claims: Record<string, unknown>): string {
  const input = `${b64url({ alg: 'HS256', kid: key.kid, typ: 'JWT' })}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', key.certPem).update(input).digest('base64url')}`;
}

/** Replaces the payload of a signed token, keeping header and signature. */
export function tamper(token: string, change: (claims: Record<string, unknown>) => void): string {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  change(claims);
  return `${h}.${b64url(claims)}.${s ?? ''}`;
}
