import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, openLeaseBucket, type LeaseBucket } from '../../adapters/cluster/nats-connection.js';
import type { Clock, TimerHandle } from '../../engine/index.js';
import { monotonicClock } from '../../adapters/system-clock.js';
import { freePort } from './redis-server.js';

type Teardown = { teardown(fn: () => unknown): void };

/** The shared NATS of the suites (JetStream on); tests use buckets of their own and destroy them. */
export const SHARED_NATS = process.env['TEST_NATS_SERVERS'] ?? '127.0.0.1:4222';

/** A connection to `servers` (default the shared NATS), closed at teardown. */
export async function natsConnection(t: Teardown, servers = SHARED_NATS): Promise<NatsConnection> {
  const nc = await connectNats({ servers, name: 'test' });
  t.teardown(() => nc.close());
  return nc;
}

/** A lease bucket with a name of this test's own, destroyed at teardown (before its connection closes). */
export async function leaseBucket(
  t: Teardown,
  nc: NatsConnection,
  ttlMs: number,
  requestTimeoutMs = 2_000,
): Promise<LeaseBucket> {
  const name = `t_lease_${process.pid}_${randomBytes(4).toString('hex')}`;
  const bucket = await openLeaseBucket(nc, { bucket: name, ttlMs, requestTimeoutMs });
  t.teardown(() => bucket.destroy().catch(() => {}));
  return bucket;
}

/**
 * Real time and timers that can be frozen, to play a process stopped by
 * SIGSTOP (timers due meanwhile fire on `resume`, time has moved on) or killed
 * with -9 (frozen for good). Time itself never stops, as for a real pause.
 */
export class PausableClock implements Clock {
  #paused = false;
  readonly #due: (() => void)[] = [];

  now(): number {
    return monotonicClock.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return monotonicClock.setTimeout(() => {
      if (this.#paused) this.#due.push(fn);
      else fn();
    }, ms);
  }

  clearTimeout(handle: TimerHandle): void {
    monotonicClock.clearTimeout(handle);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    for (const fn of this.#due.splice(0)) fn();
  }
}

export interface OwnNats {
  readonly servers: string;
  /** SIGKILL, and wait for the process to exit. */
  kill(): Promise<void>;
}

/**
 * A nats-server of the test's own on a free port (for tests that kill it or
 * run it without JetStream), with its store in a temporary folder. Killed at
 * teardown.
 */
export async function startNats(t: Teardown, opts: { jetstream?: boolean } = {}): Promise<OwnNats> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port), ...(opts.jetstream === false ? [] : ['-js', '-sd', dir])];
  const proc: ChildProcess = spawn('nats-server', args, { stdio: 'ignore' });
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const kill = async () => {
    if (!exited) proc.kill('SIGKILL');
    await gone;
  };
  t.teardown(async () => {
    await kill();
    await rm(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 5_000;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) throw new Error(`nats-server on port ${port} did not start`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { servers: `127.0.0.1:${port}`, kill };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = tcpConnect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
