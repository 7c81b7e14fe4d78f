/**
 * `/v1/rider` with a durability barrier, as the server runs it (the
 * WriteBehind's `barrier`): a rider is told nothing that happened (ACK,
 * ASSIGNED, ORDER_UPDATE...) before the events behind it are durable, so
 * what it was told survives a crash of the server (test/faults/server-kill).
 * The barrier here is a gate the test opens and closes (test/support/durability-gate.ts).
 */
import t from 'tap';
import { jobIdOf, WriteBehind } from '../../adapters/persistence/write-behind.js';
import type { EngineEvent, EventBatch } from '../../engine/index.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import {
  Frame,
  RiderStatusCode,
  encodeOrderCommand,
  encodePing,
  encodePosition,
  encodeStatus,
  type CustomerId,
  type ServerFrame,
} from '../../protocol/index.js';
import { Gate } from '../support/durability-gate.js';
import { connect, near, startHarness } from '../support/ws-harness.js';

const gate = new Gate();
const h = await startHarness(t, { durable: gate.wait });
const types = (frames: readonly ServerFrame[]) => frames.map((f) => f.type);

t.test('ACK and ASSIGNED of an accept wait until its events are durable, then go in order', async (t) => {
  const rest = h.restaurant();
  const u = await h.rider('durable');
  const c = connect(h.url, { token: u.token });
  await c.next((f) => f.type === Frame.WELCOME);
  c.send(encodeStatus(1, RiderStatusCode.ONLINE));
  c.send(encodePosition(2, { ...near(300), accuracy: 5, heading: NaN, speed: 0, at: h.clock.now() }));
  await c.next((f) => f.type === Frame.ACK && f.lastSeq >= 1);
  c.send(encodePing(1));
  await c.next((f) => f.type === Frame.PONG);

  const placed = h.engine.placeOrder({
    customerId: 'cust-1' as CustomerId,
    restaurantId: rest,
    drop: near(2000, 0),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const o = placed.value;
  t.ok(h.engine.restaurantAccept(o, { prepMinutes: 0 }).ok, 'accepted by the restaurant');
  await c.next((f) => f.type === Frame.OFFER && f.orderId === o);

  gate.shut();
  const before = c.frames.length;
  c.send(encodeOrderCommand(Frame.ACCEPT, 3, o));
  // PONG is not held and frames are handled in order: once it is here, the accept has been applied.
  c.send(encodePing(2));
  await c.next((f) => f.type === Frame.PONG && f.clientTime === 2);
  t.match(
    h.engine.getOrder(o),
    { ok: true, value: { state: 'assigned', riderId: u.riderId } },
    'the engine applied the accept',
  );
  t.same(types(c.frames.slice(before)), [Frame.PONG], 'but the rider is told nothing while its events are not durable');

  gate.open();
  await c.next((f) => f.type === Frame.ACK && f.lastSeq >= 3);
  const told = c.frames.slice(before).filter((f) => f.type !== Frame.PONG);
  t.same(types(told), [Frame.ASSIGNED, Frame.ACK]);
  t.match(
    told,
    [
      { type: Frame.ASSIGNED, orderId: o },
      { type: Frame.ACK, lastSeq: 3 },
    ],
    'ASSIGNED, then the ACK, once durable',
  );

  // A refused barrier (Redis down): nothing is told; asked again later, and told once it is durable.
  gate.refusals = 1;
  const mark = c.frames.length;
  const calls = gate.calls;
  c.send(encodeOrderCommand(Frame.PICKED_UP, 4, o));
  c.send(encodePing(3));
  await c.next((f) => f.type === Frame.PONG && f.clientTime === 3);
  t.equal(gate.calls, calls + 1, 'the barrier was asked once and refused');
  t.same(types(c.frames.slice(mark)), [Frame.PONG], 'nothing told after a refused barrier');
  h.clock.advance(250);
  await c.next((f) => f.type === Frame.ACK && f.lastSeq >= 4);
  const later = c.frames.slice(mark).filter((f) => f.type !== Frame.PONG);
  t.same(types(later), [Frame.ORDER_UPDATE, Frame.ACK]);
  t.match(
    later,
    [
      { type: Frame.ORDER_UPDATE, orderId: o, status: 'picked_up' },
      { type: Frame.ACK, lastSeq: 4 },
    ],
    'told once the barrier asked again resolved',
  );
  c.ws.close();
  await c.closed;
});

t.test(
  'a reconnecting rider is welcomed only once what it did is durable (WELCOME acknowledges up to last_seq)',
  async (t) => {
    const u = await h.rider('welcome');
    const a = connect(h.url, { token: u.token });
    await a.next((f) => f.type === Frame.WELCOME);
    gate.shut();
    a.send(encodeStatus(1, RiderStatusCode.ONLINE));
    a.send(encodePing(1));
    await a.next((f) => f.type === Frame.PONG);
    t.notOk(
      a.frames.some((f) => f.type === Frame.ACK),
      'no ACK while shut',
    );
    const b = connect(h.url, { token: u.token });
    await b.opened;
    b.send(encodePing(2));
    await b.next((f) => f.type === Frame.PONG);
    t.notOk(
      b.frames.some((f) => f.type === Frame.WELCOME),
      'no WELCOME while the status it would acknowledge is not durable',
    );
    gate.open();
    t.match(await b.next((f) => f.type === Frame.WELCOME), { lastSeq: 1 });
    b.ws.close();
    await b.closed;
  },
);

/** A queue that records each add (the job ids of its events); while holding, an add completes only when released. */
class HeldQueue implements JobQueue<EventBatch> {
  readonly adds: { ids: string[]; done: boolean }[] = [];
  holding = false;
  #release: (() => void)[] = [];
  enqueue = (jobs: readonly { readonly id: string; readonly data: EventBatch }[]): Promise<void> => {
    const add = { ids: jobs.flatMap((j) => j.data.records.map((r) => jobIdOf(r.event))), done: !this.holding };
    this.adds.push(add);
    if (add.done) return Promise.resolve();
    return new Promise((resolve) =>
      this.#release.push(() => {
        add.done = true;
        resolve();
      }),
    );
  };
  release(): void {
    this.holding = false;
    for (const r of this.#release.splice(0)) r();
  }
  consume() {
    return { close: async () => {} };
  }
  async pending() {
    return [];
  }
  async close() {}
}

t.test('with the real WriteBehind: an accept is one add, and ASSIGNED waits for it', async (t) => {
  const queue = new HeldQueue();
  const wb = new WriteBehind(h.engine, queue);
  gate.inner = () => wb.barrier();
  t.teardown(() => {
    gate.inner = undefined;
    queue.release();
  });
  const events: EngineEvent[] = [];
  t.teardown(h.engine.subscribe((e) => events.push(e)));

  const rest = h.restaurant();
  const u = await h.rider('onewrite');
  const c = connect(h.url, { token: u.token });
  await c.next((f) => f.type === Frame.WELCOME);
  c.send(encodeStatus(1, RiderStatusCode.ONLINE));
  c.send(encodePosition(2, { ...near(300), accuracy: 5, heading: NaN, speed: 0, at: h.clock.now() }));
  c.send(encodePing(1));
  await c.next((f) => f.type === Frame.PONG);
  const placed = h.engine.placeOrder({
    customerId: 'cust-1' as CustomerId,
    restaurantId: rest,
    drop: near(2000, 0),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const o = placed.value;
  t.ok(h.engine.restaurantAccept(o, { prepMinutes: 0 }).ok, 'accepted by the restaurant');
  await c.next((f) => f.type === Frame.OFFER && f.orderId === o);

  queue.holding = true;
  const before = c.frames.length;
  c.send(encodeOrderCommand(Frame.ACCEPT, 3, o));
  c.send(encodePing(2));
  await c.next((f) => f.type === Frame.PONG && f.clientTime === 2);
  const assigned = events.find((e) => e.type === 'order_assigned' && e.id === o)!;
  const riderAssigned = events.find((e) => e.type === 'rider_assigned' && e.id === u.riderId)!;
  const add = queue.adds.find((a) => a.ids.includes(jobIdOf(assigned)));
  t.ok(
    add?.ids.includes(jobIdOf(riderAssigned)),
    `the order's and the rider's half of the accept are in one add: ${JSON.stringify(add?.ids)}`,
  );
  t.equal(add?.done, false, 'that add is not done yet');
  t.same(types(c.frames.slice(before)), [Frame.PONG], 'so the rider is told nothing yet');
  queue.release();
  await c.next((f) => f.type === Frame.ACK && f.lastSeq >= 3);
  t.same(
    types(c.frames.slice(before).filter((f) => f.type !== Frame.PONG)),
    [Frame.ASSIGNED, Frame.ACK],
    'ASSIGNED and ACK once the add is done',
  );
  c.ws.close();
  await c.closed;
});
