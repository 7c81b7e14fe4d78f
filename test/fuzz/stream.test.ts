/**
 * Stream messages (`/v1/stream`) fuzzed (socket-fuzzer.ts) against the real
 * server: mutated JSON, wrong types, bad tokens, subscriptions to other users'
 * orders, deep nesting, binary frames; from signed-in sockets and from sockets
 * that must authenticate in band. Nothing about the honest customer's orders
 * may reach a fuzzing socket.
 */
import t from 'tap';
import { api } from '../support/rest-server.js';
import { startFuzzWorld } from './fuzz-world.js';
import { fuzzStream } from './socket-fuzzer.js';

const COUNT = Number(process.env['FUZZ_STREAM'] ?? 1500);
const SEED = Number(process.env['FUZZ_SEED'] ?? 22);
const world = await startFuzzWorld(t, { riders: 1 });

t.test(`${COUNT} mutated stream messages (seed ${SEED})`, async (t) => {
  const before = await world.snapshot();
  world.flow.run();
  // Let the flow place an order first, so there is a live order of someone else to aim at.
  while (world.flow.orders.size < 2) await new Promise((r) => setTimeout(r, 50));
  const tokens = [...world.actors.map((a) => a.token), undefined];
  const tally = await fuzzStream(
    world.url,
    tokens,
    () => world.flow.orders,
    [...world.flow.orders, ...(world.ids['order_id'] as string[])],
    { count: COUNT, seed: SEED },
  );
  await world.flow.stop();
  t.ok(tally.sent >= COUNT, `sent ${tally.sent}`);
  t.same(tally.failures.slice(0, 10), [], 'no crash, no silence, no uncoded error, no leak');
  t.ok(
    Object.keys(tally.errors).length > 0,
    `errors seen: ${JSON.stringify(tally.errors)}, closes: ${JSON.stringify(tally.closes)}`,
  );
  t.equal(await world.snapshot(), before, 'victims unchanged');
  t.same(world.flow.failures, [], 'the honest flow had no failure');
  t.equal((await api(world.url, 'GET', '/health')).status, 200, 'the server is healthy after');
});
