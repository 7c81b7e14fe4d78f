/**
 * `npm run bench -- <scenario> [flags]`:
 * - `match`: the whole pipeline end to end (REST + real rider sockets, server and load generator in their own processes):
 *   confirming PUT → offer frame at the rider's socket, plus the engine's own histogram;
 * - `baselines`: the same pipeline three times on the same workload (engine, Redis GEO, PostGIS), with ratios;
 * - `ingest`: riders streaming real frames to the WebSocket gateway; server CPU per position;
 * - `memory`: heap per online rider and per active order at 100k riders;
 * - `engine`: the engine alone in one process, each figure beside a baseline;
 * - `write-behind`: Postgres and BullMQ: rows/s written behind, queue lag, start to serving;
 * - `cluster`: several engine processes over NATS, driven as gateways would: commands and positions a second at p99 ≤ 50 ms;
 * - `identity`: server CPU and latency of one ID token verification, on production's path and the emulator's;
 * - `all`: ingest, memory, baselines (its engine run is the match figure), engine and write-behind.
 * `--quick` runs small to check the harness (sizes given as flags still stand); `--json` makes the last line of
 * stdout one JSON object.
 * Progress lines go to stderr.
 */
import { defaultClusterBench, runClusterBench } from './cluster-bench.js';
import { defaultEngineBench, runEngineBench } from './engine-bench.js';
import { IDENTITY_PATHS, isIdentityPath } from './identity/bench-identity.js';
import { defaultIdentityBench, runIdentityBench } from './identity-bench.js';
import { defaultIngestBench, runIngestBench } from './ingest-bench.js';
import { defaultMemoryBench, runMemoryBench } from './memory-bench.js';
import { defaultPipelineBench, quickPipelineBench, runPipelineBench, type SystemResult } from './pipeline-bench.js';
import { SYSTEMS, type System } from './pipeline/systems.js';
import { SQL_DRIVERS } from '../adapters/postgres/server-database.js';
import { defaultWriteBehindBench, runWriteBehindBench } from './write-behind-bench.js';
import { machineLine, parseFlags, UsageError, type Widened } from './stats.js';

const HELP = `usage: npm run bench -- match|baselines [--riders N] [--rate ORDERS_PER_S_AT_PEAK] [--seconds S] [--seed N] [--restaurants N] [--warmup S]
                          [--ingest-seconds S] [--interval S] [--job-seconds S] [--k N] [--radius-km K] [--customers N]
                          [--identity production|emulator] [--identity-cache N] [--sql postgres-js|pg] [--stages on|off]
                          [--quick] [--json]
       npm run bench -- ingest [--riders N] [--rate HZ] [--seconds S] [--warmup S] [--floor] [--quick] [--json]
       npm run bench -- memory [--riders N] [--orders N] [--restaurants N] [--seed N] [--radius-km K] [--quick] [--json]
       npm run bench -- all [match flags] [--quick] [--json]
       npm run bench -- engine [--riders N] [--restaurants N] [--orders N] [--positions N] [--side-km K] [--seed N] [--quick] [--json]
       npm run bench -- write-behind [--events N] [--batch N] [--rate N] [--seconds S] [--baseline-events N] [--pg-server URL] [--redis-url URL] [--quick] [--json]
       npm run bench -- cluster [--engines N] [--partitions N] [--riders PER_PARTITION] [--rates R1,R2,...] [--step-seconds S] [--positions-hz HZ] [--lease-ttl-ms MS] [--quick] [--json]
       npm run bench -- identity [--n N] [--warmup N] [--paths both|production|emulator] [--quick] [--json]`;

type Log = (s: string) => void;
const progress =
  (tag: string): Log =>
  (s) =>
    console.error(`[${tag}] ${s}`);

/** The goals of issue 7, on the pipeline's figures. */
const GOALS = {
  match_p99_us_max: 1_000,
  engine_match_p99_us_max: 100,
  redis_geo_p99_ratio_min: 10,
  postgis_p99_ratio_min: 20,
  ingest_us_per_position_max: 4,
};

