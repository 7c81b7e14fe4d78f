/**
 * The edge's settings, read once from the environment, and the environment
 * Caddy runs with (edge/Caddyfile reads only that).
 */
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two folders up from this file). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** The Caddy configuration of the edge, in the repository. */
export const CADDYFILE = join(REPO_ROOT, 'edge', 'Caddyfile');

export interface EdgeConfig {
  /** Public port: TCP for HTTP/1.1 and HTTP/2, UDP for HTTP/3. */
  readonly port: number;
  /** Address Caddy listens on. */
  readonly bind: string;
  /** The gateway as Caddy dials it, host:port. */
  readonly upstream: string;
  /** Where the gateway is, for its health check. */
  readonly upstreamUrl: string;
  /** Certificate and key Caddy serves; when absent the dev CA issues them into `certDir`. */
  readonly certPath: string | undefined;
  readonly keyPath: string | undefined;
  readonly certDir: string;
  /** Names the dev certificate covers beyond localhost, 127.0.0.1 and ::1 (EDGE_CERT_HOSTS, comma-separated). */
  readonly certHosts: readonly string[];
  /** Caddy's storage and XDG folders: nothing is written outside it. */
  readonly dataDir: string;
  /** Caddy's admin endpoint: 'off', or a loopback host:port. */
  readonly admin: string;
  /** Replaces `node --import tsx scripts/server.ts` (run with /bin/sh -c): for tests and for trying the edge alone. */
  readonly upstreamCommand: string | undefined;
}

/** Parses the edge's variables (see docs/edge.md); throws on a bad value. */
export function parseEdgeConfig(env: Readonly<Record<string, string | undefined>>, cwd = REPO_ROOT): EdgeConfig {
  const serverHost = env.SERVER_HOST || '127.0.0.1';
  const serverPort = port(env.SERVER_PORT, 8080, 'SERVER_PORT');
  // A gateway listening on every address is dialled on loopback.
  const dialHost = serverHost === '0.0.0.0' ? '127.0.0.1' : serverHost === '::' ? '::1' : serverHost;
  const hostPort = isIP(dialHost) === 6 ? `[${dialHost}]:${serverPort}` : `${dialHost}:${serverPort}`;
  const certPath = env.EDGE_CERT || undefined;
  const keyPath = env.EDGE_KEY || undefined;
  if ((certPath === undefined) !== (keyPath === undefined))
    throw new Error('edge: set both EDGE_CERT and EDGE_KEY, or neither');
  const admin = env.EDGE_ADMIN || 'off';
  if (admin !== 'off' && !/^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/.test(admin)) {
    throw new Error(`edge: EDGE_ADMIN must be off or a loopback host:port, not ${admin}`);
  }
  return Object.freeze({
    port: port(env.EDGE_PORT, 8443, 'EDGE_PORT'),
    bind: env.EDGE_BIND || '127.0.0.1',
    upstream: hostPort,
    upstreamUrl: `http://${hostPort}`,
    certPath: certPath && resolve(cwd, certPath),
    keyPath: keyPath && resolve(cwd, keyPath),
    certDir: resolve(cwd, env.EDGE_CERT_DIR || '.dev/certs'),
    certHosts: Object.freeze(
      (env.EDGE_CERT_HOSTS ?? '')
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean),
    ),
    dataDir: resolve(cwd, env.EDGE_DATA_DIR || '.dev/caddy'),
    admin,
    upstreamCommand: env.EDGE_UPSTREAM_CMD || undefined,
  });
}

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`edge: ${name} must be a port number, not ${value}`);
  return n;
}

export interface CaddyRun {
  readonly port: number;
  readonly bind: string;
  readonly upstream: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly dataDir: string;
  readonly admin: string;
}

/**
 * The environment of `caddy run`: the Caddyfile's variables, and XDG folders
 * inside the data folder so Caddy writes nothing under $HOME.
 */
export function caddyEnv(run: CaddyRun, base: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !k.startsWith('EDGE_')) env[k] = v;
  return {
    ...env,
    EDGE_PORT: String(run.port),
    EDGE_BIND: run.bind,
    EDGE_UPSTREAM: run.upstream,
    EDGE_CERT: run.certPath,
    EDGE_KEY: run.keyPath,
    EDGE_DATA_DIR: join(run.dataDir, 'storage'),
    EDGE_ADMIN: run.admin,
    XDG_DATA_HOME: join(run.dataDir, 'xdg-data'),
    XDG_CONFIG_HOME: join(run.dataDir, 'xdg-config'),
  };
}

/** The arguments of `caddy` that run the edge's Caddyfile. */
export function caddyArgs(caddyfile = CADDYFILE): string[] {
  return ['run', '--config', caddyfile, '--adapter', 'caddyfile'];
}
