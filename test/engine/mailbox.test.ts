import t from 'tap';
import { type CommandBatch, type EngineEvent, checkInvariants } from '../../engine/index.js';
import { near, oid, rid, world } from './world.js';

/** The engine's mailbox: commands as data, one at a time, each command's events delivered together. */

t.test('execute answers the result and exactly the events of the command', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  w.rider('a');
  const before = w.events.length;
  const out = w.engine.execute({
    type: 'place_order',
    orderId: oid('o1'),
    customerId: 'c1' as never,
    restaurantId: r1,
    drop: near(1000, 0),
    paid: true,
  });
  t.equal(out.queued, false);
  if (out.queued) return;
  t.same(out.result, { ok: true, value: 'o1' });
  t.same(
    out.events.map((e) => e.type),
    ['order_placed'],
  );
  t.same(w.events.slice(before), out.events, 'listeners heard the same events');
  const acc = w.engine.execute({ type: 'restaurant_accept', orderId: oid('o1'), prepMinutes: 0 });
  t.same(
    !acc.queued && acc.events.map((e) => e.type),
    ['order_accepted', 'order_dispatchable', 'order_offered', 'rider_offered'],
    'one command: the acceptance and the dispatch chain it started',
  );
});

t.test('an unknown command type is a clear rejection, not a throw', async (t) => {
  const w = world();
  const out = w.engine.execute({ type: 'fly_to_moon' } as never);
  t.same(!out.queued && !out.result.ok && out.result.code, 'INVALID_ARGUMENT');
});

t.test('a command issued from a listener runs after the current one, never inside it', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  w.rider('a');
  w.rider('b', near(600));
  const log: string[] = [];
  const batches: CommandBatch[] = [];
  let queuedAnswer: unknown;
  w.engine.subscribeBatches((b) => {
    batches.push(b);
    log.push(`batch ${b.command.type}: ${b.events.map((e) => e.type).join(',')}`);
    // The offered rider declines from inside the listener, as an app's auto-reply might.
    const offered = b.events.find(
      (e): e is Extract<EngineEvent, { type: 'rider_offered' }> => e.type === 'rider_offered',
    );
    if (offered && offered.id === 'a') {
      const res = w.engine.execute({ type: 'decline_offer', riderId: rid('a'), orderId: offered.orderId });
      queuedAnswer = res;
      log.push('decline issued');
      // The wrapper says so too, without running anything.
      const viaMethod = w.engine.riderBreak(rid('b'));
      t.equal(
        !viaMethod.ok && viaMethod.code,
        'COMMAND_QUEUED',
        'a typed method issued meanwhile answers COMMAND_QUEUED',
      );
      t.equal(w.riderState(rid('a')), 'online.offered', 'the decline has not run yet');
    }
  });
  const o = w.order(r1, { id: 'o1' });
  t.same(queuedAnswer, { queued: true }, 'execute from a listener is queued');
  t.same(
    log,
    [
      'batch place_order: order_placed',
      'batch restaurant_accept: order_accepted,order_dispatchable,order_offered,rider_offered',
      'decline issued',
      'batch decline_offer: order_offer_ended,rider_offer_ended,order_offered,rider_offered',
    ],
    'the decline ran after the accept had finished and been heard; the refused break emitted nothing',
  );
  t.equal(w.riderState(rid('a')), 'online.idle', 'the queued decline ran');
  t.equal(
    w.riderState(rid('b')),
    'online.offered',
    "the order went on to b; b's queued break was refused as b was offered",
  );
  t.equal(w.orderState(o), 'dispatching.offered');
  t.ok(
    batches.every((b) => b.events.length > 0),
    'a batch per command that emitted, none for one that did not',
  );
  t.same(checkInvariants(w.engine), []);
});

t.test("listeners receive each command's events together, after it finished: state is already final", async (t) => {
  const w = world();
  const r1 = w.restaurant();
  w.rider('a');
  const seen: string[] = [];
  w.engine.subscribe((e) => {
    // Per-event listeners too are called after the whole command: the rider is already offered.
    if (e.type === 'order_dispatchable') seen.push(`${e.type} while order is ${w.orderState(oid('o1'))}`);
  });
  const sizes: number[] = [];
  w.engine.subscribeBatches((b) => sizes.push(b.events.length));
  w.order(r1, { id: 'o1' });
  t.same(seen, ['order_dispatchable while order is dispatching.offered']);
  t.same(sizes, [1, 4], 'placement, then the acceptance with its dispatch chain, each as one batch');
});

t.test('a deadline is a command: one batch, and commands it provokes in a listener queue behind it', async (t) => {
  const w = world({ offerTimeoutMs: 10_000 });
  const r1 = w.restaurant();
  w.rider('a');
  w.order(r1, { id: 'o1' });
  const kinds: string[] = [];
  w.engine.subscribeBatches((b) => {
    kinds.push(`${b.command.type}${b.command.type === 'fire_deadline' ? `:${b.command.kind}` : ''}`);
    if (b.events.some((e) => e.type === 'order_offer_ended'))
      w.engine.execute({ type: 'rider_break', riderId: rid('a') });
  });
  w.clock.advance(10_000);
  t.same(kinds, ['fire_deadline:offer', 'rider_break'], 'the expiry as one batch, then the break it provoked');
  t.equal(w.riderState(rid('a')), 'on_break');
});

t.test('a position that reaches a geofence delivers its events as one batch of its own', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a');
  const o = w.order(r1, { id: 'o1' });
  t.ok(w.engine.acceptOffer(a, o).ok);
  const batches: CommandBatch[] = [];
  w.engine.subscribeBatches((b) => batches.push(b));
  w.clock.advance(1000);
  w.move(a, near(0));
  t.same(
    batches.map((b) => [b.command.type, b.events.map((e) => e.type)]),
    [['update_rider_position', ['rider_arrived_pickup']]],
  );
});
