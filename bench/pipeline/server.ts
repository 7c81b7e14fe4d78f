/**
 * The pipeline bench's server process: the real server (`startServer`, the
 * composition `npm start` runs: REST, rider and stream sockets on one uWS
 * port, Postgres behind BullMQ) with one thing varied, how candidates are
 * found and positions stored:
 *
 * - `engine`: the engine's own in-memory H3 index (production);
 * - `redis-geo`, `postgis`: the engine in external candidates mode, with the
 *   store mirroring its available riders from every applied position and
 *   answering each order's nearest-k lookup; scoring, offers, sockets and
 *   REST stay the same.
 *
 * Identity runs on the path the orchestrator chose (bench/identity/bench-identity.ts):
 * by default production's, tokens verified by firebase-admin against keys it
 * fetched from a local stand-in of Google, behind the server's own identity
 * cache as `npm start` builds it (`IDENTITY_CACHE_SIZE`, the bench's
 * `--identity-cache`; 0 verifies every request); or the emulator's.
 *
 * It reports its own `process.cpuUsage()` between a `start` and a `stop`
 * message, the engine's match histogram and the store's lookup histogram,
 * and, with the stage profiler on (`ServerHooks.stages`), what each stage
 * counted and the main thread's CPU, for issue 19's budget.
 */
import { parseServerConfig } from '../../adapters/server/server-config.js';
import { startServer, type ServerHooks } from '../../adapters/server/server.js';
import { externalCandidates, type ExternalCandidates } from '../../adapters/candidates/external-candidates.js';
import { postgisStore } from '../../adapters/candidates/postgis-store.js';
import { redisGeoStore } from '../../adapters/candidates/redis-geo-store.js';
import type { CandidateStore } from '../../adapters/candidates/candidate-store.js';
import { parseRedisUrl } from '../../adapters/queue/redis-url.js';
import { mainThreadCpuUs, StageProfiler, type StageCount } from '../../adapters/observability/stage-profiler.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import type { Principal, Result } from '../../protocol/index.js';
import { LatencyHistogram } from '../hdr.js';
import { serverIdentity, type ServerIdentity } from '../identity/bench-identity.js';
import type { System } from './systems.js';

export interface ServerArgs {
  readonly system: System;
  /** The candidate store's URL (baselines only). */
  readonly storeUrl?: string;
  /** Candidates asked of the store per order (beyond the order's excluded riders). */
  readonly k: number;
  /** How tokens are verified: production's path or the emulator's. */
  readonly identity: ServerIdentity;
  /** Environment for `parseServerConfig`, as `npm start` would read it. */
  readonly env: Record<string, string>;
  /** Run the stage profiler (adapters/observability/stage-profiler.ts) and report each window's stages. */
  readonly stages: boolean;
}

export type ServerMsg =
  | { type: 'ready'; port: number }
  | {
      type: 'window';
      cpu_s: number;
      user_s: number;
      system_s: number;
      positions: number;
      engine_match: string;
      lookup: string;
      bridge: ExternalCandidates['stats'] | null;
      store_write_errors: number;
      rss_mb: number;
      heap_mb: number;
      /** The window's stages (null without the profiler) and the main thread's CPU (null without /proc). */
      stages: Record<string, StageCount> | null;
      main_thread_cpu_s: number | null;
      /** Share of the window the event loop was busy (perf_hooks' event loop utilisation). */
      loop_busy: number;
    };
export type ParentMsg = { type: 'start' } | { type: 'stop' } | { type: 'exit' };

const args = JSON.parse(process.argv[2]!) as ServerArgs;
const send = (m: ServerMsg) => process.send?.(m);

/**
 * Emulator path with the server's cache off only: remembers each verified
 * token until it expires. firebase-admin asks the emulator about every token
 * (a network call that production, verifying RS256 locally, never makes), and
 * with a thousand REST calls a second the emulator, not the server, would be
 * measured. With the server's cache on, that cache does the same.
 */
