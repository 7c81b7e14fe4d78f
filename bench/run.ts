/**
 * `npm run bench -- <scenario> [flags]`. Scenarios so far: `engine` (the
 * engine alone: position hot path, match latency, heap per actor, each beside
 * a baseline in the same run), `ingest` (riders streaming real frames to the
 * WebSocket gateway; server CPU per position), `write-behind` (Postgres and BullMQ: rows/s
 * written behind vs single-row appends, queue lag, start to serving). `--quick` runs small to check the harness;
 * `--json` makes the last line of stdout one JSON object.
 */
import { defaultEngineBench, runEngineBench } from './engine-bench.js';
import { defaultIngestBench, runIngestBench } from './ingest-bench.js';
import { defaultWriteBehindBench, runWriteBehindBench } from './write-behind-bench.js';
import { machineLine, parseFlags, UsageError } from './stats.js';

const HELP = `usage: npm run bench -- engine [--riders N] [--restaurants N] [--orders N] [--positions N] [--side-km K] [--seed N] [--quick] [--json]
       npm run bench -- write-behind [--events N] [--batch N] [--rate N] [--seconds S] [--baseline-events N] [--pg-server URL] [--redis-url URL] [--quick] [--json]
       npm run bench -- ingest [--riders N] [--rate HZ] [--seconds S] [--warmup S] [--json]`;

async function main(): Promise<number> {
  const [scenario, ...rest] = process.argv.slice(2);
  if (scenario === undefined || scenario === '--help' || scenario === 'help') {
    console.log(HELP);
    return scenario === undefined ? 2 : 0;
  }
  if (scenario === 'write-behind') return writeBehind(rest);
  if (scenario === 'ingest') return ingest(rest);
  if (scenario !== 'engine' && scenario !== 'all') {
    console.error(`bench: unknown scenario ${scenario}\n${HELP}`);
    return 2;
  }
  let flags;
  try {
    flags = parseFlags(rest, { ...defaultEngineBench, quick: false, json: false });
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`bench: ${err.message}\n${HELP}`);
      return 2;
    }
    throw err;
  }
  if (flags.quick) Object.assign(flags, { riders: 5_000, restaurants: 200, orders: 1_000, positions: 100_000, sideKm: 10 });
  const machine = await machineLine();
  const t0 = performance.now();
  const result = await runEngineBench(flags, (s) => console.error(`[engine] ${s}`));
  const out = { scenario: 'engine', machine, wall_s: Number(((performance.now() - t0) / 1000).toFixed(1)), ...result };
  if (flags.json) console.log(JSON.stringify(out));
  else {
    console.log(`engine bench on ${machine}`);
    console.log(`  position update: ${result.position_update_cpu_us} µs CPU (goal ≤ 2) vs ${result.baseline_xstate_send_cpu_us} µs per XState send`);
    console.log(`  match latency (µs): ${JSON.stringify(result.match_latency_us)} (goal p99 ≤ 100) vs brute-force scan ${JSON.stringify(result.baseline_brute_force_scan_us)}`);
    console.log(`  heap per idle rider: ${result.heap_bytes_per_idle_rider} B (goal ≤ 1536) vs ${result.baseline_heap_bytes_per_started_actor} B per started actor`);
    console.log(`  heap per active order: ${result.heap_bytes_per_active_order} B (goal ≤ 8192)`);
    console.log(`  goals met: ${JSON.stringify(result.met)}`);
  }
  return 0;
}

async function writeBehind(argv: readonly string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, { ...defaultWriteBehindBench, quick: false, json: false });
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`bench: ${err.message}\n${HELP}`);
      return 2;
    }
    throw err;
  }
  if (flags.quick) Object.assign(flags, { events: 5_000, baselineEvents: 300, seconds: 1, rate: 500 });
  const machine = await machineLine();
  const t0 = performance.now();
  const r = await runWriteBehindBench(flags, (s) => console.error(`[write-behind] ${s}`));
  const out = { scenario: 'write-behind', machine, wall_s: Number(((performance.now() - t0) / 1000).toFixed(1)), ...r };
  if (flags.json) console.log(JSON.stringify(out));
  else {
    console.log(`write-behind bench on ${machine}`);
    console.log(`  rows/s written behind (order lifecycles, batches of ${r.batch}): ${r.rows_per_s_batched} (goal ≥ 50000); one event per actor: ${r.rows_per_s_batched_one_event_per_actor}; baseline single-row appends: ${r.baseline_rows_per_s_single_row}`);
    console.log(`  queue lag at ${r.queue_rate_offered_per_s} orders/s through BullMQ (ms): ${JSON.stringify(r.queue_lag_ms)}; ${r.queue_jobs_written}/${r.queue_jobs} written`);
    console.log(`  start to serving, loading ${r.recovered_orders} orders (live or within retention) from Postgres: ${r.start_to_serving_ms} ms (goal ≤ 5000)`);
    console.log(`  goals met: ${JSON.stringify(r.met)}`);
  }
  return 0;
}

async function ingest(argv: readonly string[]): Promise<number> {
  let flags;
  try {
    flags = parseFlags(argv, { ...defaultIngestBench, json: false });
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`bench: ${err.message}\n${HELP}`);
      return 2;
    }
    throw err;
  }
  const machine = await machineLine();
  const t0 = performance.now();
  const result = await runIngestBench(flags, (s) => console.error(`[ingest] ${s}`));
  const out = { scenario: 'ingest', machine, wall_s: Number(((performance.now() - t0) / 1000).toFixed(1)), ...result };
  if (flags.json) console.log(JSON.stringify(out));
  else {
    console.log(`ingest bench on ${machine}`);
    console.log(`  ${result.connections} riders connected, ${result.rate_hz} Hz each, ${result.seconds} s measured`);
    console.log(`  positions: ${result.positions} (${result.positions_per_s}/s), server CPU ${result.server_cpu_s} s (user ${result.server_user_s}, system ${result.server_system_s})`);
    console.log(`  server CPU per position: ${result.us_per_position} µs (goal ≤ ${result.goal_us_per_position}): ${result.met ? 'met' : 'not met'}`);
    console.log(`  errors: ${result.errors} ${JSON.stringify(result.error_codes)}, closes ${result.closes}, stale ${result.stale}, rate-limited ${result.rate_limited}, server RSS ${result.server_rss_mb} MB; closes seen by the server ${JSON.stringify(result.server_closes_by_code)}`);
    console.log(`  server CPU by thread (s): ${JSON.stringify(result.server_cpu_s_by_thread)}`);
    console.log(`  auth: ${result.auth}`);
  }
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