function parse<T extends Record<string, number | boolean | string>>(
  argv: readonly string[],
  defaults: T,
): Widened<T> | null {
  try {
    return parseFlags(argv, defaults);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`bench: ${err.message}\n${HELP}`);
      return null;
    }
    throw err;
  }
}

function usage(message: string): null {
  console.error(`bench: ${message}\n${HELP}`);
  return null;
}

const quickIngest = { riders: 300, rate: 1, seconds: 2, warmup: 1 };
const quickMemory = { riders: 5_000, orders: 1_000, restaurants: 100 };
const quickEngine = { riders: 5_000, restaurants: 200, orders: 1_000, positions: 50_000, sideKm: 10 };
const quickWriteBehind = { events: 5_000, baselineEvents: 300, seconds: 1, rate: 500 };
const quickIdentity = { n: 50, warmup: 10 };
const IDENTITY_NOTE = {
  production: 'RS256 verified against keys served locally over HTTPS',
  emulator: 'the Auth emulator',
};
const cacheNote = (n: number, path: string) =>
  n > 0
    ? `the server's identity cache holding up to ${n} principals`
    : path === 'emulator'
      ? "the server's identity cache off, the bench server's own on (the emulator is not measured)"
      : "the server's identity cache off: every request verified";

async function main(): Promise<number> {
  const [scenario, ...rest] = process.argv.slice(2);
  if (scenario === undefined || scenario === '--help' || scenario === 'help') {
    console.log(HELP);
    return scenario === undefined ? 2 : 0;
  }
  const run = SCENARIOS[scenario];
  if (!run) {
    console.error(`bench: unknown scenario ${scenario}\n${HELP}`);
    return 2;
  }
  const json = rest.includes('--json');
  const machine = await machineLine();
  const t0 = performance.now();
  const result = await run(rest, machine);
  if (result === null) return 2;
  const out = { scenario, machine, wall_s: Number(((performance.now() - t0) / 1000).toFixed(1)), ...result.json };
  if (json) console.log(JSON.stringify(out));
  else for (const line of result.text) console.log(line);
  return 0;
}

/** A scenario's defaults, with its `--quick` sizes in their place when asked: flags given explicitly still win. */
function quickly<T extends object>(argv: readonly string[], defaults: T, quick: Partial<T>): T {
  return argv.includes('--quick') ? { ...defaults, ...quick } : defaults;
}

type Outcome = { json: Record<string, unknown>; text: string[] } | null;
const SCENARIOS: Record<string, (argv: readonly string[], machine: string) => Promise<Outcome>> = {
  match: (argv, machine) => pipeline(argv, machine, ['engine']),
  baselines: (argv, machine) => pipeline(argv, machine, SYSTEMS),
  ingest,
  memory,
  engine,
  'write-behind': writeBehind,
  identity,
  cluster,
  all,
};

// ─── match and baselines ───────────────────────────────────────────────────

