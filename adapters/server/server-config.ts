/**
 * The server's configuration: every variable read once, here, at the
 * composition root, checked, and frozen. Nothing below reads `process.env`.
 * The README lists each variable; the seed API's names are kept where it has
 * one (SERVER_HOST, SERVER_PORT, DATABASE_URL, REDIS_URL, FIREBASE_*,
 * ENCRYPTION_KEY).
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { FieldCipherError, parseEncryptionKey } from '../crypto/field-cipher.js';
import { parseLogConfig } from '../observability/logger.js';
import { DEFAULT_IDENTITY_CACHE_SIZE } from '../identity/caching-identity.js';
import { type FirebaseConfig, FirebaseConfigError, type FirebaseEnv, parseFirebaseConfig } from '../identity/config.js';
import {
  type PersistenceConfig,
  PersistenceConfigError,
  type PersistenceEnv,
  parsePersistenceConfig,
} from '../persistence/config.js';

export class ServerConfigError extends Error {
  override readonly name = 'ServerConfigError';
}

export interface ServerConfig {
  readonly mode: 'development' | 'test' | 'production';
  readonly host: string;
  readonly port: number;
  readonly persistence: PersistenceConfig;
  readonly firebase: FirebaseConfig;
  /**
   * 32 bytes; required in production. Undefined elsewhere when unset: the
   * server then generates one into {@link keyFile} once and keeps it.
   */
  readonly encryptionKey: Buffer | undefined;
  /** Where a development key is generated and kept (`DATA_DIR`/encryption.key). */
  readonly keyFile: string;
  readonly log: { readonly level: LogLevel; readonly format: 'json' | 'pretty' };
  /** Prometheus metrics and probes on their own port (`METRICS_HOST`, `METRICS_PORT`, 0: any free port). */
  readonly metrics: { readonly host: string; readonly port: number };
  /** How often dependencies are checked for /readyz and metrics, ms (`HEALTH_CHECK_INTERVAL`). */
  readonly healthCheckIntervalMs: number;
  /** Variables the seed names that this server does not use, if set (logged at start). */
  readonly unused: readonly string[];
  readonly timeZone: string;
  readonly upi: { readonly payeeVpa: string; readonly payeeName: string; readonly merchantCode: string };
  /** HMAC key of the payment gateway's webhooks. */
  readonly webhookSecret: string;
  /** The payment gateway (Razorpay's API: the real one or the sandbox); undefined in development without one. */
  readonly paymentGateway: PaymentGatewayConfig | undefined;
  readonly rest: {
    readonly maxBodyBytes: number;
    readonly ratePerSecond: number;
    readonly rateBurst: number;
    readonly trustProxy: boolean;
  };
  readonly allowedOrigins: readonly string[];
  /** Run the write-behind worker in this process (default); false when `npm run worker` runs apart. */
  readonly inProcessWorker: boolean;
  /** Onboarding: riders go online only once an operator approved their documents (docs/admin.md). */
  readonly riderReview: boolean;
  /** The gRPC admin service (docs/admin.md); undefined when turned off (`ADMIN_GRPC_PORT=off`). */
  readonly admin: AdminConfig | undefined;
  /** Verified principals kept until their token expires (docs/identity.md, "Caching"); 0: none. */
  readonly identityCacheSize: number;
}

export interface AdminConfig {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM certificate chain and key: TLS when both are set. */
  readonly tlsCertFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
  /** Events one StreamEvents call may have waiting before it skips ahead or is cut off. */
  readonly streamBuffer: number;
}

