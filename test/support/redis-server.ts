import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The shared Redis of the suites; tests use unique prefixes on it and never flush it. */
export const SHARED_REDIS = { host: '127.0.0.1', port: 6379 } as const;

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface OwnRedis {
  readonly host: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** SIGKILL, and wait until the port is closed. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder (an AOF file there is replayed). */
  restart(): Promise<void>;
}

/**
 * Starts a redis-server of the test's own on a free port (for tests that kill
 * it or need a config the shared server does not have). `args` are extra
 * command-line settings, e.g. ['--maxmemory-policy', 'allkeys-lru'].
 * Killed at teardown.
 */
export async function startRedis(
  t: { teardown(fn: () => unknown): void },
  args: readonly string[] = [],
): Promise<OwnRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'redis-'));
  let proc!: ChildProcess;
  let exited = false;
  let gone!: Promise<void>;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args], {
      stdio: 'ignore',
    });
    exited = false;
    gone = new Promise<void>((resolve) =>
      proc.once('exit', () => {
        exited = true;
        resolve();
      }),
    );
    const deadline = Date.now() + 5_000;
    while (!(await canConnect(port))) {
      if (exited || Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const kill = async () => {
    if (!exited) proc.kill('SIGKILL');
    await gone;
  };
  t.teardown(async () => {
    await kill();
    await rm(dir, { recursive: true, force: true });
  });
  await start();
  return {
    host: '127.0.0.1',
    port,
    get process() {
      return proc;
    },
    kill,
    restart: start,
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
