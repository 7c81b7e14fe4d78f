/**
 * `npm run bench -- identity`: what one ID token verification costs the
 * server, on production's path and on the emulator's, through the identity
 * adapter the server uses (`verify`: firebase-admin's `verifyIdToken` plus
 * the claims → principal rules). In this process, one verification at a
 * time, each token a distinct user's (as each request of a run is):
 *
 * - production: tokens RS256-signed by the run's key; firebase-admin fetches
 *   the key endpoint once over HTTPS from the local stand-in of Google and
 *   then verifies locally. Beside it, the RS256 signature check alone
 *   (node:crypto), the floor of any verifier, and the cached path: the same
 *   tokens again through the server's identity cache (CachingIdentity), each
 *   one verified once before, so every measured call is a hit.
 * - emulator: tokens from the Auth emulator; firebase-admin asks the emulator
 *   about each one (a user lookup over HTTP). The emulator's own CPU is read
 *   from /proc for the process listening on its port; where that cannot be
 *   found it is reported as null (uncounted).
 */
import { createPublicKey, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { parseFirebaseConfig } from '../adapters/identity/config.js';
import { CachingIdentity } from '../adapters/identity/caching-identity.js';
import { createFirebaseIdentity } from '../adapters/identity/firebase-identity.js';
import { systemClock } from '../adapters/system-clock.js';
import type { IdentityVerifier } from '../engine/ports/identity.js';
import { EMULATOR_HOST } from '../test/support/firebase-emulator.js';
import { openTokenSource, serverIdentity, type IdentityPath } from './identity/bench-identity.js';
import { riderSpecs } from './ingest/tokens.js';
import { processCpuSeconds } from './pipeline/stores.js';
import { gc, Sample } from './stats.js';

export const defaultIdentityBench = {
  /** Verifications measured per path. */
  n: 2000,
  /** Verifications before measuring (the first fetches the keys, or warms the emulator's connection). */
  warmup: 200,
  /** `both`, `production` or `emulator`. */
  paths: 'both' as string,
};
export type IdentityBenchFlags = typeof defaultIdentityBench;

interface PathResult {
  n: number;
  /** This process's CPU (user + system, all threads) over the measured verifications, per verification. */
  server_cpu_us_per_verify: number;
  server_user_us_per_verify: number;
  server_system_us_per_verify: number;
  /** Wall time of one `verify`, request to answer. */
  wall_us: { count: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}
export interface IdentityBenchResult {
  n: number;
  warmup: number;
  production:
    | (PathResult & {
        rs256_verify_cpu_us: number;
        key_fetches: number;
        /** The same tokens through the identity cache after one full verification each: all hits. */
        cached: PathResult & { hits: number };
      })
    | null;
  emulator:
    | (PathResult & {
        emulator_pid: number | null;
        emulator_cpu_us_per_verify: number | null;
        total_cpu_us_per_verify: number | null;
      })
    | null;
}

const r2 = (x: number) => Number(x.toFixed(2));

export async function runIdentityBench(f: IdentityBenchFlags, log: (s: string) => void): Promise<IdentityBenchResult> {
  const want = (p: IdentityPath) => f.paths === 'both' || f.paths === p;
  // Production first: the emulator path sets FIREBASE_AUTH_EMULATOR_HOST in this process, and a
  // production verifier refuses to work once it is set.
  const production = want('production') ? await productionPath(f, log) : null;
  const emulator = want('emulator') ? await emulatorPath(f, log) : null;
  return { n: f.n, warmup: f.warmup, production, emulator };
}

async function productionPath(f: IdentityBenchFlags, log: (s: string) => void) {
  const src = await openTokenSource('production');
  const side = serverIdentity(src.server);
  const id = createFirebaseIdentity(side.firebase, side.agent !== undefined ? { httpAgent: side.agent } : {});
  try {
    const tokens = await src.mint(riderSpecs(f.warmup + f.n), (s) => log(`production: ${s}`));
    const { emulatorSeconds: _, ...measured } = await measure(id, tokens, f.warmup);
    const rs256 = rs256Alone(tokens.slice(f.warmup), createPublicKey(src.signingKey!.privateKey));
    // Every token was verified above; through a fresh cache the warm-up fills it, and the measured
    // tokens are verified once unmeasured first, so what is measured is the hit alone.
    const cache = new CachingIdentity(id, { clock: systemClock, size: tokens.length });
    for (let i = f.warmup; i < tokens.length; i++) await verifyOrThrow(cache, tokens[i]!);
    const { emulatorSeconds: __, ...hit } = await measure(cache, tokens, f.warmup);
    const cached = { ...hit, hits: cache.stats.hits };
    if (cached.hits < hit.n) throw new Error(`the cached path missed: ${cached.hits} hits of ${hit.n}`);
    const res = { ...measured, rs256_verify_cpu_us: rs256, key_fetches: src.google?.requests.certs ?? 0, cached };
    log(
      `production: ${res.server_cpu_us_per_verify} µs CPU per verification (RS256 alone ${rs256} µs), ` +
        `${cached.server_cpu_us_per_verify} µs from the cache`,
    );
    return res;
  } finally {
    await id.close();
    side.agent?.destroy();
    await src.close();
  }
}

async function emulatorPath(f: IdentityBenchFlags, log: (s: string) => void) {
  const src = await openTokenSource('emulator');
  const id = createFirebaseIdentity(
    parseFirebaseConfig({ NODE_ENV: 'test', FIREBASE_AUTH_EMULATOR_HOST: EMULATOR_HOST }),
  );
  try {
    const tokens = await src.mint(riderSpecs(f.warmup + f.n), (s) => log(`emulator: ${s}`));
    const pid = listenerPid(Number(EMULATOR_HOST.split(':')[1]));
    if (pid === null) log('emulator: its process was not found in /proc; its CPU is not counted');
    const measured = await measure(id, tokens, f.warmup, () => (pid !== null ? processCpuSeconds(pid) : 0));
    const emuUs = pid !== null ? r2((measured.emulatorSeconds * 1e6) / f.n) : null;
    const { emulatorSeconds: _, ...rest } = measured;
    const res = {
      ...rest,
      emulator_pid: pid,
      emulator_cpu_us_per_verify: emuUs,
      total_cpu_us_per_verify: emuUs === null ? null : r2(rest.server_cpu_us_per_verify + emuUs),
    };
    log(`emulator: ${res.server_cpu_us_per_verify} µs server CPU + ${emuUs ?? 'uncounted'} µs in the emulator`);
    return res;
  } finally {
    await id.close();
    await src.close();
    delete process.env['FIREBASE_AUTH_EMULATOR_HOST'];
  }
}

/** Verifies `warmup` tokens unmeasured, then the rest one at a time, measuring CPU and wall time. */
async function measure(
  id: IdentityVerifier,
  tokens: readonly string[],
  warmup: number,
  otherCpu: () => number = () => 0,
): Promise<PathResult & { emulatorSeconds: number }> {
  for (let i = 0; i < warmup; i++) await verifyOrThrow(id, tokens[i]!);
  const n = tokens.length - warmup;
  const wall = new Sample();
  gc();
  const o0 = otherCpu();
  const c0 = process.cpuUsage();
  for (let i = warmup; i < tokens.length; i++) {
    const t0 = performance.now();
    await verifyOrThrow(id, tokens[i]!);
    wall.add((performance.now() - t0) * 1000);
  }
  const c = process.cpuUsage(c0);
  const emulatorSeconds = otherCpu() - o0;
  return {
    n,
    server_cpu_us_per_verify: r2((c.user + c.system) / n),
    server_user_us_per_verify: r2(c.user / n),
    server_system_us_per_verify: r2(c.system / n),
    wall_us: { count: wall.count, ...wall.summary(0), mean: Math.round(wall.mean()) },
    emulatorSeconds,
  };
}

async function verifyOrThrow(id: IdentityVerifier, token: string): Promise<void> {
  const res = await id.verify(token);
  if (!res.ok) throw new Error(`a bench token was refused: ${res.code} ${res.detail}`);
}

/** CPU µs of the RS256 check alone (node:crypto), per token: the floor of any verifier. */
function rs256Alone(tokens: readonly string[], key: KeyObject): number {
  const parts = tokens.map((t) => {
    const [h, p, s] = t.split('.') as [string, string, string];
    return { input: Buffer.from(`${h}.${p}`), sig: Buffer.from(s, 'base64url') };
  });
  gc();
  const c0 = process.cpuUsage();
  for (const x of parts) {
    if (!rsaVerify('sha256', x.input, key, x.sig)) throw new Error('RS256 check failed on a bench token');
  }
  const c = process.cpuUsage(c0);
  return r2((c.user + c.system) / parts.length);
}

/** The pid of the process listening on TCP `port` (any address), from /proc; null when not found. */
export function listenerPid(port: number): number | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth column.
      if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A' && cols[9] !== undefined) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return null;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${name}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(name);
      } catch {
        /* gone meanwhile */
      }
    }
  }
  return null;
}
