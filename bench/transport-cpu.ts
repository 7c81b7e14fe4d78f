/**
 * `npx tsx bench/transport-cpu.ts [orders] [--local]`: the CPU per order of the durable transport alone, in one
 * process, without sockets to clients: a real engine's commands (placed, paid, accepted, offered,
 * taken, picked up, delivered) → write-behind → BullMQ on the local Redis → the persistence worker →
 * Postgres (a throwaway database) → the push feed → the BullMQ push queue → the push worker, as
 * test/support/push-pipeline.ts builds them. Three orders every 10 ms (300/s); no device tokens, so
 * no pushes leave (as in the match bench). The figure is `process.cpuUsage()` of the whole process
 * from the first order until both queues are empty, over the orders: engine commands included,
 * the same in every build, so builds compare by difference. `--local`: as `npm start` runs it since
 * 7 December, each job held in its queue and handled from memory by the process that made it (docs/
 * durability.md, "The process stores its own jobs"); without it every job goes through the workers.
 * Issue 19; docs/benchmarks.md.
 */
import { cust, world } from '../test/engine/world.js';
import { startPushPipeline } from '../test/support/push-pipeline.js';

const args = process.argv.slice(2);
const local = args.includes('--local');
const orders = Number(args.find((a) => !a.startsWith('--')) ?? 1_500);
const teardowns: (() => unknown)[] = [];
const w = world();
const p = await startPushPipeline({ teardown: (f) => void teardowns.push(f) }, w.engine, {}, { local });
const restaurants = Array.from({ length: 20 }, (_, i) => w.restaurant(`r${i}`, undefined, 10, 1_000_000));
for (let i = 0; i < 60; i++) w.rider(`d${i}`);

/** One order from placing to delivery, each step its own command. */
function order(i: number): void {
  const placed = w.engine.placeOrder({
    customerId: cust('c1'),
    restaurantId: restaurants[i % restaurants.length]!,
    drop: { lat: 12.95, lng: 77.62 },
    paid: false,
  });
  if (!placed.ok) return;
  const o = placed.value;
  w.engine.confirmPayment(o);
  w.engine.restaurantAccept(o, { prepMinutes: 0 });
  const v = w.engine.getOrder(o);
  const rider = v.ok ? v.value.offer?.riderId : undefined;
  if (rider === undefined) return;
  w.engine.acceptOffer(rider, o);
  w.engine.pickedUp(rider, o);
  w.engine.delivered(rider, o);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function run(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    order(i);
    if (i % 3 === 2) {
      void p.writeBehind.barrier();
      await sleep(10);
    }
  }
  // Until every event is queued and written and every push job handled (twice empty, 300 ms apart).
  for (let empty = 0; empty < 2;) {
    await p.writeBehind.barrier();
    empty = (await p.pushQueue.depth()) === 0 && (await p.events.depth()) === 0 ? empty + 1 : 0;
    await sleep(empty > 0 ? 300 : 50);
  }
}

await run(300); // warm-up: JIT, connections, prepared statements
const c0 = process.cpuUsage();
const t0 = performance.now();
await run(orders);
const c = process.cpuUsage(c0);
console.log(
  JSON.stringify({
    orders,
    path: local ? 'local' : 'workers',
    cpu_us_per_order: Math.round((c.user + c.system) / orders),
    wall_s: Number(((performance.now() - t0) / 1000).toFixed(1)),
  }),
);
for (const f of teardowns.reverse()) await f();
process.exit(0);
