/**
 * Engine processes of a local cluster (`npm start -- --role engine`), as the
 * cluster command, the cluster benchmark and the failover test start them:
 * each a child `node --import tsx scripts/server.ts --role engine`, its pino
 * lines kept for its caller. Shared by `npm run cluster`, `npm run bench --
 * cluster` and test/cluster/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cellToLatLng } from 'h3-js';
import type { LeaseBucket } from '../../adapters/cluster/nats-connection.js';
import { type BoundingBox, type PartitionMap, splitBoundingBox } from '../../engine/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TAIL = 200_000;

/** The city of the local cluster: Bengaluru's centre, about 33 × 28 km. */
export const LOCAL_CITY: BoundingBox = { south: 12.85, west: 77.45, north: 13.1, east: 77.75 };

/** A map of `count` partitions over the local city at resolution 6 (about 36 km² a cell), written to `file`. */
export async function writeLocalMap(file: string, count: number): Promise<PartitionMap> {
  const map = splitBoundingBox(LOCAL_CITY, 6, count);
  await writeFile(file, JSON.stringify(map.toJSON(), null, 1));
  return map;
}

/** A point well inside a partition: the centre of its middle cell. */
export function insidePartition(map: PartitionMap, p: string): { lat: number; lng: number } {
  const cells = map.cellsOf(p as never);
  const [lat, lng] = cellToLatLng(cells[Math.floor(cells.length / 2)]!);
  return { lat, lng };
}

export interface EngineProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code, or the signal's name, once it has exited. */
  readonly exited: Promise<number | string>;
  /** The tail of its log (pino lines). */
  log(): string;
  /** User plus system CPU it has used so far, ms (from /proc). */
  cpuMs(): number;
}

/**
 * Starts one engine process with `env` (the server's variables and the
 * cluster's: docs/scale.md) and resolves once it has made its first claim
 * round. `onLine` gets each log line (the cluster command prints them).
 */
export function spawnEngine(
  env: Readonly<Record<string, string>>,
  opts: { readonly onLine?: (line: string) => void; readonly startTimeoutMs?: number } = {},
): Promise<EngineProcess> {
  return spawnRole('engine', env, opts);
}

/**
 * Starts one gateway (`npm start -- --role gateway`) with `env` and resolves once it listens;
 * its port is in its log (`server: listening on`), and {@link listeningPort} reads it.
 */
export function spawnGateway(
  env: Readonly<Record<string, string>>,
  opts: { readonly onLine?: (line: string) => void; readonly startTimeoutMs?: number } = {},
): Promise<EngineProcess> {
  return spawnRole('gateway', env, opts);
}

/** The port a gateway's log says it listens on. */
export function listeningPort(p: EngineProcess): number | undefined {
  const m = /server: listening on http:\/\/[^\s"]+:(\d+)/.exec(p.log());
  return m ? Number(m[1]) : undefined;
}

const READY: Record<'engine' | 'gateway', RegExp> = {
  engine: /partitions in .*, serving/,
  gateway: /server: listening on/,
};

function spawnRole(
  role: 'engine' | 'gateway',
  env: Readonly<Record<string, string>>,
  opts: { readonly onLine?: (line: string) => void; readonly startTimeoutMs?: number },
): Promise<EngineProcess> {
  // `BENCH_CPU_PROF=<dir>` writes a V8 CPU profile of each engine process there (at its exit).
  const prof = process.env['BENCH_CPU_PROF'];
  const flags = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', 'scripts/server.ts', '--role', role], {
    cwd: ROOT,
    // Several on one machine: each its own operations port unless told.
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
  let log = '';
  let partial = '';
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  child.stderr.on('data', (d: Buffer) => {
    const s = d.toString();
    log = (log + s).slice(-TAIL);
    if (opts.onLine) {
      const lines = (partial + s).split('\n');
      partial = lines.pop()!;
      for (const l of lines) opts.onLine(l);
    }
  });
  const pid = child.pid!;
  const proc: EngineProcess = { child, pid, exited, log: () => log, cpuMs: () => processCpuMs(pid) };
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${role} did not start within ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    const check = setInterval(() => {
      if (READY[role].test(log)) {
        clearInterval(check);
        clearTimeout(timer);
        resolve(proc);
      }
    }, 50);
    void exited.then((how) => {
      clearInterval(check);
      clearTimeout(timer);
      reject(new Error(`${role} exited (${how}) before serving:\n${log}`));
    });
  });
}

/** User plus system CPU of a process, ms (0 once it is gone). */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** Which engine process holds a partition's lease now (by the pid in its owner id), if any. */
export async function ownerOf(
  bucket: LeaseBucket,
  engines: readonly EngineProcess[],
  partition: string,
): Promise<EngineProcess | undefined> {
  const e = await bucket.kv.get(partition);
  if (e === null || e.operation !== 'PUT') return undefined;
  const pid = Number(/-(\d+)-[0-9a-f]+$/.exec(e.json<{ owner: string }>().owner)?.[1]);
  return engines.find((x) => x.pid === pid);
}

/** Resolves once every partition is owned and each engine holds its share (or rejects after `timeoutMs`). */
export async function balanced(
  bucket: LeaseBucket,
  engines: readonly EngineProcess[],
  partitions: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const share = Math.ceil(partitions.length / engines.length);
  const floor = Math.floor(partitions.length / engines.length);
  const t0 = Date.now();
  for (;;) {
    const owners = await Promise.all(partitions.map((p) => ownerOf(bucket, engines, p)));
    const counts = engines.map((e) => owners.filter((o) => o === e).length);
    if (owners.every((o) => o !== undefined) && counts.every((n) => n >= floor && n <= share)) return;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`partitions not shared out within ${timeoutMs} ms: ${counts.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
