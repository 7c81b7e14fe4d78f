/**
 * Rider frames mutated at the byte level (socket-fuzzer.ts) against the real
 * server's `/v1/rider`, over several riders at once, while an honest rider
 * delivers orders on the same endpoint. Every ping answered unless the server
 * closed with a documented code, every ERROR coded, no 1011, the honest flow
 * completing. Longer runs: `npm run fuzz -- --rider-frames N`.
 */
import t from 'tap';
import { api } from '../support/rest-server.js';
import { startFuzzWorld } from './fuzz-world.js';
import { fuzzRiderFrames } from './socket-fuzzer.js';

const COUNT = Number(process.env['FUZZ_RIDER'] ?? 2000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 22);
const world = await startFuzzWorld(t, { riders: 6 });

t.test(`${COUNT} mutated rider frames (seed ${SEED})`, async (t) => {
  const before = await world.snapshot();
  world.flow.run();
  const tally = await fuzzRiderFrames(world.url, world.riderTokens, { count: COUNT, seed: SEED });
  await world.flow.stop();
  t.ok(tally.sent >= COUNT, `sent ${tally.sent}`);
  t.same(tally.failures.slice(0, 10), [], 'no crash, no silence, no uncoded error');
  t.ok(
    (tally.errors['FRAME_INVALID'] ?? 0) > 0,
    `errors seen: ${JSON.stringify(tally.errors)}, closes: ${JSON.stringify(tally.closes)}`,
  );
  t.equal(await world.snapshot(), before, 'victims unchanged');
  t.same(world.flow.failures, [], 'the honest flow had no failure');
  t.ok(world.flow.completed >= 1, `honest orders delivered during the run: ${world.flow.completed}`);
  t.equal((await api(world.url, 'GET', '/health')).status, 200, 'the server is healthy after');
});
