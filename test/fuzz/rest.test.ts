/**
 * REST fuzzing against the real server: requests generated from
 * `GET /openapi.json` and mutated (rest-fuzzer.ts), while an honest order flow
 * runs. No answer of 500 or more, every error a coded problem body, the
 * victims' state unchanged, the honest flow completing, the server healthy.
 * Longer runs: `npm run fuzz` (scripts/fuzz.ts).
 */
import t from 'tap';
import { api } from '../support/rest-server.js';
import { startFuzzWorld, WEBHOOK_SECRET } from './fuzz-world.js';
import { fuzzRest } from './rest-fuzzer.js';

const COUNT = Number(process.env['FUZZ_REST'] ?? 400);
const SEED = Number(process.env['FUZZ_SEED'] ?? 22);

const world = await startFuzzWorld(t);
const openapi = (await api(world.url, 'GET', '/openapi.json')).body;

t.test(`${COUNT} generated and mutated requests (seed ${SEED})`, async (t) => {
  const before = await world.snapshot();
  world.flow.run();
  const tally = await fuzzRest(
    world.url,
    { openapi, actors: world.actors, ids: world.ids, webhookSecret: WEBHOOK_SECRET },
    { count: COUNT, seed: SEED },
  );
  await world.flow.stop();
  t.equal(tally.sent, COUNT);
  t.same(tally.failures.slice(0, 10), [], 'no 5xx, no uncoded error, no dropped request');
  t.ok(
    Object.keys(tally.byStatus).some((s) => s.startsWith('2')),
    `some requests succeeded: ${JSON.stringify(tally.byStatus)}`,
  );
  t.ok((tally.byCode['INVALID_ARGUMENT'] ?? 0) > COUNT / 10, 'mutations reach validation');
  t.equal(await world.snapshot(), before, 'victims unchanged');
  t.same(world.flow.failures, [], 'the honest flow had no failure');
  t.ok(world.flow.completed >= 1, `honest orders delivered during the run: ${world.flow.completed}`);
  const health = await api(world.url, 'GET', '/health');
  t.equal(health.status, 200, 'the server is healthy after');
});
