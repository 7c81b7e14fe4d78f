/**
 * `npm run bench -- ingest`: many riders connected to the real gateway,
 * streaming real position frames; the figure is the server's CPU per
 * position. Three processes: this one (orchestration, identities), the server
 * (bench/ingest/server.ts, measures its own `process.cpuUsage()` over the
 * window) and the load generator (bench/ingest/load.ts). Identities are real:
 * one Auth emulator user and one ID token per rider (bench/ingest/tokens.ts).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFirebaseConfig } from '../adapters/identity/config.js';
import { createFirebaseIdentity } from '../adapters/identity/firebase-identity.js';
import { RIDER_PATH } from '../protocol/index.js';
import { EMULATOR_HOST, useAuthEmulator } from '../test/support/firebase-emulator.js';
import type { LoadCmd, LoadMsg } from './ingest/load.js';
import type { ParentMsg, ServerMsg } from './ingest/server.js';
import { riderTokens } from './ingest/tokens.js';

/** `floor`: the server's handler only counts frames (bench/ingest/floor.ts): what uWS and the kernel cost alone. */
export const defaultIngestBench = { riders: 10_000, rate: 1, seconds: 20, warmup: 3, floor: false };
export type IngestFlags = typeof defaultIngestBench;

export interface IngestResult {
  riders: number;
  rate_hz: number;
  floor: boolean;
  seconds: number;
  connections: number;
  positions: number;
  positions_per_s: number;
  server_cpu_s: number;
  server_user_s: number;
  server_system_s: number;
  us_per_position: number;
  goal_us_per_position: number;
  met: boolean;
  errors: number;
  error_codes: Record<string, number>;
  failed_connects: number;
  closes: number;
  stale: number;
  rate_limited: number;
  dropped_frames: number;
  server_rss_mb: number;
  server_cpu_s_by_thread: Record<string, number>;
  server_closes_by_code: Record<number, number>;
  connect_s: number;
  load_sent: number;
  auth: string;
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const child = (file: string, args: string[]) =>
  fork(here(file), args, {
    execArgv: [
      '--import',
      'tsx',
      ...(process.env['BENCH_CPU_PROF'] && file.includes('server')
        ? ['--cpu-prof', '--cpu-prof-dir=' + process.env['BENCH_CPU_PROF']]
        : []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
const nextMsg = <T extends { type: string }>(c: ChildProcess, type: T['type']): Promise<T> =>
  new Promise((resolve, reject) => {
    const on = (m: T) => {
      if (m.type !== type) return;
      c.off('message', on);
      resolve(m);
    };
    c.on('message', on);
    c.once('exit', (code) => reject(new Error(`${type}: child exited with ${code}`)));
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runIngestBench(f: IngestFlags, log: (s: string) => void): Promise<IngestResult> {
  const teardowns: (() => void | Promise<void>)[] = [];
  process.env['FIREBASE_AUTH_EMULATOR_HOST'] = EMULATOR_HOST;
  await useAuthEmulator({ teardown: (fn) => void teardowns.push(fn) });
  const identity = createFirebaseIdentity(parseFirebaseConfig({ NODE_ENV: 'test' }));
  const dir = mkdtempSync(join(tmpdir(), 'ingest-bench-'));
  let server: ChildProcess | undefined;
  let load: ChildProcess | undefined;
  try {
    const tokens = await riderTokens(identity.auth, EMULATOR_HOST, f.riders, log);
    const tokensFile = join(dir, 'tokens.json');
    writeFileSync(tokensFile, JSON.stringify(tokens));

    server = child('./ingest/server.ts', [EMULATOR_HOST, String(f.rate), f.floor ? 'floor' : 'gateway']);
    const { port } = await nextMsg<Extract<ServerMsg, { type: 'ready' }>>(server, 'ready');
    log(`server on port ${port}; connecting ${f.riders} riders`);
    load = child('./ingest/load.ts', [`ws://127.0.0.1:${port}${RIDER_PATH}`, tokensFile, String(f.rate)]);
    const connected = await nextMsg<Extract<LoadMsg, { type: 'connected' }>>(load, 'connected');
    log(
      `${connected.connections} connected (${connected.failed} failed) in ${connected.connect_s} s; streaming ${f.rate} Hz each`,
    );

    const done = nextMsg<Extract<LoadMsg, { type: 'done' }>>(load, 'done');
    load.send({ type: 'stream', seconds: f.warmup + f.seconds + 1 } satisfies LoadCmd);
    await sleep(f.warmup * 1000);
    server.send({ type: 'start' } satisfies ParentMsg);
    const windowMsg = nextMsg<Extract<ServerMsg, { type: 'window' }>>(server, 'window');
    await sleep(f.seconds * 1000);
    server.send({ type: 'stop' } satisfies ParentMsg);
    const w = await windowMsg;
    const d = await done;
    const us = w.positions > 0 ? (w.cpu_s * 1e6) / w.positions : NaN;
    return {
      riders: f.riders,
      rate_hz: f.rate,
      floor: f.floor,
      seconds: f.seconds,
      connections: w.connections,
      positions: w.positions,
      positions_per_s: Math.round(w.positions / f.seconds),
      server_cpu_s: Number(w.cpu_s.toFixed(3)),
      server_user_s: Number(w.user_s.toFixed(3)),
      server_system_s: Number(w.system_s.toFixed(3)),
      us_per_position: Number(us.toFixed(2)),
      goal_us_per_position: 4,
      met: !f.floor && us <= 4 && w.connections >= Math.min(f.riders, 10_000),
      errors: d.errors + connected.failed,
      error_codes: d.error_codes,
      failed_connects: connected.failed,
      closes: d.closes,
      stale: w.stale,
      rate_limited: w.rate_limited,
      dropped_frames: w.dropped,
      server_rss_mb: w.rss_mb,
      server_cpu_s_by_thread: w.threads,
      server_closes_by_code: w.closes,
      connect_s: connected.connect_s,
      load_sent: d.sent,
      auth: `${f.riders} distinct emulator users, one real ID token each, verified by firebase-admin at upgrade`,
    };
  } finally {
    load?.send({ type: 'exit' } satisfies LoadCmd);
    server?.send({ type: 'exit' } satisfies ParentMsg);
    const exited = (c: ChildProcess | undefined) =>
      c === undefined || c.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()));
    await Promise.race([Promise.all([exited(load), exited(server)]), sleep(5000)]);
    load?.kill();
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
    await identity.close();
    for (const t of teardowns) await t();
  }
}
