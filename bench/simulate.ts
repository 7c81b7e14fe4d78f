/**
 * `npm run simulate -- [flags]`: an in-process city on the simulated clock (or
 * `--realtime`), checking the engine's invariants as it runs. Progress goes to
 * stderr; the summary to stdout, and with `--json` the last line of stdout is
 * one JSON object.
 */
import { SimulatedClock, type Clock } from '../engine/index.js';
import { hrStopwatch, systemClock } from '../adapters/system-clock.js';
import { GcWatch } from './gc-watch.js';
import { defaultSimOptions, Simulation } from './sim/simulation.js';
import { machineLine, parseFlags, type Sample, UsageError } from './stats.js';

/** A latency sample as the summary prints it: p50, p90, p99 and max, µs to one decimal. */
function brief(s: Sample): { p50: number; p90: number; p99: number; max: number } {
  const { p50, p90, p99, max } = s.summary(1);
  return { p50, p90, p99, max };
}

const HELP = `usage: npm run simulate -- [--riders N] [--restaurants N] [--orders-per-sec R] [--duration S]
       [--seed N] [--accept-probability P] [--radius-km K] [--position-interval-s S] [--drain-s S]
       [--policy greedy|batched] [--batch-window-s S] [--lateness-weight W] [--kitchen learned|stated]
       [--kitchen-bias-min M] [--warmup-s S] [--stacking] [--stack-capacity N] [--stack-radius-m M]
       [--stack-slack-s S] [--stack-spare-share F] [--realtime] [--json] [--quiet]`;

