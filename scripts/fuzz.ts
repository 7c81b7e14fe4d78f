/**
 * `npm run fuzz`: the suite's fuzzers (test/fuzz), longer, all at once, while
 * the honest order flow runs throughout, against the real server (Postgres,
 * Redis, the Auth emulator) the test helpers start. Prints the counts of what
 * it sent and what came back, every failure with its request and answer, and
 * with `--verbose` (or `--log FILE`) every message.
 *
 *   npm run fuzz -- --rest 10000 --rider-frames 1000000 --stream 10000 --seed 7 --riders 100
 *
 * Exit code 1 when any answer broke a rule (a 5xx, an uncoded error, a socket
 * gone silent or closed with an undocumented code), a victim's state changed,
 * or the honest flow failed a round.
 */
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { api } from '../test/support/rest-server.js';
import { startFuzzWorld, WEBHOOK_SECRET } from '../test/fuzz/fuzz-world.js';
import { fuzzRest, newTally } from '../test/fuzz/rest-fuzzer.js';
import { fuzzRiderFrames, fuzzStream, newSocketTally, type SocketTally } from '../test/fuzz/socket-fuzzer.js';

const { values: a } = parseArgs({
  options: {
    rest: { type: 'string', default: '2000' },
    'rider-frames': { type: 'string', default: '20000' },
    stream: { type: 'string', default: '2000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    riders: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '8' },
    verbose: { type: 'boolean', default: false },
    log: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (a.help) {
  process.stdout.write(
    'npm run fuzz -- [--rest N] [--rider-frames N] [--stream N] [--seed S] [--riders R]' +
      ' [--concurrency C] [--verbose] [--log FILE]\n',
  );
  process.exit(0);
}
const num = (k: keyof typeof a): number => {
  const n = Number(a[k]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${String(k)} must be a whole number ≥ 0`);
  return n;
};
const seed = num('seed');
const file = a.log ? createWriteStream(a.log) : undefined;
const log =
  a.verbose || file
    ? (line: string) => {
        if (a.verbose) process.stderr.write(`${line}\n`);
        file?.write(`${line}\n`);
      }
    : undefined;

const sockets = (x: SocketTally) => ({
  sent: x.sent,
  connections: x.connections,
  closes: x.closes,
  errors: x.errors,
  failures: x.failures.length,
});

const teardowns: (() => unknown)[] = [];
const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
const t0 = Date.now();
const say = (s: string) => process.stderr.write(`fuzz [${((Date.now() - t0) / 1000).toFixed(1)} s] ${s}\n`);

try {
  say(`seed ${seed}; starting the server, the Auth emulator users and the honest flow`);
  const world = await startFuzzWorld(t, { riders: Math.max(1, num('riders')) });
  const openapi: unknown = (await api(world.url, 'GET', '/openapi.json')).body;
  const before = await world.snapshot();
  world.flow.run();
  const rest = newTally();
  const rider = newSocketTally();
  const stream = newSocketTally();
  const progress = setInterval(
    () => say(`rest ${rest.sent}, rider frames ${rider.sent}, stream ${stream.sent}, honest ${world.flow.completed}`),
    10_000,
  );
  const logAs = (what: string) => (log ? { log: (l: string) => log(`${what} ${l}`) } : {});
  const streamIds = [...world.flow.orders, ...(world.ids['order_id'] as string[])];
  const streamTokens = [...world.actors.map((x) => x.token), undefined];
  await Promise.all([
    fuzzRest(
      world.url,
      { openapi, actors: world.actors, ids: world.ids, webhookSecret: WEBHOOK_SECRET },
      {
        count: num('rest'),
        seed,
        concurrency: num('concurrency'),
        tally: rest,
        ...logAs('rest'),
      },
    ),
    num('rider-frames') > 0
      ? fuzzRiderFrames(world.url, world.riderTokens, {
          count: num('rider-frames'),
          seed,
          tally: rider,
          ...logAs('rider'),
        })
      : undefined,
    num('stream') > 0
      ? fuzzStream(world.url, streamTokens, () => world.flow.orders, streamIds, {
          count: num('stream'),
          seed,
          tally: stream,
          ...logAs('stream'),
        })
      : undefined,
  ]);
  clearInterval(progress);
  await world.flow.stop();
  const after = await world.snapshot();
  const health = await api(world.url, 'GET', '/health');
  const fives = Object.entries(rest.byStatus)
    .filter(([s]) => Number(s) >= 500)
    .reduce((n, [, c]) => n + c, 0);
  const summary = {
    seed,
    seconds: Math.round((Date.now() - t0) / 1000),
    rest: {
      sent: rest.sent,
      by_status: rest.byStatus,
      by_code: rest.byCode,
      responses_5xx: fives,
      failures: rest.failures.length,
    },
    rider_frames: sockets(rider),
    stream: sockets(stream),
    honest_flow: { orders_delivered: world.flow.completed, failures: world.flow.failures },
    victims_unchanged: after === before,
    // The server runs in this process: had it crashed, there would be no summary.
    health_after: health.status,
  };
  const failures = [...rest.failures, ...rider.failures, ...stream.failures];
  for (const f of failures.slice(0, 50)) process.stdout.write(`FAILURE ${f}\n`);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  const bad =
    fives > 0 ||
    failures.length > 0 ||
    world.flow.failures.length > 0 ||
    after !== before ||
    health.status !== 200 ||
    world.flow.completed === 0;
  process.exitCode = bad ? 1 : 0;
} catch (err) {
  process.stderr.write(`fuzz: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 2;
} finally {
  for (const fn of teardowns.reverse()) await fn();
  file?.end();
}
