/**
 * The console's city view over a real engine on a simulated clock: riders and
 * orders known from before it started and after, supply and demand per H3
 * cell, counters equal to the engine's own, match latency from the events'
 * times, and what a snapshot of a large city costs.
 */
import { latLngToCell } from 'h3-js';
import t from 'tap';
import { CONSOLE_H3_RES, CityView } from '../../../adapters/console/city-view.js';
import { CENTRE, near, rid, world } from '../../engine/world.js';

const cellOf = (p: { lat: number; lng: number }) => latLngToCell(p.lat, p.lng, CONSOLE_H3_RES);

t.test('supply, demand, counters and latency follow the engine', async (t) => {
  const w = world();
  const r1 = w.restaurant('r1', CENTRE);
  w.rider('before', near(300));
  const view = new CityView(w.engine);
  t.teardown(() => view.close());
  w.rider('after', near(300));
  w.rider('gone', near(900));
  w.engine.riderOffline(rid('gone'));

  let s = view.snapshot(w.clock.now());
  t.match(s.counters, { ridersOnline: 2, ridersIdle: 2, ridersBusy: 0, ordersLive: 0, ordersWaiting: 0 });
  t.same(
    s.riders.map((r) => r[0]).sort(),
    ['after', 'before'],
    'riders known before and after the view started; an offline one is no dot',
  );
  t.same(s.cells, [[cellOf(near(300)), 2, 0]], 'both idle riders are supply in their cell');
  t.same(s.latency, []);

  // Waiting at the kitchen: demand in the restaurant's cell.
  const cooking = w.order(r1, { prepMinutes: 25 });
  s = view.snapshot(w.clock.now());
  t.match(s.counters, { ordersLive: 1, ordersWaiting: 1, ordersEnRoute: 0 });
  t.same(
    s.cells.find((c) => c[0] === cellOf(CENTRE)),
    [cellOf(CENTRE), 0, 1],
  );

  // Dispatched now, offered, accepted two seconds later: one latency point of 2 s.
  const o = w.order(r1, { prepMinutes: 0 });
  const offer = w.engine.getOrder(o);
  if (!offer.ok || offer.value.offer === null) throw new Error('no offer');
  const holder = offer.value.offer.riderId;
  s = view.snapshot(w.clock.now());
  t.match(s.counters, { ridersBusy: 1, ridersIdle: 1, ordersWaiting: 2 });
  w.clock.advance(2_000);
  t.ok(w.engine.acceptOffer(holder, o).ok);
  s = view.snapshot(w.clock.now());
  t.match(s.counters, { ordersWaiting: 1, ordersEnRoute: 1, ridersBusy: 1 });
  t.same(s.latency, [{ at: w.clock.now(), count: 1, p50Ms: 2_000, maxMs: 2_000 }]);
  t.equal(view.snapshot(w.clock.now()).latency.length, 1, 'no new point without a new assignment');

  w.engine.pickedUp(holder, o);
  w.engine.delivered(holder, o);
  w.engine.cancelOrder({ orderId: cooking, by: 'admin' });
  s = view.snapshot(w.clock.now());
  t.match(s.counters, { delivered: 1, cancelled: 1, ordersLive: 0, ordersWaiting: 0, ridersIdle: 2, ridersBusy: 0 });
  const stats = w.engine.stats();
  t.equal(s.counters.ridersOnline, stats.ridersOnline);
  t.equal(s.counters.ridersIdle, stats.ridersAvailable);
  t.equal(s.counters.ordersLive, stats.ordersLive);
  t.ok(s.seq > 1, 'snapshots are numbered');
});

t.test('a snapshot of a city of 5,000 riders and 2,000 live orders', async (t) => {
  const w = world();
  const shops = Array.from({ length: 50 }, (_, i) => w.restaurant(`r${i}`, near(200 * i, (i * 37) % 360), 30, 100));
  for (let i = 0; i < 5_000; i++) w.rider(`v${i}`, near((i * 7) % 8_000, (i * 13) % 360));
  for (let i = 0; i < 2_000; i++) w.order(shops[i % shops.length]!, { prepMinutes: 30 });
  const view = new CityView(w.engine);
  t.teardown(() => view.close());
  view.snapshot(w.clock.now());
  const runs = 20;
  const start = performance.now();
  let s = view.snapshot(w.clock.now());
  for (let i = 1; i < runs; i++) s = view.snapshot(w.clock.now());
  const ms = (performance.now() - start) / runs;
  t.equal(s.riders.length, 5_000);
  t.equal(s.counters.ordersWaiting, 2_000);
  const bytes = JSON.stringify({ type: 'snapshot', data: s }).length;
  t.comment(`one snapshot: ${ms.toFixed(1)} ms, ${(bytes / 1024).toFixed(0)} KiB of JSON, ${s.cells.length} cells`);
  t.ok(ms > 0);
});
