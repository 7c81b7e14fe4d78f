/**
 * A burst of 10,000 engine events through the whole push path (write-behind,
 * BullMQ, Postgres, the push queue and worker, firebase-admin, the FCM
 * stand-in), with some devices answering 429 first: exactly the pushes the
 * orders call for arrive, none twice. The time it took is printed, not
 * asserted (speed goals live in bench/). As `npm start` runs it: each job
 * held in its queue and handled from memory by the process that made it,
 * here with a hold longer than the test, so every push shows that path.
 */
import t from 'tap';
import { cust, near, world } from '../../engine/world.js';
import { eventually, startPushPipeline } from '../../support/push-pipeline.js';

const EVENTS = 10_000;
const RESTAURANTS = 10;
const CUSTOMERS = 50;
const w = world();
const p = await startPushPipeline(t, w.engine, {}, { local: true, holdMs: 600_000 });
let events = 0;
w.engine.subscribe(() => events++);

const restaurants = Array.from({ length: RESTAURANTS }, (_, i) =>
  w.restaurant(`br${i}`, near(100 * i, 45), 10, 10_000),
);
const riders = Array.from({ length: 20 }, (_, i) => w.rider(`bd${i}`, near(150 + 10 * i)));
for (const [i, r] of restaurants.entries()) {
  for (const d of ['a', 'b'])
    await p.store.register({
      token: `br${i}-${d}`,
      userId: `staff-${i}-${d}`,
      party: `restaurant:${r}`,
      platform: 'android',
      appVersion: '1',
    });
}
for (let i = 0; i < CUSTOMERS; i++)
  await p.store.register({
    token: `bc${i}`,
    userId: `bc${i}`,
    party: `customer:bc${i}`,
    platform: 'ios',
    appVersion: '1',
  });
for (let i = 0; i < 5; i++) p.fcm.fail(`bc${i}`, { kind: 'quota' }, 1);

t.test(`${EVENTS} events: the pushes they call for, none twice`, async (t) => {
  const t0 = performance.now();
  let orders = 0;
  while (events < EVENTS) {
    const placed = w.engine.placeOrder({
      customerId: cust(`bc${orders % CUSTOMERS}`),
      restaurantId: restaurants[orders % RESTAURANTS]!,
      drop: near(1500, 0),
      paid: false,
    });
    if (!placed.ok) throw new Error(placed.detail);
    const o = placed.value;
    w.engine.confirmPayment(o);
    w.engine.restaurantAccept(o, { prepMinutes: 0 });
    const v = w.engine.getOrder(o);
    const rider = v.ok ? v.value.offer?.riderId : undefined;
    if (rider === undefined) throw new Error(`order ${o} was offered to nobody`);
    for (const step of [w.engine.acceptOffer(rider, o), w.engine.pickedUp(rider, o), w.engine.delivered(rider, o)]) {
      if (!step.ok) throw new Error(step.detail);
    }
    orders++;
    if (orders % 50 === 0) await p.writeBehind.barrier();
  }
  await p.writeBehind.barrier();
  t.ok(riders.length > 0);
  // Per order: the restaurant's two devices hear the new order; the customer's one device hears
  // confirmed, rider assigned, picked up and delivered. Riders are connected: no push.
  const expected = orders * (2 + 4);
  const ok = () => p.fcm.received.filter((r) => r.status === 200);
  await eventually(() => ok().length >= expected, 300_000, `${expected} pushes`);
  const seconds = (performance.now() - t0) / 1000;
  await eventually(async () => (await p.store.sendCounts())['sent'] === expected, 30_000, 'every send settled');
  const pairs = ok().map(
    (r) => `${(r.message as { data: Record<string, string> }).data['notification_id']}/${r.message.token}`,
  );
  t.equal(pairs.length, expected, `${orders} orders, ${events} events → ${expected} pushes`);
  t.equal(new Set(pairs).size, pairs.length, 'no push twice');
  t.equal(p.fcm.received.filter((r) => r.status === 429).length, 5, 'five devices answered 429 once, then got theirs');
  t.comment(
    `burst: ${events} events, ${orders} orders, ${expected} pushes in ${seconds.toFixed(1)} s (${(expected / seconds).toFixed(0)} pushes/s)`,
  );
  t.match(await p.store.sendCounts(), { sent: expected });
  await eventually(
    async () => (await p.pushQueue.pending()).length === 0 && (await p.events.pending()).length === 0,
    10_000,
    'every held job settled',
  );
  t.pass('every held job, events and pushes, was handled from memory and settled');
});