export interface PaymentGatewayConfig {
  readonly url: string;
  readonly merchantId: string;
  readonly keyId: string;
  readonly keySecret: string;
  /** Payments and refunds open longer than this are asked about (reconciliation), and how often it runs. */
  readonly reconcileAfterMs: number;
  readonly reconcileEveryMs: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * Redis connections one server process opens: per queue (events, pushes) a
 * producer, plus the health probe; with the in-process worker, per queue a
 * worker connection and BullMQ's blocking one.
 */
export const redisConnectionsNeeded = (inProcessWorker: boolean): number => 2 + 1 + (inProcessWorker ? 4 : 0);

/** Seed variables with no use here, and why (README, "Configuration"). */
export const UNUSED_SEED_VARIABLES: Readonly<Record<string, string>> = {
  MAPS_API_KEY: 'distances and ETAs are computed in the engine (haversine, H3); no maps service is called',
  STORAGE_BUCKET: 'documents are URLs the client uploads elsewhere; the server stores no files',
};

export type ServerEnv = PersistenceEnv & FirebaseEnv & Readonly<Record<string, string | undefined>>;

// About 0.8 KB of heap per entry (a rider's principal and its key, measured): a million is 0.8 GB.
const MAX_IDENTITY_CACHE_SIZE = 1_000_000;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Variables (all optional outside production):
 * - `SERVER_HOST` (127.0.0.1: Caddy in front takes the public traffic), `SERVER_PORT` (8080);
 * - storage: `DATABASE_URL` + `REDIS_URL`, or neither for embedded PGlite in `DATA_DIR` (see persistence/config.ts);
 * - identity: `FIREBASE_PROJECT_ID`, `FIREBASE_SERVICE_ACCOUNT_KEY`, `FIREBASE_AUTH_EMULATOR_HOST`;
 *   `IDENTITY_CACHE_SIZE` (50000; 0 turns the cache off): verified principals kept until their token expires;
 * - `ENCRYPTION_KEY`: 32 bytes, hex or base64; required in production;
 * - `SERVICE_TIMEZONE` (Asia/Kolkata): the zone of restaurants' operating hours;
 * - `UPI_PAYEE_VPA` (required in production), `UPI_PAYEE_NAME`, `UPI_MERCHANT_CODE` (5812);
 * - `PAYMENT_WEBHOOK_SECRET`: the gateway's webhook secret (≥ 16 characters; required in production);
 * - `UPI_GATEWAY_URL`, `UPI_MERCHANT_ID`, `UPI_API_KEY` (key id), `UPI_API_KEY_SECRET`: the payment gateway
 *   (all required in production; outside it, unset means no gateway, and the sandbox's keys are the defaults);
 *   `PAYMENT_RECONCILE_AFTER_MS` (300000), `PAYMENT_RECONCILE_EVERY_MS` (60000);
 * - `REST_MAX_BODY_BYTES` (65536), `REST_RATE_PER_S` (50), `REST_RATE_BURST` (100),
 *   `TRUST_PROXY` (true when listening on loopback: take client addresses from X-Forwarded-For);
 * - `ALLOWED_ORIGINS`: comma-separated browser origins allowed on the WebSockets;
 * - `WRITE_BEHIND_IN_PROCESS` (true);
 * - `LOG_LEVEL` (info), `LOG_FORMAT` (json; pretty in development on a terminal);
 * - `METRICS_HOST` (SERVER_HOST), `METRICS_PORT` (9090): Prometheus `/metrics`, with `/livez` and `/readyz`;
 * - `HEALTH_CHECK_INTERVAL` (5s; a number of seconds, or `500ms`): how often dependencies are checked;
 * - `DATABASE_MAX_CONNECTIONS` (10, see persistence/config.ts), `REDIS_MAX_CONNECTIONS` (unset: no check;
 *   set, the server refuses to start when it needs more connections than that).
 * - `RIDER_REVIEW` (true in production, false otherwise): riders wait for an operator's approval to go online;
 * - admin service: `ADMIN_GRPC_HOST` (SERVER_HOST), `ADMIN_GRPC_PORT` (50051; 0 in test mode or when SERVER_PORT
 *   is 0; `off` turns it off), `ADMIN_TLS_CERT` + `ADMIN_TLS_KEY` (PEM files; TLS when set; required in production
 *   unless the host is loopback), `ADMIN_STREAM_BUFFER` (1024).
 *
 * @throws ServerConfigError listing every problem, one per line.
 */
export function parseServerConfig(env: ServerEnv, opts: { readonly tty?: boolean } = {}): ServerConfig {
  const problems: string[] = [];
  const nodeEnv = env.NODE_ENV || 'development';
  if (!['development', 'test', 'production'].includes(nodeEnv))
    problems.push(`NODE_ENV must be development, test or production, got ${JSON.stringify(nodeEnv)}`);
  const mode = nodeEnv === 'test' ? 'test' : nodeEnv === 'production' ? 'production' : 'development';
  const int = (name: string, dflt: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw);
    if (!(Number.isInteger(n) && n >= min && n <= max)) {
      problems.push(`${name} must be an integer in ${min}..${max}, got ${JSON.stringify(raw)}`);
      return dflt;
    }
    return n;
  };
  const bool = (name: string, dflt: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    if (/^(1|true|yes)$/i.test(raw)) return true;
    if (/^(0|false|no)$/i.test(raw)) return false;
    problems.push(`${name} must be true or false, got ${JSON.stringify(raw)}`);
    return dflt;
  };
  /** A duration: whole seconds (`30`, `30s`) or milliseconds (`500ms`), 100 ms to 1 hour. */
  const interval = (name: string, dflt: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const m = /^(\d+)(ms|s)?$/.exec(raw.trim());
    const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : 1000) : NaN;
    if (!(ms >= 100 && ms <= 3_600_000)) {
      problems.push(
        `${name} must be seconds (30, 30s) or milliseconds (500ms) between 100ms and 3600s, got ${JSON.stringify(raw)}`,
      );
      return dflt;
    }
    return ms;
  };
  const attempt = <T>(fn: () => T, errors: (new (...a: never[]) => Error)[]): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (errors.some((E) => err instanceof E)) {
        problems.push((err as Error).message);
        return undefined;
      }
      throw err;
    }
  };

  const host = env['SERVER_HOST'] || '127.0.0.1';
  const port = int('SERVER_PORT', 8080, 0, 65535);
  const persistence = attempt(() => parsePersistenceConfig(env), [PersistenceConfigError]);
  const firebase = attempt(() => parseFirebaseConfig(env), [FirebaseConfigError]);
  const identityCacheSize = int('IDENTITY_CACHE_SIZE', DEFAULT_IDENTITY_CACHE_SIZE, 0, MAX_IDENTITY_CACHE_SIZE);
  const keyRaw = env['ENCRYPTION_KEY'];
  const encryptionKey =
    keyRaw || mode === 'production' ? attempt(() => parseEncryptionKey(keyRaw), [FieldCipherError]) : undefined;
  const timeZone = env['SERVICE_TIMEZONE'] || 'Asia/Kolkata';
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
  } catch {
    problems.push(`SERVICE_TIMEZONE ${JSON.stringify(timeZone)} is not an IANA time zone`);
  }
  const payeeVpa = env['UPI_PAYEE_VPA'] || (mode === 'production' ? '' : 'dispatch.dev@upi');
  if (!/^[A-Za-z0-9._-]{2,256}@[A-Za-z][A-Za-z0-9]{1,63}$/.test(payeeVpa))
    problems.push(
      `UPI_PAYEE_VPA must be a UPI address (name@handle)${mode === 'production' ? '; it is required in production' : ''}`,
    );
  const merchantCode = env['UPI_MERCHANT_CODE'] || '5812';
  if (!/^\d{4}$/.test(merchantCode)) problems.push('UPI_MERCHANT_CODE must be a 4-digit merchant category code');
  const webhookSecret =
    env['PAYMENT_WEBHOOK_SECRET'] || (mode === 'production' ? '' : 'dev-webhook-secret-not-for-production');
  if (webhookSecret.length < 16)
    problems.push(
      `PAYMENT_WEBHOOK_SECRET must be at least 16 characters${mode === 'production' ? '; it is required in production' : ''}`,
    );
  const gatewayUrl = env['UPI_GATEWAY_URL'] ?? '';
  let paymentGateway: PaymentGatewayConfig | undefined;
  if (gatewayUrl !== '' || mode === 'production') {
    const need = (name: string, dev: string): string => {
      const v = env[name] || (mode === 'production' ? '' : dev);
      if (v === '') problems.push(`${name} is required in production (the payment gateway)`);
      return v;
    };
    if (gatewayUrl === '') problems.push('UPI_GATEWAY_URL is required in production (the payment gateway)');
    else if (!/^https?:\/\/[^\s/]+/.test(gatewayUrl))
      problems.push(`UPI_GATEWAY_URL must be an http(s) URL, got ${JSON.stringify(gatewayUrl)}`);
    else if (mode === 'production' && !gatewayUrl.startsWith('https://'))
      problems.push('UPI_GATEWAY_URL must be https in production');
    paymentGateway = Object.freeze({
      url: gatewayUrl.replace(/\/+$/, ''),
      merchantId: need('UPI_MERCHANT_ID', 'acc_sandbox'),
      keyId: need('UPI_API_KEY', 'rzp_test_sandbox'),
      keySecret: need('UPI_API_KEY_SECRET', 'sandbox-secret'),
      reconcileAfterMs: int('PAYMENT_RECONCILE_AFTER_MS', 300_000, 0, 86_400_000),
      reconcileEveryMs: int('PAYMENT_RECONCILE_EVERY_MS', 60_000, 10, 3_600_000),
    });
  }
  const rest = {
    maxBodyBytes: int('REST_MAX_BODY_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
    ratePerSecond: int('REST_RATE_PER_S', 50, 1, 1_000_000),
    rateBurst: int('REST_RATE_BURST', 100, 1, 1_000_000),
    trustProxy: bool('TRUST_PROXY', LOOPBACK.has(host)),
  };
  const allowedOrigins = (env['ALLOWED_ORIGINS'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const inProcessWorker = bool('WRITE_BEHIND_IN_PROCESS', true);
  const logConfig = parseLogConfig(env, mode, opts.tty === true);
  problems.push(...logConfig.problems);
  const metrics = { host: env['METRICS_HOST'] || host, port: int('METRICS_PORT', 9090, 0, 65535) };
  if (metrics.port !== 0 && metrics.port === port && metrics.host === host)
    problems.push(`METRICS_PORT must differ from SERVER_PORT (both ${port})`);
  const healthCheckIntervalMs = interval('HEALTH_CHECK_INTERVAL', 5_000);
  const redisMax = int('REDIS_MAX_CONNECTIONS', 0, 1, 100_000);
  if (redisMax > 0 && persistence?.mode === 'server' && redisMax < redisConnectionsNeeded(inProcessWorker))
    problems.push(
      `REDIS_MAX_CONNECTIONS is ${redisMax}, but this process opens ${redisConnectionsNeeded(inProcessWorker)} Redis connections`,
    );
  const unused = Object.keys(UNUSED_SEED_VARIABLES).filter((k) => (env[k] ?? '') !== '');
  const riderReview = bool('RIDER_REVIEW', mode === 'production');
  let admin: AdminConfig | undefined;
  if (env['ADMIN_GRPC_PORT'] !== 'off') {
    const adminHost = env['ADMIN_GRPC_HOST'] || host;
    const ephemeral = mode === 'test' || env['SERVER_PORT'] === '0';
    const tlsCertFile = env['ADMIN_TLS_CERT'] || undefined;
    const tlsKeyFile = env['ADMIN_TLS_KEY'] || undefined;
    if ((tlsCertFile === undefined) !== (tlsKeyFile === undefined))
      problems.push('ADMIN_TLS_CERT and ADMIN_TLS_KEY must be set together');
    for (const [name, file] of [
      ['ADMIN_TLS_CERT', tlsCertFile],
      ['ADMIN_TLS_KEY', tlsKeyFile],
    ] as const) {
      if (file !== undefined && !existsSync(file)) problems.push(`${name}: no file ${file}`);
    }
    if (mode === 'production' && tlsCertFile === undefined && !LOOPBACK.has(adminHost))
      problems.push('ADMIN_TLS_CERT and ADMIN_TLS_KEY are required in production when ADMIN_GRPC_HOST is not loopback');
    admin = Object.freeze({
      host: adminHost,
      port: int('ADMIN_GRPC_PORT', ephemeral ? 0 : 50051, 0, 65535),
      tlsCertFile,
      tlsKeyFile,
      streamBuffer: int('ADMIN_STREAM_BUFFER', 1024, 16, 1_000_000),
    });
  }

  if (problems.length > 0 || !persistence || !firebase) throw new ServerConfigError(problems.join('\n'));
  return Object.freeze({
    mode,
    host,
    port,
    persistence,
    firebase,
    encryptionKey,
    timeZone,
    upi: Object.freeze({ payeeVpa, payeeName: env['UPI_PAYEE_NAME'] || 'Dispatch Foods', merchantCode }),
    webhookSecret,
    paymentGateway,
    rest: Object.freeze(rest),
    allowedOrigins: Object.freeze(allowedOrigins),
    inProcessWorker,
    keyFile: join(env.DATA_DIR || './data', 'encryption.key'),
    log: Object.freeze({ level: logConfig.level, format: logConfig.format }),
    metrics: Object.freeze(metrics),
    healthCheckIntervalMs,
    unused: Object.freeze(unused),
    riderReview,
    admin,
    identityCacheSize,
  });
}
