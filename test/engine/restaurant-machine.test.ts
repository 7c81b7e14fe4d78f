import t from 'tap';
import { checkInvariants, type RestaurantId, type RestaurantStatus } from '../../engine/index.js';
import { near, rest, seqGaps, world } from './world.js';

/** Restaurant lifecycle: open ⇄ busy ⇄ closed, same-state refused, registration checks. */

const STATUSES: RestaurantStatus[] = ['open', 'busy', 'closed'];

for (const from of STATUSES) {
  for (const to of STATUSES) {
    t.test(`restaurant ${from} → ${to}`, async (t) => {
      const w = world();
      const r = rest('r1');
      t.ok(
        w.engine.registerRestaurant({ restaurantId: r, location: near(0), prepMinutes: 10, capacity: 5, status: from })
          .ok,
      );
      t.match(w.engine.getRestaurant(r), { ok: true, value: { state: from } });
      w.clock.advance(1_000);
      const n = w.events.length;
      const before = JSON.stringify(w.engine.toSnapshot());
      const res = w.engine.setRestaurantStatus(r, to);
      if (from === to) {
        t.match(res, { ok: false, code: 'RESTAURANT_INVALID_TRANSITION' }, 'same state is refused');
        t.equal(w.events.length, n, 'no event');
        t.equal(JSON.stringify(w.engine.toSnapshot()), before, 'nothing changed');
      } else {
        t.ok(res.ok, 'allowed');
        t.match(w.events.slice(n), [
          { type: 'restaurant_status_changed', aggregate: 'restaurant', id: r, status: to, at: w.clock.now() },
        ]);
        t.match(w.engine.getRestaurant(r), { ok: true, value: { state: to } });
      }
      t.same(seqGaps(w.events), []);
    });
  }
}

t.test('registration checks', async (t) => {
  const w = world();
  const reg = (over: Record<string, unknown>) =>
    w.engine.registerRestaurant({ restaurantId: rest('r1'), location: near(0), prepMinutes: 10, capacity: 5, ...over });
  t.match(reg({ restaurantId: 'has spaces' }), { ok: false, code: 'INVALID_ARGUMENT' }, 'bad id');
  t.match(reg({ location: { lat: 0, lng: 200 } }), { ok: false, code: 'INVALID_ARGUMENT' }, 'bad location');
  t.match(reg({ prepMinutes: 0 }), { ok: false, code: 'INVALID_ARGUMENT' }, 'prep 0');
  t.match(reg({ prepMinutes: 241 }), { ok: false, code: 'INVALID_ARGUMENT' }, 'prep too long');
  t.match(reg({ capacity: 1.5 }), { ok: false, code: 'INVALID_ARGUMENT' }, 'fractional capacity');
  t.match(reg({ capacity: 0 }), { ok: false, code: 'INVALID_ARGUMENT' }, 'capacity 0');
  t.match(reg({ status: 'sleeping' }), { ok: false, code: 'INVALID_ARGUMENT' }, 'unknown status');
  t.same(w.events, [], 'nothing registered by a refused registration');
  t.match(w.engine.getRestaurant(rest('r1')), { ok: false, code: 'RESTAURANT_NOT_FOUND' });
  t.ok(reg({ status: 'closed' }).ok, 'registered closed');
  t.same(w.types(), ['restaurant_registered', 'restaurant_status_changed'], 'registered, then closed');
  t.match(reg({}), { ok: false, code: 'RESTAURANT_EXISTS' });
  t.match(w.engine.setRestaurantStatus('ghost' as RestaurantId, 'open'), { ok: false, code: 'RESTAURANT_NOT_FOUND' });
  t.match(w.engine.setRestaurantStatus(rest('r1'), 'paused' as RestaurantStatus), {
    ok: false,
    code: 'INVALID_ARGUMENT',
  });
  t.same(checkInvariants(w.engine), []);
});

t.test('closing a restaurant stops new orders, not the ones it has', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(200));
  const o = w.order(r1);
  t.ok(w.engine.setRestaurantStatus(r1, 'closed').ok);
  t.throws(() => w.order(r1), /closed/, 'no new order');
  t.ok(
    w.engine.acceptOffer(a, o).ok && w.engine.pickedUp(a, o).ok && w.engine.delivered(a, o).ok,
    'the open order is delivered',
  );
  t.same(checkInvariants(w.engine), []);
});