async function pipeline(argv: readonly string[], machine: string, systems: readonly System[]): Promise<Outcome> {
  const f = parse(argv, { ...quickly(argv, defaultPipelineBench, quickPipelineBench), quick: false, json: false });
  if (!f) return null;
  if (!isIdentityPath(f.identity)) {
    return usage(`--identity must be ${IDENTITY_PATHS.join(' or ')}, got ${f.identity}`);
  }
  if (f.stages !== 'on' && f.stages !== 'off') return usage(`--stages must be on or off, got ${f.stages}`);
  if (!(SQL_DRIVERS as readonly string[]).includes(f.sql)) {
    return usage(`--sql must be ${SQL_DRIVERS.join(' or ')}, got ${f.sql}`);
  }
  if (!Number.isInteger(f.identityCache) || f.identityCache > 1_000_000) {
    return usage(`--identity-cache must be an integer in 0..1000000, got ${f.identityCache}`);
  }
  const tag = systems.length === 1 ? 'match' : 'baselines';
  const r = await runPipelineBench(f, systems, progress(tag));
  const ours = r.systems.engine!;
  const ratio = (a: number, b: number) => (b > 0 ? Number((a / b).toFixed(1)) : null);
  const ratios: Record<string, Record<string, number | null>> = {};
  for (const s of systems) {
    if (s === 'engine') continue;
    const b = r.systems[s]!;
    ratios[s] = {
      match_p50: ratio(b.match_latency_us.p50, ours.match_latency_us.p50),
      match_p99: ratio(b.match_latency_us.p99, ours.match_latency_us.p99),
      match_p999: ratio(b.match_latency_us.p999, ours.match_latency_us.p999),
      ingest_us_per_position: ratio(b.ingest_us_per_position, ours.ingest_us_per_position),
    };
  }
  const met: Record<string, boolean> = {
    match_p99: ours.match_latency_us.p99 <= GOALS.match_p99_us_max,
    engine_match_p99: ours.engine_match_us.p99 <= GOALS.engine_match_p99_us_max,
    ingest: ours.ingest_us_per_position <= GOALS.ingest_us_per_position_max,
  };
  if (ratios['redis-geo'])
    met['redis_geo_ratio'] = (ratios['redis-geo']['match_p99'] ?? 0) >= GOALS.redis_geo_p99_ratio_min;
  if (ratios['postgis']) met['postgis_ratio'] = (ratios['postgis']['match_p99'] ?? 0) >= GOALS.postgis_p99_ratio_min;
  const common = {
    riders: r.flags.riders,
    riders_asked: r.riders_asked,
    fd_limit: r.fd_limit,
    peak_orders_per_s: f.rate,
    mean_orders_per_s: r.mean_rate,
    orders_planned: r.orders_planned,
    seconds: f.seconds,
    position_interval_s: f.interval,
    seed: f.seed,
    identity: f.identity,
    identity_cache: f.identityCache,
    sql: f.sql,
    quick: f.quick,
    goals: GOALS,
    met,
  };
  const text = [
    `${tag} on ${machine}`,
    `  ${r.flags.riders} riders${r.flags.riders < r.riders_asked ? ` (of ${r.riders_asked} asked: open-file limit ${r.fd_limit})` : ''} reporting every ${f.interval} s; ${r.orders_planned} orders in ${f.seconds} s (peak ${f.rate}/s, mean ${r.mean_rate}/s), seed ${f.seed}`,
    `  identity: the ${f.identity} path (${IDENTITY_NOTE[f.identity]}), ${cacheNote(f.identityCache, f.identity)}; Postgres driver: ${f.sql}`,
  ];
  for (const s of systems) text.push(...describe(r.systems[s]!));
  for (const [s, q] of Object.entries(ratios))
    text.push(
      `  ${s} / engine: p50 ×${q['match_p50']}, p99 ×${q['match_p99']}, p99.9 ×${q['match_p999']}, ingest ×${q['ingest_us_per_position']}`,
    );
  text.push(`  goals met: ${JSON.stringify(met)}`);
  if (systems.length === 1) return { json: { ...common, ...ours }, text };
  return { json: { ...common, systems: r.systems, ratios }, text };
}

function describe(s: SystemResult): string[] {
  const db = s.match_cpu.database;
  const p = (x: { p50: number; p90: number; p99: number; p999: number; max: number }) =>
    `p50 ${x.p50} p90 ${x.p90} p99 ${x.p99} p99.9 ${x.p999} max ${x.max}`;
  return [
    `  ${s.system}:`,
    `    match end to end (µs): ${p(s.match_latency_us)} (${s.match_latency_us.count} orders; REST ack ${p(s.rest_ack_us)})`,
    `    inside the engine (µs): ${p(s.engine_match_us)}${s.lookup_us ? `; store lookup (µs): ${p(s.lookup_us)}` : ''}`,
    `    ingest: ${s.ingest_us_per_position} µs CPU per position (server ${s.ingest.server_us_per_position}${s.ingest.store_us_per_position !== null ? `, store ${s.ingest.store_us_per_position}` : ''}) at ${s.ingest.positions_per_s}/s`,
    `    orders ${s.orders.confirmed}/${s.orders.planned} confirmed, ${s.orders.offers} offers, ${s.orders.unmatched} unmatched; errors REST ${JSON.stringify(s.rest_errors)} riders ${JSON.stringify(s.rider_errors)}`,
    `    CPU per order (µs): ${JSON.stringify(s.match_cpu.per_order_us)}`,
    `    its database per order (${db?.driver ?? '-'}): ${JSON.stringify(db?.per_order ?? null)}`,
    ...budgetTable(s),
  ];
}

