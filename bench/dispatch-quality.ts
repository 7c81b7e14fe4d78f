/**
 * `npm run dispatch-quality -- [--seeds 1,2,3] [--riders N] [--restaurants N] [--orders-per-sec R]
 * [--duration S] [--batch-window-s S] [--kitchen learned|stated] [--warmup-s S] [--policies greedy,batched]
 * [--stacking] [--jobs N] [--svg PATH] [--json]`:
 * the simulator's city under the greedy and
 * the batched policy on the same seeds (the same customers, docs/dispatch-quality.md), a Markdown
 * table of both on stdout, and a bar chart of the ratios batched ÷ greedy as plain SVG. With
 * `--stacking` each policy also runs with stacking (capacity 2), and a second table gives what
 * stacking changed, per policy, over the seeds. `--jobs N` runs N simulations at a time, each in
 * a child process; the figures do not depend on it.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SimulatedClock } from '../engine/index.js';
import { hrStopwatch } from '../adapters/system-clock.js';
import { defaultSimOptions, Simulation } from './sim/simulation.js';
import { machineLine, parseFlags, UsageError } from './stats.js';

const HELP = `usage: npm run dispatch-quality -- [--seeds 1,2,3] [--riders 800] [--restaurants 150]
       [--orders-per-sec 2] [--duration 1800] [--batch-window-s 2] [--kitchen learned|stated] [--warmup-s 0]
       [--policies greedy,batched] [--stacking] [--jobs 1] [--svg PATH] [--json]`;

interface Row {
  policy: string;
  stacking: boolean;
  seed: number;
  delivered: number;
  noRider: number;
  pickupM: number;
  pickupS: number;
  pickupP90S: number;
  waitMin: number;
  late: number;
  /** Of the orders placed in the measured period, those delivered after their promise, whenever. */
  lateCohort: number;
  /** Of those orders, the ones delivered by their promise. */
  onTimeCohort: number;
  /** Of those orders, the ones cancelled for want of a rider. */
  noRiderCohort: number;
  stackedOffers: number;
  idleShare: number;
  earningsInr: number;
  deliveriesPerHour: number;
  gapPct: number;
  riderWaitS: number;
  foodWaitS: number;
  matchP99Us: number;
}

function runOne(policy: string, stacking: boolean, seed: number, f: Flags): Row {
  const clock = new SimulatedClock();
  const sim = new Simulation(
    {
      ...defaultSimOptions,
      riders: f.riders,
      restaurants: f.restaurants,
      ordersPerSec: f.ordersPerSec,
      duration: f.duration,
      seed,
      policy,
      batchWindowS: f.batchWindowS,
      kitchen: f.kitchen,
      warmupS: f.warmupS,
      stacking,
    },
    clock,
    hrStopwatch,
  );
  const end = clock.now() + (f.warmupS + f.duration) * 1000;
  sim.start();
  clock.runUntil(end);
  sim.stopOrdering();
  const drainEnd = end + defaultSimOptions.drainS * 1000;
  while (sim.liveOrders > 0 && clock.now() < drainEnd) clock.runUntil(clock.now() + 60_000);
  sim.checkInvariants();
  sim.engine.stop();
  if (sim.counts.invariant_violations > 0) throw new Error(`invariants violated: ${sim.firstViolations.join('; ')}`);
  const q = sim.quality();
  return {
    policy,
    stacking,
    seed,
    delivered: sim.counts.orders_delivered,
    noRider: sim.cancelReasons['no_rider'] ?? 0,
    pickupM: Math.round(sim.pickupDistance.mean() || 0),
    pickupS: q.pickup_s.mean,
    pickupP90S: q.pickup_s.p90,
    waitMin: q.wait_min_mean,
    late: q.late_orders,
    lateCohort: q.cohort.late,
    onTimeCohort: q.cohort.delivered - q.cohort.late,
    noRiderCohort: q.cohort.cancelled_no_rider,
    stackedOffers: sim.stackedOffers,
    idleShare: q.rider_idle_share,
    earningsInr: q.earnings_per_rider_hour_inr,
    deliveriesPerHour: q.deliveries_per_rider_hour,
    gapPct: q.gap_to_optimum_pct,
    riderWaitS: q.rider_wait_at_pickup_s_mean,
    foodWaitS: q.food_wait_s_mean,
    matchP99Us: Number(sim.matchMicros.quantile(0.99).toFixed(0)),
  };
}

function flagsOf(argv: string[]) {
  return parseFlags(argv, {
    seeds: '1,2,3',
    riders: 800,
    restaurants: 150,
    ordersPerSec: 2,
    duration: 1800,
    batchWindowS: 2,
    kitchen: 'learned',
    warmupS: 0,
    policies: 'greedy,batched',
    stacking: false,
    jobs: 1,
    runOne: '',
    svg: '',
    json: false,
    help: false,
  });
}
type Flags = ReturnType<typeof flagsOf>;

