import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { externalCandidates } from '../../../adapters/candidates/external-candidates.js';
import { postgisStore } from '../../../adapters/candidates/postgis-store.js';
import { redisGeoStore } from '../../../adapters/candidates/redis-geo-store.js';
import type { CandidateStore } from '../../../adapters/candidates/candidate-store.js';
import {
  Engine,
  SimulatedClock,
  offsetM,
  type CustomerId,
  type EngineEvent,
  type RestaurantId,
  type RiderId,
} from '../../../engine/index.js';
import { throwawayDatabase } from '../../support/pg.js';
import { SHARED_REDIS } from '../../support/redis-server.js';

/**
 * One contract for every candidate store the benchmark's baselines use
 * (Redis GEO on the shared Redis under a unique prefix, PostGIS in a
 * throwaway database). PostGIS missing is a failure, not a skip: `./dev setup`
 * installs it.
 */

const CENTRE = { lat: 12.9352, lng: 77.6245 };
const at = (m: number, bearing = 90) => offsetM(CENTRE.lat, CENTRE.lng, bearing, m);

const stores: [string, (t: Test) => Promise<CandidateStore>][] = [
  [
    'redis-geo',
    async (t) => {
      const s = redisGeoStore(SHARED_REDIS, `test:cand:${process.pid}:${randomBytes(4).toString('hex')}`);
      t.teardown(() => s.close());
      return s;
    },
  ],
  [
    'postgis',
    async (t) => {
      const url = await throwawayDatabase(t, 'postgis');
      const s = await postgisStore(url);
      // Before the database is dropped (teardowns run last-in first-out).
      t.teardown(() => s.close());
      return s;
    },
  ],
];

for (const [name, make] of stores) {
  t.test(`${name}: nearest first, within the radius, at most k`, async (t) => {
    const s = await make(t);
    t.equal(s.name, name);
    s.put('far', at(3_000).lat, at(3_000).lng);
    s.put('mid', at(1_000, 200).lat, at(1_000, 200).lng);
    s.put('near', at(200, 10).lat, at(200, 10).lng);
    s.put('out', at(9_000).lat, at(9_000).lng);
    await s.flush();
    t.same(await s.nearest(CENTRE.lat, CENTRE.lng, 6_000, 10), ['near', 'mid', 'far']);
    t.same(await s.nearest(CENTRE.lat, CENTRE.lng, 6_000, 2), ['near', 'mid']);
    t.same(await s.nearest(CENTRE.lat, CENTRE.lng, 500, 10), ['near']);
    t.same(await s.nearest(at(9_000).lat, at(9_000).lng, 100, 10), ['out']);
    t.equal(s.writeErrors, 0);
  });

  t.test(`${name}: a put moves a rider, a remove takes it out, the last write of a rider wins`, async (t) => {
    const s = await make(t);
    s.put('a', at(100).lat, at(100).lng);
    s.put('b', at(300).lat, at(300).lng);
    await s.flush();
    s.put('a', at(2_000).lat, at(2_000).lng);
    s.remove('b');
    s.put('c', at(50).lat, at(50).lng);
    s.remove('c');
    s.put('c', at(60).lat, at(60).lng);
    s.put('d', at(70).lat, at(70).lng);
    s.remove('d');
    await s.flush();
    t.same(await s.nearest(CENTRE.lat, CENTRE.lng, 6_000, 10), ['c', 'a']);
    s.remove('never-there');
    await s.flush();
    t.equal(s.writeErrors, 0);
  });

  t.test(
    `${name}: the engine in external candidates mode offers through it, and the store follows availability`,
    async (t) => {
      const s = await make(t);
      const clock = new SimulatedClock();
      const bridge = externalCandidates(s, { k: 8 });
      const engine = new Engine({ clock, externalCandidates: bridge.request });
      bridge.attach(engine);
      t.teardown(() => bridge.detach());
      const offers: EngineEvent[] = [];
      engine.subscribe((e) => e.type === 'order_offered' && offers.push(e));
      engine.registerRestaurant({
        restaurantId: 'r1' as RestaurantId,
        location: CENTRE,
        prepMinutes: 10,
        capacity: 10,
      });
      for (const [id, m] of [
        ['x', 900],
        ['y', 250],
        ['z', 4_000],
      ] as const) {
        engine.registerRider({ riderId: id as RiderId });
        engine.riderOnline(id as RiderId);
        const p = at(m);
        engine.updateRiderPosition(id as RiderId, p.lat, p.lng, 5, NaN, 0, clock.now());
        bridge.onPosition(id as RiderId, p.lat, p.lng);
      }
      await s.flush();
      const placed = engine.placeOrder({
        customerId: 'c' as CustomerId,
        restaurantId: 'r1' as RestaurantId,
        drop: at(2_000, 0),
        paid: true,
      });
      if (!placed.ok) throw new Error(placed.detail);
      engine.restaurantAccept(placed.value, { prepMinutes: 0 });
      t.equal(offers.length, 0, 'nothing offered before the store answers');
      while (bridge.stats.answered < 1) await new Promise((r) => setTimeout(r, 5));
      t.match(offers, [{ riderId: 'y' }]);
      await s.flush();
      t.same(await s.nearest(CENTRE.lat, CENTRE.lng, 6_000, 10), ['x', 'z'], 'the offered rider left the store');
      engine.declineOffer('y' as RiderId, placed.value);
      while (bridge.stats.answered < 2) await new Promise((r) => setTimeout(r, 5));
      t.match(
        offers,
        [{ riderId: 'y' }, { riderId: 'x' }],
        'after a decline, the next nearest; the decliner is back in the store but excluded',
      );
      await s.flush();
      t.same(await s.nearest(CENTRE.lat, CENTRE.lng, 6_000, 10), ['y', 'z']);
      t.same(bridge.stats, { requests: 2, answered: 2, offered: 2, empty: 0, refused: 0, lookupErrors: 0 });
      engine.stop();
    },
  );
}
