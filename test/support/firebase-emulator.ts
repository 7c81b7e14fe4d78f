/**
 * The real Firebase Auth emulator for the test suites.
 *
 * `useAuthEmulator(t)` makes sure one emulator listens on 127.0.0.1:9099,
 * starting `firebase emulators:start --only auth --project demo-dispatch`
 * (firebase-tools, a devDependency) when nothing listens there. tap runs test
 * files in parallel processes, so the files coordinate through a directory in
 * the OS temp dir:
 *
 * - `lock/`: a mkdir lock around every start/stop decision (stale when its
 *   owner pid is dead);
 * - `leases/<pid>`: one per test process using the emulator;
 * - `emulator.pid`: present only when the suite started the emulator.
 *
 * At teardown a file drops its lease. The last one out hands over to a
 * detached reaper (this module run as a script) that waits a grace period
 * and then stops the emulator if no file has taken a lease since, and only if
 * the suite started it: one a developer started is left alone. The grace
 * period bridges the gap while tap starts the next file, which would
 * otherwise pay the emulator's start-up again.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const EMULATOR_HOST = '127.0.0.1:9099';
export const EMULATOR_PROJECT = 'demo-dispatch';

const STATE_DIR = join(tmpdir(), 'dispatch-auth-emulator-9099');
const LOCK_DIR = join(STATE_DIR, 'lock');
const LEASES_DIR = join(STATE_DIR, 'leases');
const PID_FILE = join(STATE_DIR, 'emulator.pid');
const LOG_FILE = join(STATE_DIR, 'emulator.log');
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Start-up is CPU-bound (~15 s on two cores: the emulator compiles its API
// schema); leave room for a loaded CI machine.
const START_TIMEOUT_MS = 90_000;
// How long a suite-started emulator outlives its last user.
const GRACE_MS = 15_000;

/** The minimum of a tap test this module needs. */
export interface Teardownable {
  teardown(fn: () => void | Promise<void>): void;
}

/** Holds the emulator for the current test file until its teardown. */
export async function useAuthEmulator(t: Teardownable): Promise<{ host: string; projectId: string }> {
  await withLock(async () => {
    mkdirSync(LEASES_DIR, { recursive: true });
    writeFileSync(join(LEASES_DIR, String(process.pid)), '');
    if (await isReady()) return;
    await startEmulator();
  });
  t.teardown(release);
  return { host: EMULATOR_HOST, projectId: EMULATOR_PROJECT };
}

/** True when the Auth emulator answers on its port. */
export async function isReady(): Promise<boolean> {
  try {
    const res = await fetch(`http://${EMULATOR_HOST}/`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { authEmulator?: { ready?: boolean } };
    return body.authEmulator?.ready === true;
  } catch {
    return false;
  }
}

async function startEmulator(): Promise<void> {
  const bin = join(
    dirname(createRequire(import.meta.url).resolve('firebase-tools/package.json')),
    'lib/bin/firebase.js',
  );
  const log = openSync(LOG_FILE, 'w');
  // Detached: the emulator outlives this file's process when other files
  // still hold leases; the last lease holder stops it by pid.
  const child = spawn(process.execPath, [bin, 'emulators:start', '--only', 'auth', '--project', EMULATOR_PROJECT], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', log, log],
    env: emulatorEnv(),
  });
  closeSync(log);
  if (child.pid === undefined) throw new Error('could not spawn the Firebase Auth emulator');
  writeFileSync(PID_FILE, String(child.pid));
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await isReady()) return;
    if (exited !== undefined) break;
    await sleep(250);
  }
  stopPid(child.pid);
  rmSync(PID_FILE, { force: true });
  throw new Error(
    `the Firebase Auth emulator did not become ready on ${EMULATOR_HOST}` +
      (exited !== undefined ? ` (it exited with ${exited})` : '') +
      `; its log:\n${readFileSync(LOG_FILE, 'utf8').slice(-3000)}`,
  );
}

function emulatorEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // The test runner's loader and our own emulator variable mean nothing to firebase-tools.
  delete env['NODE_OPTIONS'];
  delete env['FIREBASE_AUTH_EMULATOR_HOST'];
  return env;
}

async function release(): Promise<void> {
  const last = await withLock(async () => {
    rmSync(join(LEASES_DIR, String(process.pid)), { force: true });
    return liveLeases().length === 0 && readPid(PID_FILE) !== undefined;
  });
  if (!last) return;
  const reaper = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'reap'], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: 'ignore',
  });
  reaper.unref();
}

/** The reaper: after the grace period, stops a suite-started emulator nobody holds. */
async function reap(): Promise<void> {
  await sleep(GRACE_MS);
  await withLock(async () => {
    if (liveLeases().length > 0) return;
    const pid = readPid(PID_FILE);
    if (pid === undefined) return; // not ours, or another reaper did it
    stopPid(pid);
    for (let i = 0; i < 40 && (await isReady()); i++) await sleep(250);
    rmSync(PID_FILE, { force: true });
  });
}

function liveLeases(): string[] {
  return readdirSafe(LEASES_DIR).filter((pid) => alive(Number(pid)) || (rmLease(pid), false));
}

function stopPid(pid: number): void {
  // A stale pid file may name a pid the OS has since given to another program.
  if (!isEmulatorProcess(pid)) return;
  try {
    // Negative pid: the whole detached process group.
    process.kill(-pid, 'SIGTERM');
  } catch {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

function isEmulatorProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('emulators:start');
  } catch (err) {
    // No /proc (macOS): trust the pid file, which only this module writes.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync('/proc/self');
  }
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(STATE_DIR, { recursive: true });
  const deadline = Date.now() + START_TIMEOUT_MS + 30_000;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'owner'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readPid(join(LOCK_DIR, 'owner'));
      // A lock whose owner died (or that has no owner file after a crash mid-write) is stale.
      if (owner !== undefined && !alive(owner)) rmSync(LOCK_DIR, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK_DIR}`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function rmLease(pid: string): void {
  rmSync(join(LEASES_DIR, pid), { force: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'reap') await reap();
