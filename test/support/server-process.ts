/**
 * The server as `npm start` runs it, as a child process of the test:
 * `node --import tsx scripts/server.ts` (node itself, no npm wrapper, so a
 * signal reaches the server and nothing else), configured by `env`. Resolves
 * once it logs `server: listening on http://HOST:PORT`, with that port. Its
 * operations port is any free one (`METRICS_PORT=0`) unless `env` says.
 * Killed with SIGKILL at teardown if still running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Keep the last this many characters of the server's stderr, for failure messages. */
const TAIL = 20_000;

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  /** Resolves with the exit code, or the signal's name, when the process has exited. */
  readonly exited: Promise<number | string>;
  /** `kill -9`; resolves once the process is gone. */
  kill9(): Promise<number | string>;
  /** SIGTERM (a clean shutdown); resolves with the exit code. */
  stop(): Promise<number | string>;
  /** The tail of its stderr. */
  log(): string;
  /** The command line of the process, from /proc (to prove it is node running the server). */
  cmdline(): string;
}

export async function spawnServer(
  t: { teardown(fn: () => unknown): void },
  env: Readonly<Record<string, string>>,
  opts: { startTimeoutMs?: number; /** After `scripts/server.ts` (`--role gateway`). */ args?: readonly string[] } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/server.ts', ...(opts.args ?? [])], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      // The allocator scripts/with-jemalloc.sh gave this process (docs/streams.md).
      ...(process.env['LD_PRELOAD'] ? { LD_PRELOAD: process.env['LD_PRELOAD'] } : {}),
      METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  let done = false;
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  t.teardown(async () => {
    if (!done) child.kill('SIGKILL');
    await exited;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not listen within ${opts.startTimeoutMs ?? 60_000} ms:\n${tail}`)),
      opts.startTimeoutMs ?? 60_000,
    );
    child.stderr.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-TAIL);
      // A pino line ("msg":"server: listening on http://127.0.0.1:PORT",...) or a plain one (echo upstream).
      const m = /server: listening on http:\/\/[^\s"]+:(\d+)["\n]/.exec(tail);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${how}) before listening:\n${tail}`));
    });
  });
  const signal = (s: NodeJS.Signals) => {
    if (!done) child.kill(s);
    return exited;
  };
  return {
    child,
    pid: child.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    exited,
    kill9: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    log: () => tail,
    cmdline: () => readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').join(' ').trim(),
  };
}