/** The server's CPU per order by stage, as a table; wall lines (round trips) after it. */
function budgetTable(s: SystemResult): string[] {
  if (!s.stages || !s.stage_totals) return [];
  const c = s.per_order_counts;
  const ms = (x: number) => x.toFixed(3).padStart(7);
  const rows = Object.entries(s.stages).map(([name, x]) => {
    const head = `      ${name.padEnd(28)}`;
    const calls = `${x.calls_per_order} calls`;
    return x.basis === 'cpu'
      ? `${head}cpu  ${ms(x.cpu_ms_per_order)} ms  ${(x.share * 100).toFixed(1).padStart(5)}%  ${calls}`
      : `${head}wall ${ms(x.wall_ms_per_call)} ms a call, ${calls}`;
  });
  const t = s.stage_totals;
  return [
    `    server CPU per order by stage (total ${t.total_cpu_ms_per_order} ms, lines sum to ` +
      `${t.sum_cpu_ms_per_order}; event loop busy ${Math.round(t.loop_busy * 100)}%):`,
    ...rows,
    `    per order: ${c.redis_commands ?? '?'} Redis commands (whole server) ${JSON.stringify(c.redis_top)}, ` +
      `${c.postgres_xacts ?? '?'} Postgres transactions`,
  ];
}

// ─── the other scenarios ───────────────────────────────────────────────────

async function ingest(argv: readonly string[], machine: string): Promise<Outcome> {
  const f = parse(argv, { ...quickly(argv, defaultIngestBench, quickIngest), quick: false, json: false });
  if (!f) return null;
  const r = await runIngestBench(f, progress('ingest'));
  return {
    json: { ...r, quick: f.quick },
    text: [
      `ingest bench on ${machine}${r.floor ? ' (--floor: a handler that only counts frames, no gateway)' : ''}`,
      `  ${r.connections} riders connected, ${r.rate_hz} Hz each, ${r.seconds} s measured`,
      `  positions: ${r.positions} (${r.positions_per_s}/s), server CPU ${r.server_cpu_s} s (user ${r.server_user_s}, system ${r.server_system_s})`,
      `  server CPU per position: ${r.us_per_position} µs (goal ≤ ${r.goal_us_per_position}): ${r.met ? 'met' : 'not met'}`,
      `  errors: ${r.errors} ${JSON.stringify(r.error_codes)}, closes ${r.closes}, stale ${r.stale}, rate-limited ${r.rate_limited}, server RSS ${r.server_rss_mb} MB; closes seen by the server ${JSON.stringify(r.server_closes_by_code)}`,
      `  server CPU by thread (s): ${JSON.stringify(r.server_cpu_s_by_thread)}`,
      `  auth: ${r.auth}`,
    ],
  };
}

async function memory(argv: readonly string[], machine: string): Promise<Outcome> {
  const f = parse(argv, { ...quickly(argv, defaultMemoryBench, quickMemory), quick: false, json: false });
  if (!f) return null;
  const r = await runMemoryBench(f, progress('memory'));
  return {
    json: { ...r, quick: f.quick },
    text: [
      `memory bench on ${machine}`,
      `  heap per online rider at ${r.riders} riders: ${r.heap_bytes_per_online_rider} B (goal ≤ 1536)`,
      `  heap per active order: ${r.heap_bytes_per_preparing_order} B preparing, ${r.heap_bytes_per_assigned_order} B assigned (goal ≤ 8192)`,
      `  heap total ${r.heap_total_mib} MiB, RSS ${r.rss_mib} MiB; goals met: ${JSON.stringify(r.met)}`,
    ],
  };
}