function rememberTokens(inner: IdentityVerifier): IdentityVerifier {
  const known = new Map<string, Principal>();
  return {
    async verify(token, opts) {
      const p = known.get(token);
      if (p !== undefined && p.expiresAt > Date.now() && opts?.checkRevoked !== true) return { ok: true, value: p };
      const res: Result<Principal> = await inner.verify(token, opts);
      if (res.ok) known.set(token, res.value);
      return res;
    },
  };
}

const engineMatch = new LatencyHistogram();
const lookup = new LatencyHistogram();
let positions = 0;
let store: CandidateStore | undefined;
let bridge: ExternalCandidates | undefined;
if (args.system === 'redis-geo') store = redisGeoStore(parseRedisUrl(args.storeUrl!), `bench:${process.pid}`);
else if (args.system === 'postgis') store = await postgisStore(args.storeUrl!);
if (store) {
  bridge = externalCandidates(store, {
    k: args.k,
    onLookup: (us) => lookup.recordMicros(us),
    logger: { error: (m, d) => console.error('[server]', m, d) },
  });
}
const b = bridge;
const id = serverIdentity(args.identity);
const profiler = args.stages ? new StageProfiler() : undefined;
profiler?.watchGc();
const hooks: ServerHooks = {
  ...(profiler ? { stages: profiler } : {}),
  engine: { onMatch: (m) => engineMatch.recordMicros(m.micros), ...(b ? { externalCandidates: b.request } : {}) },
  // Every system counts applied positions here; the baselines also write them to their store.
  onPosition: b
    ? (id, lat, lng) => {
        positions++;
        b.onPosition(id, lat, lng);
      }
    : () => {
        positions++;
      },
  ...(id.agent !== undefined
    ? { identityAgent: id.agent }
    : args.env['IDENTITY_CACHE_SIZE'] === '0'
      ? { wrapIdentity: rememberTokens }
      : {}),
};
const quiet = {
  info: () => {},
  warn: (o: Record<string, unknown>) => console.error('[server]', JSON.stringify(o)),
  error: (o: Record<string, unknown>) => console.error('[server]', JSON.stringify(o)),
};
const config = { ...parseServerConfig({ METRICS_PORT: '0', ...args.env }), firebase: id.firebase };
const server = await startServer(config, quiet, hooks);
bridge?.attach(server.engine);
send({ type: 'ready', port: server.port });

let t0 = process.cpuUsage();
let elu0 = performance.eventLoopUtilization();
let main0 = mainThreadCpuUs();
let p0 = 0;
process.on('message', (m: ParentMsg) => {
  if (m.type === 'start') {
    t0 = process.cpuUsage();
    elu0 = performance.eventLoopUtilization();
    main0 = mainThreadCpuUs();
    profiler?.reset();
    p0 = positions;
    engineMatch.reset();
    lookup.reset();
  } else if (m.type === 'stop') {
    const d = process.cpuUsage(t0);
    const main1 = mainThreadCpuUs();
    const stages = profiler?.snapshot() ?? null;
    const mem = process.memoryUsage();
    send({
      type: 'window',
      cpu_s: (d.user + d.system) / 1e6,
      user_s: d.user / 1e6,
      system_s: d.system / 1e6,
      positions: positions - p0,
      engine_match: engineMatch.encode(),
      lookup: lookup.encode(),
      bridge: bridge ? { ...bridge.stats } : null,
      store_write_errors: store?.writeErrors ?? 0,
      rss_mb: Math.round(mem.rss / 2 ** 20),
      heap_mb: Math.round(mem.heapUsed / 2 ** 20),
      stages,
      main_thread_cpu_s: main0 === null || main1 === null ? null : (main1 - main0) / 1e6,
      loop_busy: Number(performance.eventLoopUtilization(elu0).utilization.toFixed(3)),
    });
  } else {
    const stop = async () => {
      bridge?.detach();
      await Promise.race([server.close(), new Promise((r) => setTimeout(r, 5_000))]);
      await store?.close().catch(() => {});
    };
    // A CPU profile, when asked for, is written at exit.
    void stop().finally(() => process.exit(0));
  }
});