const COLUMNS: [keyof Row, string][] = [
  ['delivered', 'delivered'],
  ['noRider', 'no-rider cancels'],
  ['pickupM', 'pickup m (mean)'],
  ['pickupS', 'pickup s (mean)'],
  ['pickupP90S', 'pickup s (p90)'],
  ['waitMin', 'wait min (mean)'],
  ['late', 'late'],
  ['lateCohort', "late of the period's orders"],
  ['idleShare', 'idle share'],
  ['earningsInr', '₹ per rider-hour'],
  ['deliveriesPerHour', 'deliveries per rider-hour'],
  ['gapPct', 'gap to optimum %'],
  ['riderWaitS', 'rider waits for food s'],
  ['foodWaitS', 'food waits for rider s'],
  ['matchP99Us', 'match p99 µs'],
];

/** Batched ÷ greedy per seed for a few figures, as grouped bars around 1.0. */
function chart(rows: Row[], title: string): string {
  const figures: [keyof Row, string][] = [
    ['pickupS', 'pickup time'],
    ['pickupM', 'pickup distance'],
    ['waitMin', 'wait to delivery'],
    ['late', 'late orders'],
    ['noRider', 'no-rider cancels'],
    ['deliveriesPerHour', 'deliveries / rider-hour'],
  ];
  const seeds = [...new Set(rows.map((r) => r.seed))];
  const of = (policy: string, seed: number) => rows.find((r) => r.policy === policy && r.seed === seed)!;
  const W = 760;
  const H = 380;
  const M = { l: 60, r: 20, t: 50, b: 70 };
  const yMax = 1.5;
  const Y = (v: number) => H - M.b - (Math.min(v, yMax) / yMax) * (H - M.t - M.b);
  const group = (W - M.l - M.r) / figures.length;
  const bar = (group - 20) / seeds.length;
  const colours = ['#2166ac', '#4393c3', '#92c5de', '#1b7837', '#c51b7d'];
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.l}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${M.l}" y="40">batched ÷ greedy on the same seed; below the line batched has less (one bar per seed)</text>`,
  ];
  for (const v of [0, 0.5, 1, 1.5]) {
    out.push(
      `<line x1="${M.l}" x2="${W - M.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="${v === 1 ? '#333' : '#ddd'}"${v === 1 ? ' stroke-width="1.5"' : ''}/>`,
    );
    out.push(`<text x="${M.l - 8}" y="${Y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  figures.forEach(([key, label], gi) => {
    const x0 = M.l + gi * group + 10;
    seeds.forEach((seed, si) => {
      const g = Number(of('greedy', seed)[key]);
      const b = Number(of('batched', seed)[key]);
      const ratio = g > 0 ? b / g : 1;
      const x = x0 + si * bar;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${Y(ratio).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${(Y(0) - Y(ratio)).toFixed(1)}" fill="${colours[si % colours.length]}"><title>seed ${seed}: ${b} ÷ ${g} = ${ratio.toFixed(2)}</title></rect>`,
      );
    });
    out.push(`<text x="${x0 + (group - 20) / 2}" y="${H - M.b + 18}" text-anchor="middle">${esc(label)}</text>`);
  });
  seeds.forEach((seed, si) => {
    const x = M.l + si * 80;
    out.push(`<rect x="${x}" y="${H - 28}" width="12" height="12" fill="${colours[si % colours.length]}"/>`);
    out.push(`<text x="${x + 16}" y="${H - 18}">seed ${seed}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

interface Task {
  policy: string;
  stacking: boolean;
  seed: number;
}

const labelOf = (r: Row) => (r.stacking ? `${r.policy} + stacking` : r.policy);

/** Runs one simulation in a child process (this script with `--run-one`), which sends its row back. */
function inChild(task: Task): Promise<Row> {
  return new Promise((resolve, reject) => {
    const c = fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), '--run-one', JSON.stringify(task)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let row: Row | undefined;
    c.on('message', (m) => (row = m as Row));
    c.once('error', reject);
    c.once('exit', (code) =>
      row ? resolve(row) : reject(new Error(`the simulation ${JSON.stringify(task)} exited with ${code}`)),
    );
  });
}

const STACKING_HEAD = [
  '| policy | seeds | deliveries per rider-hour, mean change (range) | late, mean change (sd) | seeds with more late | ' +
    "late of the period's orders, mean change (sd) | seeds with more | on time, mean change (seeds with fewer) | " +
    "no-rider cancels of the period's orders, mean change | stacked offers, mean |",
  '|---|---|---|---|---|---|---|---|---|---|',
].join('\n');

/** One policy's line of the stacking table: each seed with stacking against the same seed without. */
function stackingLine(policy: string, rows: Row[]): string {
  const pairs = rows
    .filter((r) => r.policy === policy && r.stacking)
    .map((w) => [rows.find((r) => r.policy === policy && !r.stacking && r.seed === w.seed)!, w] as const);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
  const gain = pairs
    .filter(([a]) => a.deliveriesPerHour > 0)
    .map(([a, b]) => (b.deliveriesPerHour / a.deliveriesPerHour - 1) * 100);
  const late = pairs.map(([a, b]) => b.late - a.late);
  const cohort = pairs.map(([a, b]) => b.lateCohort - a.lateCohort);
  const noRider = pairs.map(([a, b]) => b.noRiderCohort - a.noRiderCohort);
  const onTime = pairs.map(([a, b]) => b.onTimeCohort - a.onTimeCohort);
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;
  const num = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
  return (
    `| ${policy} | ${pairs.length} | ${gain.length === 0 ? 'n/a' : `${pct(mean(gain))} (${pct(Math.min(...gain))} to ${pct(Math.max(...gain))})`} | ` +
    `${num(mean(late))} (${sd(late).toFixed(1)}) | ${late.filter((x) => x > 0).length} of ${pairs.length} | ` +
    `${num(mean(cohort))} (${sd(cohort).toFixed(1)}) | ${cohort.filter((x) => x > 0).length} of ${pairs.length} | ` +
    `${num(mean(onTime))} (${onTime.filter((x) => x < 0).length}) | ` +
    `${num(mean(noRider))} | ${mean(pairs.map(([, b]) => b.stackedOffers)).toFixed(0)} |`
  );
}

async function main(): Promise<number> {
  let f;
  try {
    f = flagsOf(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`dispatch-quality: ${err.message}\n${HELP}`);
      return 2;
    }
    throw err;
  }
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const seeds = f.seeds.split(',').map(Number);
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
    console.error(`dispatch-quality: --seeds must be integers ≥ 0 separated by commas, got ${f.seeds}\n${HELP}`);
    return 2;
  }
  if (f.kitchen !== 'learned' && f.kitchen !== 'stated') {
    console.error(`dispatch-quality: --kitchen must be learned or stated, got ${f.kitchen}\n${HELP}`);
    return 2;
  }
  if (!(f.warmupS >= 0)) {
    console.error(`dispatch-quality: --warmup-s must be ≥ 0, got ${f.warmupS}\n${HELP}`);
    return 2;
  }
  const policies = f.policies.split(',');
  if (policies.length === 0 || policies.some((p) => p !== 'greedy' && p !== 'batched')) {
    console.error(`dispatch-quality: --policies must name greedy and/or batched, got ${f.policies}\n${HELP}`);
    return 2;
  }
  if (!(Number.isInteger(f.jobs) && f.jobs >= 1 && f.jobs <= 16)) {
    console.error(`dispatch-quality: --jobs must be an integer in 1..16, got ${f.jobs}\n${HELP}`);
    return 2;
  }
  if (f.runOne) {
    const task = JSON.parse(f.runOne) as Task;
    process.send!(runOne(task.policy, task.stacking, task.seed, f));
    return 0;
  }
  const tasks: Task[] = seeds.flatMap((seed) =>
    policies.flatMap((policy) =>
      (f.stacking ? [false, true] : [false]).map((stacking) => ({ policy, stacking, seed })),
    ),
  );
  const rows: Row[] = new Array<Row>(tasks.length);
  let next = 0;
  const work = async () => {
    while (next < tasks.length) {
      const i = next++;
      const task = tasks[i]!;
      const t0 = performance.now();
      rows[i] = f.jobs > 1 ? await inChild(task) : runOne(task.policy, task.stacking, task.seed, f);
      console.error(`seed ${task.seed} ${labelOf(rows[i])}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(f.jobs, tasks.length) }, work));
  const machine = await machineLine();
  const lone = rows.filter((r) => !r.stacking);
  if (f.svg && policies.includes('greedy') && policies.includes('batched'))
    writeFileSync(
      f.svg,
      chart(lone, `Batched against greedy: ${f.riders} riders, ${f.ordersPerSec} orders/s, ${f.duration} s`),
    );
  if (f.json) {
    console.log(JSON.stringify({ ...f, rows, machine }));
    return 0;
  }
  console.log(`| policy | seed | ${COLUMNS.map(([, h]) => h).join(' | ')} |`);
  console.log(`|---|---|${COLUMNS.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${labelOf(r)} | ${r.seed} | ${COLUMNS.map(([k]) => r[k]).join(' | ')} |`);
  if (f.stacking) {
    console.log('\nWhat stacking changed, per seed against the same policy without it:\n');
    console.log(STACKING_HEAD);
    for (const policy of policies) console.log(stackingLine(policy, rows));
  }
  console.log(
    `\n${f.riders} riders, ${f.restaurants} restaurants, ${f.ordersPerSec} orders/s for ${f.duration} s` +
      `${f.warmupS > 0 ? ` after ${f.warmupS} s of warm-up` : ''}, kitchen timing ${f.kitchen}; ${machine}`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