async function engine(argv: readonly string[], machine: string): Promise<Outcome> {
  const f = parse(argv, { ...quickly(argv, defaultEngineBench, quickEngine), quick: false, json: false });
  if (!f) return null;
  const r = await runEngineBench(f, progress('engine'));
  return {
    json: { ...r },
    text: [
      `engine bench on ${machine}`,
      `  position update: ${r.position_update_cpu_us} µs CPU (goal ≤ 2) vs ${r.baseline_xstate_send_cpu_us} µs per XState send`,
      `  match latency (µs): ${JSON.stringify(r.match_latency_us)} (goal p99 ≤ 100) vs brute-force scan ${JSON.stringify(r.baseline_brute_force_scan_us)}`,
      `    without the ${r.matches_with_gc} matches a garbage collection paused inside: ${JSON.stringify(r.match_latency_no_gc_us)}`,
      `  heap per idle rider: ${r.heap_bytes_per_idle_rider} B (goal ≤ 1536) vs ${r.baseline_heap_bytes_per_started_actor} B per started actor`,
      `  heap per active order: ${r.heap_bytes_per_active_order} B (goal ≤ 8192)`,
      `  a restaurant's accept when 3 riders are idle in the city (its search meets few or none), µs: ${JSON.stringify(r.scarce_search_us)}`,
      `  match in a dense city (${r.dense_city.riders} riders within ${r.dense_city.radius_km} km, reporting speed and heading), µs: ${JSON.stringify(r.dense_city.match_latency_us)}; riders scored per search: ${JSON.stringify(r.dense_city.riders_scored)}`,
      `    without the ${r.dense_city.matches_with_gc} matches a garbage collection paused inside: ${JSON.stringify(r.dense_city.match_latency_no_gc_us)}`,
      `  goals met: ${JSON.stringify(r.met)}`,
    ],
  };
}

async function writeBehind(argv: readonly string[], machine: string): Promise<Outcome> {
  const f = parse(argv, { ...quickly(argv, defaultWriteBehindBench, quickWriteBehind), quick: false, json: false });
  if (!f) return null;
  const r = await runWriteBehindBench(f, progress('write-behind'));
  return {
    json: { ...r },
    text: [
      `write-behind bench on ${machine}`,
      `  rows/s written behind (order lifecycles, batches of ${r.batch}): ${r.rows_per_s_batched} (goal ≥ 50000); one event per actor: ${r.rows_per_s_batched_one_event_per_actor}; baseline single-row appends: ${r.baseline_rows_per_s_single_row}`,
      `  queue lag at ${r.queue_rate_offered_per_s} orders/s through BullMQ (ms): ${JSON.stringify(r.queue_lag_ms)}; ${r.queue_jobs_written}/${r.queue_jobs} written`,
      `  start to serving, loading ${r.recovered_orders} orders (live or within retention) from Postgres: ${r.start_to_serving_ms} ms (goal ≤ 5000)`,
      `  goals met: ${JSON.stringify(r.met)}`,
    ],
  };
}

