import type { Test } from 'tap';
import type { EventRecord, EventStore } from '../../engine/ports/event-store.js';
import { cust, near, rest, world } from '../engine/world.js';

/**
 * The one suite every {@link EventStore} passes (Postgres and embedded PGlite),
 * like Colyseus's one presence suite over Local and Redis. `make` gives a
 * fresh, empty, migrated store per call.
 */
export function eventStoreContract(t: Test, make: (t: Test) => Promise<EventStore>): void {
  /** A small real event log: a restaurant, riders, orders through several states. */
  const recordsOfAWorld = () => {
    const w = world();
    const records: EventRecord[] = [];
    const pending: EventRecord['event'][] = [];
    w.engine.subscribe((e) => pending.push(e));
    // Capture states after each command, as write-behind does.
    const flush = () => {
      for (const e of pending.splice(0))
        records.push({
          event: e,
          state: w.engine.snapshotRow(e.aggregate, e.id) ?? null,
          idCounter: w.engine.idCounter,
        });
    };
    w.restaurant('r1');
    flush();
    w.rider('a', near(200));
    flush();
    const o = w.engine.placeOrder({
      customerId: cust('c1'),
      restaurantId: rest('r1'),
      drop: near(2000, 0),
      paid: true,
    });
    flush();
    if (!o.ok) throw new Error(o.detail);
    w.engine.restaurantAccept(o.value, { prepMinutes: 0 });
    flush();
    const o2 = w.engine.placeOrder({
      customerId: cust('c2'),
      restaurantId: rest('r1'),
      drop: near(1500, 90),
      paid: true,
    });
    flush();
    if (o2.ok) w.engine.cancelOrder({ orderId: o2.value, by: 'customer' });
    flush();
    return { w, records, orderId: o.value };
  };

  t.test('append is idempotent, across calls and within a batch', async (t) => {
    const store = await make(t);
    const { records } = recordsOfAWorld();
    t.ok(records.length > 8);
    const first = await store.append(records);
    t.equal(first.inserted, records.length, 'every event is new');
    const again = await store.append(records);
    t.equal(again.inserted, 0, 'the same batch again inserts nothing');
    const half = records.slice(0, 5);
    const twice = await store.append([...half, ...half]);
    t.equal(twice.inserted, 0, 'duplicates inside a batch insert nothing');
    const { events } = await store.readSince(0, 10_000);
    t.equal(events.length, records.length, 'no duplicate rows');
  });

  t.test('read back per aggregate and since a position, in order', async (t) => {
    const store = await make(t);
    const { records, orderId } = recordsOfAWorld();
    await store.append(records.slice(0, 4));
    await store.append(records.slice(4));
    const mine = records.filter((r) => r.event.aggregate === 'order' && r.event.id === orderId).map((r) => r.event);
    t.same(await store.readAggregate('order', orderId), mine, 'one order, all its events');
    t.same(await store.readAggregate('order', orderId, 2), mine.slice(2), 'after seq 2');
    t.same(await store.readAggregate('order', 'no-such-order'), []);
    const page1 = await store.readSince(0, 3);
    t.equal(page1.events.length, 3);
    const rest = await store.readSince(page1.position, 10_000);
    t.equal(page1.events.length + rest.events.length, records.length, 'pages cover the log');
    const end = await store.readSince(rest.position, 10);
    t.same(end.events, [], 'nothing after the end');
    t.equal(end.position, rest.position);
  });

  t.test('state moves only forward and loads what recovery needs', async (t) => {
    const store = await make(t);
    const { w, records } = recordsOfAWorld();
    // Newest first, then the old ones: the stored state must stay the newest.
    await store.append(records.slice(-3));
    await store.append(records);
    const state = await store.loadState(0);
    // Expected: the newest state appended for each actor.
    const newest = new Map<string, NonNullable<EventRecord['state']>>();
    for (const r of records) if (r.state) newest.set(`${r.event.aggregate}/${r.event.id}`, r.state);
    const want = (kind: string) => [...newest].filter(([k]) => k.startsWith(`${kind}/`)).map(([, v]) => v);
    const byId = <T extends { id: string }>(xs: readonly T[]) => [...xs].sort((a, b) => a.id.localeCompare(b.id));
    const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
    t.same(byId(state.restaurants), json(byId(want('restaurant'))));
    t.same(byId(state.riders), json(byId(want('rider'))));
    t.same(byId(state.orders), json(byId(want('order'))));
    t.equal(state.idCounter, w.engine.idCounter);
    const snap = w.engine.toSnapshot();
    const ended = snap.orders.find((o) => o.endedAt > 0);
    t.ok(ended, 'one order ended');
    const later = await store.loadState(ended!.endedAt + 1);
    t.notOk(
      later.orders.some((o) => o.id === ended!.id),
      'orders ended before the window are left out',
    );
    t.equal(later.orders.length, snap.orders.length - 1, 'live orders are always loaded');
  });

  t.test(
    'overlapping batches (a worker with several in flight, a batch re-run beside its successor) agree',
    async (t) => {
      const store = await make(t);
      const { records } = recordsOfAWorld();
      // Batches sharing actors, in both directions, appended at once.
      const batches = [
        records.slice(0, 20),
        [...records.slice(10, 30)].reverse(),
        records.slice(5),
        [...records].reverse(),
      ];
      const results = await Promise.all(batches.map((b) => store.append(b)));
      t.equal(
        results.reduce((n, r) => n + r.inserted, 0),
        records.length,
        'each event inserted by exactly one batch',
      );
      const state = await store.loadState(0);
      const newest = new Map<string, number>();
      for (const r of records) if (r.state) newest.set(`${r.event.aggregate}/${r.event.id}`, r.state.seq);
      const got = new Map<string, number>();
      for (const [kind, rows] of [
        ['restaurant', state.restaurants],
        ['rider', state.riders],
        ['order', state.orders],
      ] as const) {
        for (const row of rows) got.set(`${kind}/${row.id}`, row.seq);
      }
      t.same(got, newest, 'every actor at its newest state');
    },
  );

  t.test('an empty batch is a no-op', async (t) => {
    const store = await make(t);
    t.same(await store.append([]), { inserted: 0 });
    t.same((await store.loadState(0)).orders, []);
  });

  t.test('a fenced append lands under its token and raises it; a lower token stores nothing', async (t) => {
    const store = await make(t);
    const { records } = recordsOfAWorld();
    const [a, b, c] = [records.slice(0, 4), records.slice(4, 8), records.slice(8)];
    t.same(await store.appendFenced({ partition: 'p1', token: 5 }, a), { ok: true, value: { inserted: a.length } });
    t.same(await store.appendFenced({ partition: 'p1', token: 7 }, b), { ok: true, value: { inserted: b.length } });
    const stale = await store.appendFenced({ partition: 'p1', token: 5 }, c);
    t.match(stale, { ok: false, code: 'FENCED', detail: /p1: token 5 is below 7/ }, 'the old tenure is refused');
    t.equal((await store.readSince(0, 10_000)).events.length, a.length + b.length, 'nothing of the refused batch');
    t.same(await store.appendFenced({ partition: 'p2', token: 5 }, c), { ok: true, value: { inserted: c.length } });
    t.same(
      await store.appendFenced({ partition: 'p1', token: 7 }, c),
      { ok: true, value: { inserted: 0 } },
      'the same token again is admitted (and idempotent); partitions are independent',
    );
    // A new owner's claim is a fenced append with no records: it raises the token and stores nothing.
    const counter = (await store.loadState(0)).idCounter;
    t.same(await store.appendFenced({ partition: 'p2', token: 9 }, []), { ok: true, value: { inserted: 0 } });
    const late = c.map((r) => ({ ...r, idCounter: counter + 100 }));
    t.match(
      await store.appendFenced({ partition: 'p2', token: 5 }, late),
      { ok: false, code: 'FENCED', detail: /p2: token 5 is below 9/ },
      'an empty append claims the partition',
    );
    t.equal((await store.loadState(0)).idCounter, counter, 'a refused batch does not move the id counter either');
  });

  t.test('a fenced batch stamps its partition on the rows it moves; loadPartition reads them apart', async (t) => {
    const store = await make(t);
    const { records } = recordsOfAWorld();
    const rider = records.filter((r) => r.event.aggregate === 'rider');
    const rest = records.filter((r) => r.event.aggregate !== 'rider');
    // The restaurant and orders written by a single-process server; the rider by p1's owner.
    await store.append(rest);
    t.ok((await store.appendFenced({ partition: 'p1', token: 3 }, rider)).ok);
    const p1 = await store.loadPartition('p1', 0);
    t.same(
      p1.riders.map((r) => r.id),
      ['a'],
      'the rider p1 wrote is stamped p1',
    );
    t.same([p1.restaurants.length, p1.orders.length], [0, 0], 'nothing else is stamped p1');
    t.same(
      p1.unassigned.restaurants.map((r) => r.id),
      ['r1'],
      'unfenced rows come apart, for the map to assign',
    );
    t.ok(p1.unassigned.orders.length >= 1);
    t.same(p1.unassigned.riders, []);
    const p2 = await store.loadPartition('p2', 0);
    t.same([p2.riders.length, p2.unassigned.riders.length], [0, 0], "p2 sees nothing of p1's rider");
    t.equal(p2.unassigned.restaurants.length, 1, 'and the unfenced rows too');
    // The restaurant written again by p2's owner moves to p2.
    const again = rest.filter((r) => r.event.aggregate === 'restaurant').at(-1)!;
    const moved = { ...again, event: { ...again.event, seq: 99 }, state: { ...again.state!, seq: 99 } } as EventRecord;
    t.ok((await store.appendFenced({ partition: 'p2', token: 4 }, [moved])).ok);
    t.same(
      (await store.loadPartition('p2', 0)).restaurants.map((r) => r.id),
      ['r1'],
    );
    t.same((await store.loadPartition('p1', 0)).unassigned.restaurants, [], 'no longer unassigned');
    t.equal((await store.loadPartition('p1', 0)).idCounter, (await store.loadState(0)).idCounter);
  });
}
