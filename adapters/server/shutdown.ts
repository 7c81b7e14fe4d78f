/**
 * Graceful shutdown of the server and the worker on SIGTERM or SIGINT, within
 * a grace period (`SHUTDOWN_GRACE_MS`, default 25 s: five seconds inside the
 * 30 s Kubernetes and docker-compose give before SIGKILL). `close` does the
 * work in order (the server: stop accepting, close sockets with 4010 so
 * riders reconnect elsewhere or later, flush the write-behind, stop workers,
 * close storage); when it is not done within the grace period the process
 * exits 1 anyway, saying so, so an orchestrator never has to SIGKILL a
 * process that hangs. A second signal exits at once.
 */

export const DEFAULT_GRACE_MS = 25_000;
const MIN_GRACE_MS = 1_000;
const MAX_GRACE_MS = 600_000;

export class ShutdownConfigError extends Error {}

/** `SHUTDOWN_GRACE_MS` in ms; throws ShutdownConfigError naming the variable on a bad value. */
export function parseGraceMs(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env['SHUTDOWN_GRACE_MS'];
  if (raw === undefined || raw === '') return DEFAULT_GRACE_MS;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < MIN_GRACE_MS || n > MAX_GRACE_MS)
    throw new ShutdownConfigError(
      `SHUTDOWN_GRACE_MS must be an integer in ${MIN_GRACE_MS}..${MAX_GRACE_MS} (ms), got ${JSON.stringify(raw)}`,
    );
  return n;
}

export interface ShutdownOptions {
  /** What the process is, for the log lines ("server", "worker"). */
  readonly name: string;
  readonly graceMs: number;
  /** Does the shutdown; resolves when everything is closed. */
  readonly close: () => Promise<void>;
  /** One line to stderr (or the logger). */
  readonly log: (line: string) => void;
  /** Ends the process; tests pass their own. */
  readonly exit?: (code: number) => void;
}

/** Installs the SIGTERM and SIGINT handlers; returns the function they call. */
export function onShutdownSignals(opts: ShutdownOptions): (signal: string) => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      opts.log(`${opts.name}: ${signal} again: exiting now`);
      exit(1);
      return;
    }
    stopping = true;
    const started = Date.now();
    opts.log(`${opts.name}: ${signal}: shutting down (grace period ${opts.graceMs} ms)`);
    const timer = setTimeout(() => {
      opts.log(`${opts.name}: shutdown not finished within the grace period of ${opts.graceMs} ms: exiting`);
      exit(1);
    }, opts.graceMs);
    opts.close().then(
      () => {
        clearTimeout(timer);
        opts.log(`${opts.name}: shut down in ${Date.now() - started} ms`);
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        opts.log(`${opts.name}: shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return stop;
}

/** Something a composition root opened, to be closed at shutdown. */
export type Closer = () => Promise<void> | void;

/**
 * What a composition root opened (`npm start`, an engine process), closed in
 * the reverse order of opening; a close that fails is logged and the rest go on.
 */
export function closerStack(log: { error(o: Record<string, unknown>): void }, ...opened: Closer[]) {
  const closers = [...opened];
  return {
    push: (c: Closer): void => {
      closers.push(c);
    },
    closeAll: async (): Promise<void> => {
      for (const c of closers.splice(0).reverse())
        await Promise.resolve(c()).catch((err: unknown) => log.error({ msg: 'close failed', err: String(err) }));
    },
  };
}