async function identity(argv: readonly string[], machine: string): Promise<Outcome> {
  const f = parse(argv, { ...quickly(argv, defaultIdentityBench, quickIdentity), quick: false, json: false });
  if (!f) return null;
  if (!['both', ...IDENTITY_PATHS].includes(f.paths)) return usage(`--paths must be both, production or emulator`);
  const r = await runIdentityBench(f, progress('identity'));
  const text = [`identity bench on ${machine}: ${r.n} verifications per path, one at a time, distinct users`];
  const wall = (w: { p50: number; p99: number }) => `wall p50 ${w.p50} p99 ${w.p99} µs`;
  const p = r.production;
  if (p) {
    const alone = `RS256 check alone ${p.rs256_verify_cpu_us} µs`;
    text.push(
      `  production: ${p.server_cpu_us_per_verify} µs server CPU per verification (${alone}); ${wall(p.wall_us)}`,
    );
    text.push(`    key endpoint fetched ${p.key_fetches}× (then cached by firebase-admin)`);
    text.push(
      `  production, answered from the identity cache: ${p.cached.server_cpu_us_per_verify} µs server CPU per request; ${wall(p.cached.wall_us)}`,
    );
  }
  const e = r.emulator;
  if (e) {
    const emu = `${e.emulator_cpu_us_per_verify ?? 'uncounted'} µs in the emulator`;
    text.push(`  emulator: ${e.server_cpu_us_per_verify} µs server CPU + ${emu} per verification; ${wall(e.wall_us)}`);
  }
  return { json: { ...r, quick: f.quick }, text };
}

const quickCluster = { riders: 5, rates: '5', stepSeconds: 2 };

async function cluster(argv: readonly string[], machine: string): Promise<Outcome> {
  const f = parse(argv, { ...quickly(argv, defaultClusterBench, quickCluster), quick: false, json: false });
  if (!f) return null;
  if (!(Number.isInteger(f.engines) && f.engines >= 1 && f.engines <= 16)) return usage('--engines must be 1..16');
  if (!(Number.isInteger(f.partitions) && f.partitions >= f.engines)) {
    return usage('--partitions must be an integer at least --engines');
  }
  const r = await runClusterBench(f, progress('cluster'));
  const text = [
    `cluster bench on ${machine}: ${r.engines} engine processes, ${r.partitions} partitions, ${r.riders} riders at ${r.positions_hz} Hz; the driver (gateway stand-in) runs in this process`,
  ];
  for (const s of r.steps) {
    text.push(
      `  ${s.rate} orders/s asked: ${s.orders_per_s} orders/s, ${s.positions_per_s} positions/s, ${s.commands_per_s} commands/s; command p50 ${(s.command_us.p50 / 1000).toFixed(1)} p99 ${(s.command_us.p99 / 1000).toFixed(1)} ms; restaurant accept→offer p99 ${(s.accept_to_offer_us.p99 / 1000).toFixed(1)} ms; engine CPU ${s.engine_cpu_us_per_command} µs/command, driver ${s.driver_cpu_us_per_command} µs/command`,
    );
  }
  text.push(
    r.sustained
      ? `  sustained at command p99 ≤ 50 ms: ${r.sustained.orders_per_s} orders/s, ${r.sustained.positions_per_s} positions/s (${r.sustained.commands_per_s} commands/s)`
      : '  no step kept command p99 within 50 ms',
  );
  return { json: { ...r, quick: f.quick }, text };
}

/** Every scenario once; the pipeline flags (riders, rate, seconds, seed) go to match and baselines. */
async function all(argv: readonly string[], machine: string): Promise<Outcome> {
  const quick = argv.includes('--quick') ? ['--quick'] : [];
  const f = parse(argv, { ...defaultPipelineBench, quick: false, json: false });
  if (!f) return null;
  const parts: [string, Promise<Outcome> | (() => Promise<Outcome>)][] = [
    ['ingest', () => ingest(quick, machine)],
    ['memory', () => memory(quick, machine)],
    [
      'baselines',
      () =>
        pipeline(
          argv.filter((a) => a !== '--json'),
          machine,
          SYSTEMS,
        ),
    ],
    ['engine', () => engine(quick, machine)],
    ['write_behind', () => writeBehind(quick, machine)],
  ];
  const json: Record<string, unknown> = { quick: f.quick };
  const text: string[] = [];
  for (const [name, fn] of parts) {
    const r = await (typeof fn === 'function' ? fn() : fn);
    if (r === null) return null;
    json[name] = r.json;
    text.push(...r.text, '');
  }
  // The match figure is the engine's run among the baselines.
  const b = json['baselines'] as { systems: Record<string, unknown> };
  json['match'] = b.systems['engine'];
  return { json, text };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