async function main(): Promise<number> {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), {
      ...defaultSimOptions,
      realtime: false,
      json: false,
      quiet: false,
      help: false,
    });
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`simulate: ${err.message}\n${HELP}`);
      return 2;
    }
    throw err;
  }
  if (flags.help) {
    console.log(HELP);
    return 0;
  }
  if (flags.policy !== 'greedy' && flags.policy !== 'batched') {
    console.error(`simulate: --policy must be greedy or batched, got ${flags.policy}`);
    return 2;
  }
  if (flags.kitchen !== 'learned' && flags.kitchen !== 'stated') {
    console.error(`simulate: --kitchen must be learned or stated, got ${flags.kitchen}`);
    return 2;
  }
  if (!(flags.kitchenBiasMin >= -5 && flags.kitchenBiasMin <= 15)) {
    console.error(`simulate: --kitchen-bias-min must be in -5..15, got ${flags.kitchenBiasMin}`);
    return 2;
  }
  if (!(Number.isInteger(flags.stackCapacity) && flags.stackCapacity >= 2 && flags.stackCapacity <= 8)) {
    console.error(`simulate: --stack-capacity must be an integer in 2..8, got ${flags.stackCapacity}`);
    return 2;
  }
  if (!(flags.stackRadiusM <= 10_000)) {
    console.error(`simulate: --stack-radius-m must be in 0..10000, got ${flags.stackRadiusM}`);
    return 2;
  }
  if (!(flags.stackSpareShare >= 0 && flags.stackSpareShare <= 1)) {
    console.error(`simulate: --stack-spare-share must be in 0..1, got ${flags.stackSpareShare}`);
    return 2;
  }
  if (!(flags.warmupS >= 0)) {
    console.error(`simulate: --warmup-s must be ≥ 0, got ${flags.warmupS}`);
    return 2;
  }
  if (!(flags.batchWindowS >= 0.1 && flags.batchWindowS <= 60)) {
    console.error(`simulate: --batch-window-s must be in 0.1..60, got ${flags.batchWindowS}`);
    return 2;
  }
  if (flags.acceptProbability > 1) {
    console.error('simulate: --accept-probability must be in [0, 1]');
    return 2;
  }
  const sim_clock = flags.realtime ? undefined : new SimulatedClock();
  const clock: Clock = sim_clock ?? systemClock;
  const wall0 = performance.now();
  const gcWatch = new GcWatch();
  const sim = new Simulation(flags, clock, hrStopwatch, gcWatch);
  const start = clock.now();
  const log = (line: string) => flags.quiet || console.error(line);
  const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);
  let lastPrint = 0;
  const progress = (force = false) => {
    const wall = performance.now();
    if (!force && wall - lastPrint < 1000) return;
    lastPrint = wall;
    const c = sim.counts;
    const s = sim.engine.stats();
    log(
      `[sim ${hhmmss(clock.now() - start)}] placed ${c.orders_placed} delivered ${c.orders_delivered} cancelled ${c.orders_cancelled} ` +
        `live ${sim.liveOrders} offers ${c.offers_sent} riders available ${s.ridersAvailable}/${s.ridersOnline} ` +
        `match p99 ${sim.matchMicros.quantile(0.99).toFixed(1)} µs violations ${c.invariant_violations}`,
    );
  };
  log(
    `simulating ${flags.riders} riders, ${flags.restaurants} restaurants, ${flags.ordersPerSec} orders/s for ${flags.duration} s` +
      `${flags.realtime ? ' in real time' : ''}, seed ${flags.seed}`,
  );
  sim.start();
  // The warm-up orders first; the figures count the --duration that follows.
  const end = start + (flags.warmupS + flags.duration) * 1000;
  const drainEnd = end + flags.drainS * 1000;
  if (sim_clock) {
    for (let t = start; t < end;) {
      t = Math.min(end, t + 10_000);
      sim_clock.runUntil(t);
      progress();
    }
    sim.stopOrdering();
    while (sim.liveOrders > 0 && sim_clock.now() < drainEnd) {
      sim_clock.runUntil(Math.min(drainEnd, sim_clock.now() + 10_000));
      progress();
    }
  } else {
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        progress(true);
        if (clock.now() >= end) sim.stopOrdering();
        if ((clock.now() >= end && sim.liveOrders === 0) || clock.now() >= drainEnd) {
          clearInterval(timer);
          resolve();
        }
      }, 1000);
    });
  }
  sim.checkInvariants();
  progress(true);
  sim.engine.stop();
  const c = sim.counts;
  const gc = await gcWatch.split();
  const summary = {
    ...c,
    orders_live_at_end: sim.liveOrders,
    cancel_reasons: sim.cancelReasons,
    match_latency_us: brief(sim.matchMicros),
    matches: sim.matchMicros.count,
    // The same matches split: those no garbage collection paused inside (the engine's own time),
    // and how many a pause fell inside; the pauses collect everyone's garbage, the engine's and
    // the simulator's.
    match_latency_no_gc_us: brief(gc.clean),
    matches_with_gc: gc.paused.count,
    match_latency_with_gc_us: brief(gc.paused),
    gc_pauses: gc.pauses,
    gc_pause_ms: Math.round(gc.pauseMs),
    pickup_distance_m: {
      mean: Math.round(sim.pickupDistance.mean() || 0),
      p90: Math.round(sim.pickupDistance.quantile(0.9) || 0),
    },
    delivery_minutes: {
      p50: Number((sim.deliveryMinutes.quantile(0.5) || 0).toFixed(1)),
      p90: Number((sim.deliveryMinutes.quantile(0.9) || 0).toFixed(1)),
    },
    policy: flags.policy,
    batch_window_s: flags.batchWindowS,
    kitchen: flags.kitchen,
    kitchen_bias_min: flags.kitchenBiasMin,
    warmup_s: flags.warmupS,
    stacking: flags.stacking
      ? {
          capacity: flags.stackCapacity,
          radius_m: flags.stackRadiusM,
          slack_s: flags.stackSlackS,
          spare_share: flags.stackSpareShare,
        }
      : false,
    stacked_offers: sim.stackedOffers,
    quality: sim.quality(),
    sim_s: Math.round((clock.now() - start) / 1000),
    wall_s: Number(((performance.now() - wall0) / 1000).toFixed(2)),
    seed: flags.seed,
    riders: flags.riders,
    restaurants: flags.restaurants,
    orders_per_sec: flags.ordersPerSec,
    machine: await machineLine(),
  };
  for (const v of sim.firstViolations) console.error(`invariant violated: ${v}`);
  if (!flags.json) {
    console.log(
      `\norders: ${c.orders_placed} placed, ${c.orders_delivered} delivered, ${c.orders_cancelled} cancelled, ${sim.liveOrders} still live`,
    );
    console.log(
      `offers: ${c.offers_sent} sent, ${c.offers_accepted} accepted, ${c.offers_declined} declined, ${c.offers_expired} expired, ${c.offers_withdrawn} withdrawn`,
    );
    console.log(
      `match latency (engine wall time, µs): p50 ${summary.match_latency_us.p50} p90 ${summary.match_latency_us.p90} p99 ${summary.match_latency_us.p99} max ${summary.match_latency_us.max}`,
    );
    const clean = summary.match_latency_no_gc_us;
    console.log(
      `  of which ${summary.matches_with_gc} had a garbage collection pause inside; the other ${gc.clean.count}: p50 ${clean.p50} p90 ${clean.p90} p99 ${clean.p99} max ${clean.max} (${summary.gc_pauses} pauses, ${summary.gc_pause_ms} ms in all)`,
    );
    console.log(
      `pickup distance (m): mean ${summary.pickup_distance_m.mean} p90 ${summary.pickup_distance_m.p90}; delivery (min) p50 ${summary.delivery_minutes.p50} p90 ${summary.delivery_minutes.p90}`,
    );
    const q = summary.quality;
    console.log(
      `dispatch (${flags.policy}${flags.stacking ? `, stacking ${flags.stackCapacity} within ${flags.stackRadiusM} m, ${flags.stackSlackS} s slack: ${sim.stackedOffers} stacked offers` : ''}): pickup time (s) mean ${q.pickup_s.mean} p90 ${q.pickup_s.p90}; wait to delivery (min) mean ${q.wait_min_mean}; ` +
        `late ${q.late_orders} (${q.late_shared_orders} on shared routes); rider idle share ${q.rider_idle_share}; ₹${q.earnings_per_rider_hour_inr} and ${q.deliveries_per_rider_hour} deliveries per rider-hour; ` +
        `pickup ETA ${q.gap_to_optimum_pct}% above the offline optimum over ${q.comparison_windows} windows of ${flags.batchWindowS} s`,
    );
    console.log(
      `kitchen (${flags.kitchen}, restaurants ${flags.kitchenBiasMin} min late on average): riders wait ${q.rider_wait_at_pickup_s_mean} s for the food, ` +
        `food waits ${q.food_wait_s_mean} s for the rider (means per pickup)`,
    );
    console.log(
      `orders placed in the measured period: ${q.cohort.placed}, of which ${q.cohort.delivered} delivered (${q.cohort.late} late) and ${q.cohort.cancelled_no_rider} cancelled for want of a rider, whenever that came`,
    );
    console.log(`cancel reasons: ${JSON.stringify(sim.cancelReasons)}`);
    console.log(
      `invariant violations: ${c.invariant_violations}; ${summary.sim_s} simulated s in ${summary.wall_s} wall s on ${summary.machine}`,
    );
  } else {
    console.log(JSON.stringify(summary));
  }
  return c.invariant_violations === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
