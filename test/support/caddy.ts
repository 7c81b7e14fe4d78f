/**
 * A real Caddy running the repository's edge/Caddyfile in front of a given
 * upstream, for end-to-end tests: its own port (the same number free on TCP
 * and UDP), its own CA and certificate, its own data folder in a temp dir,
 * admin endpoint off. Always stopped: by `stop()`, by the test's teardown
 * when `t` is given, and at process exit as a last resort.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caddyArgs, caddyEnv } from '../../scripts/edge/config.js';
import { ensureDevCert } from '../../scripts/edge/dev-cert.js';

export interface StartCaddyOptions {
  /** The gateway, e.g. 'http://127.0.0.1:8080' (or host:port). */
  readonly upstream: string;
  /** Registers `stop` as a teardown of this test. */
  readonly t?: { teardown(fn: () => unknown): void };
  /** Folder for the CA and certificate (kept); default: inside the temp dir (removed). */
  readonly certDir?: string;
  /** How long Caddy may take to serve. Default 15 s. */
  readonly startTimeoutMs?: number;
}

export interface RunningCaddy {
  /** The port of HTTPS over TCP and of HTTP/3 over UDP. */
  readonly httpsPort: number;
  /** https://127.0.0.1:PORT (the certificate names 127.0.0.1, ::1 and localhost). */
  readonly url: string;
  /** PEM of the CA that signed the certificate Caddy serves. */
  readonly caCertPath: string;
  readonly process: ChildProcess;
  /** Everything Caddy printed so far (its JSON log). */
  logs(): string;
  /** SIGTERM, SIGKILL after 5 s, then removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
// A test process that dies before its teardown still leaves no Caddy and no temp dir behind.
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Starts Caddy with edge/Caddyfile in front of `upstream`; resolves once it serves. */
export async function startCaddy(opts: StartCaddyOptions): Promise<RunningCaddy> {
  const dir = await mkdtemp(join(tmpdir(), 'edge-caddy-'));
  tempDirs.add(dir);
  let running: RunningCaddy | undefined;
  const cleanup = async () => {
    if (running) await running.stop();
    else await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  opts.t?.teardown(cleanup);
  try {
    const cert = await ensureDevCert({ dir: opts.certDir ?? join(dir, 'certs') });
    const upstream = opts.upstream.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    // The port is free when picked, but another process may take it before
    // Caddy binds it: try again on a new one.
    for (let attempt = 1; ; attempt++) {
      const port = await freeTcpUdpPort();
      const env = caddyEnv(
        {
          port,
          bind: '127.0.0.1',
          upstream,
          certPath: cert.certPath,
          keyPath: cert.keyPath,
          dataDir: join(dir, `caddy-${attempt}`),
          admin: 'off',
        },
        process.env,
      );
      try {
        running = await launch(port, env, cert.caCertPath, dir, opts.startTimeoutMs ?? 15_000);
        return running;
      } catch (err) {
        if (attempt < 3 && /address already in use/.test(String(err))) continue;
        throw err;
      }
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function launch(
  port: number,
  env: Record<string, string>,
  caCertPath: string,
  dir: string,
  timeoutMs: number,
): Promise<RunningCaddy> {
  const child = spawn('caddy', caddyArgs(), { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let log = '';
  const onData = (c: Buffer) => {
    log += c.toString('utf8');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((r) =>
    child.once('close', () => {
      live.delete(child);
      r();
    }),
  );
  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    }
    await exited;
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`caddy did not serve within ${timeoutMs} ms:\n${log}`)),
        timeoutMs,
      );
      const check = () => {
        // Logged after every listener, UDP included, is bound.
        if (log.includes('"msg":"serving initial configuration"')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr.on('data', check);
      child.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err.code === 'ENOENT' ? new Error('caddy not found (apt-get install caddy, or ./dev setup)') : err);
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`caddy exited with ${code}:\n${log}`));
      });
    });
  } catch (err) {
    // Keeps the temp dir for a retry on another port; the caller removes it.
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    throw err;
  }
  return {
    httpsPort: port,
    url: `https://127.0.0.1:${port}`,
    caCertPath,
    process: child,
    logs: () => log,
    stop,
  };
}

/** A port number free on 127.0.0.1 for TCP and UDP at once (HTTP/3 needs both). */
export async function freeTcpUdpPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const tcp = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(0, '127.0.0.1', () => resolve((tcp.address() as { port: number }).port));
    });
    const udp = createSocket('udp4');
    const udpFree = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (udpFree) await new Promise<void>((r) => udp.close(() => r()));
    else
      try {
        udp.close();
      } catch {
        /* never bound */
      }
    await new Promise<void>((r) => tcp.close(() => r()));
    if (udpFree) return port;
  }
  throw new Error('no port free on both TCP and UDP');
}
