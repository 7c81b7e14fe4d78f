/**
 * Runs a few child processes as one unit: when one exits the others are
 * stopped, a signal to the unit goes to every child, and `done` settles once
 * all have exited. Each child leads its own process group, so a child that
 * is a shell or npm takes its own children down with it, and a Ctrl-C in the
 * terminal reaches the children once, through here.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface ChildSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export interface SupervisorOptions {
  /** Where the supervisor's own lines go (children write to our stdout and stderr). */
  readonly log: (line: string) => void;
  /** How long children may take to stop before SIGKILL. Default 10 s. */
  readonly graceMs?: number;
}

interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

export class Supervisor {
  private readonly children: Managed[] = [];
  private stopping: { signal: NodeJS.Signals; cause: 'signal' | 'child-exit' | 'error' } | undefined;
  private firstFailure: number | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private settle!: (code: number) => void;
  /** The unit's exit code, once every child has exited after a stop. */
  readonly done: Promise<number>;

  constructor(private readonly opts: SupervisorOptions) {
    this.done = new Promise((r) => {
      this.settle = r;
    });
    // Last resort if this process exits without a clean stop: no orphans.
    process.once('exit', () => {
      for (const m of this.children) if (!m.exit) killGroup(m.child, 'SIGKILL');
    });
  }

  /** True once a stop began (a signal, a child's exit, or `fail`). */
  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Starts a child in its own process group; its exit stops the unit. */
  spawn(spec: ChildSpec): ChildProcess {
    if (this.stopping) throw new Error(`supervisor: stopping, will not start ${spec.name}`);
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    let resolveExited!: () => void;
    const managed: Managed = {
      name: spec.name,
      child,
      exited: new Promise<void>((r) => {
        resolveExited = r;
      }),
      exit: undefined,
    };
    this.children.push(managed);
    child.once('error', (err) => {
      this.opts.log(`edge: could not start ${spec.name} (${spec.command}): ${err.message}`);
      managed.exit = { code: 127, signal: null };
      resolveExited();
      this.onExit(managed);
    });
    child.once('exit', (code, signal) => {
      managed.exit = { code, signal };
      resolveExited();
      this.onExit(managed);
    });
    return child;
  }

  /** Forwards `signal` to every child, then waits for them (SIGKILL after the grace time). */
  stop(signal: NodeJS.Signals = 'SIGTERM', cause: 'signal' | 'child-exit' | 'error' = 'signal'): Promise<number> {
    if (this.stopping) {
      // A second Ctrl-C: do not wait for the grace time.
      if (cause === 'signal') for (const m of this.live()) killGroup(m.child, 'SIGKILL');
      return this.done;
    }
    this.stopping = { signal, cause };
    for (const m of this.live()) killGroup(m.child, signal);
    this.killTimer = setTimeout(() => {
      for (const m of this.live()) {
        this.opts.log(`edge: ${m.name} did not stop within ${this.opts.graceMs ?? 10_000} ms; killing it`);
        killGroup(m.child, 'SIGKILL');
      }
    }, this.opts.graceMs ?? 10_000);
    this.killTimer.unref();
    this.maybeSettle();
    return this.done;
  }

  /** Stops the unit because something outside the children failed (e.g. a readiness check). */
  fail(reason: string): Promise<number> {
    this.opts.log(`edge: ${reason}; stopping`);
    this.firstFailure ??= 1;
    return this.stop('SIGTERM', 'error');
  }

  private live(): Managed[] {
    return this.children.filter((m) => !m.exit);
  }

  private onExit(m: Managed): void {
    const how = m.exit?.signal ? `signal ${m.exit.signal}` : `code ${m.exit?.code ?? '?'}`;
    killGroup(m.child, 'SIGTERM'); // whatever the child left running in its group
    if (!this.stopping) {
      this.opts.log(`edge: ${m.name} exited (${how}); stopping the others`);
      this.firstFailure ??= m.exit?.code || 1;
      void this.stop('SIGTERM', 'child-exit');
    } else {
      this.opts.log(`edge: ${m.name} stopped (${how})`);
      // After a signal, a child that fails on the way down still counts.
      if (this.stopping.cause === 'signal' && m.exit?.code) this.firstFailure ??= m.exit.code;
    }
    this.maybeSettle();
  }

  private maybeSettle(): void {
    if (!this.stopping || this.live().length > 0) return;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.settle(this.firstFailure ?? 0);
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}
