import t from 'tap';
import { checkInvariants, defaultEngineConfig as D, PositionStatus, type RiderId } from '../../engine/index.js';
import { CENTRE, near, world } from './world.js';

/** The position hot path: its status codes, that a refused position changes nothing, and the geofences. */

t.test('a device clock ahead of the engine within the skew is accepted, beyond it refused', async (t) => {
  const w = world();
  const a = w.rider('a', near(200));
  const p = near(250);
  const now = w.clock.now();
  t.equal(w.engine.updateRiderPosition(a, p.lat, p.lng, 5, 0, 0, now + D.maxClockSkewMs + 1), PositionStatus.FUTURE);
  t.equal(w.engine.updateRiderPosition(a, p.lat, p.lng, 5, 0, 0, now + D.maxClockSkewMs), PositionStatus.APPLIED);
  t.equal(
    w.engine.updateRiderPosition(a, p.lat, p.lng, 5, 0, 0, now + 1),
    PositionStatus.OUT_OF_ORDER,
    'time never runs backwards for one rider',
  );
});

t.test('position status codes; a refused position changes nothing', async (t) => {
  const w = world();
  const a = w.rider('a', near(200));
  w.clock.advance(5_000);
  const now = w.clock.now();
  const up = (lat: number, lng: number, accuracy: number, heading: number, speed: number, at: number) =>
    w.engine.updateRiderPosition(a, lat, lng, accuracy, heading, speed, at);
  const p = near(250);
  t.equal(
    w.engine.updateRiderPosition('ghost' as RiderId, p.lat, p.lng, 5, 0, 0, now),
    PositionStatus.UNKNOWN_RIDER,
    'unknown rider',
  );
  const refused: Array<[string, () => number, number]> = [
    ['NaN lat', () => up(NaN, p.lng, 5, 0, 0, now), PositionStatus.INVALID],
    ['NaN lng', () => up(p.lat, NaN, 5, 0, 0, now), PositionStatus.INVALID],
    ['lat 91', () => up(91, p.lng, 5, 0, 0, now), PositionStatus.INVALID],
    ['lng -181', () => up(p.lat, -181, 5, 0, 0, now), PositionStatus.INVALID],
    ['infinite lat', () => up(Infinity, p.lng, 5, 0, 0, now), PositionStatus.INVALID],
    ['at 0', () => up(p.lat, p.lng, 5, 0, 0, 0), PositionStatus.INVALID],
    ['at NaN', () => up(p.lat, p.lng, 5, 0, 0, NaN), PositionStatus.INVALID],
    ['at Infinity', () => up(p.lat, p.lng, 5, 0, 0, Infinity), PositionStatus.INVALID],
    ['negative accuracy', () => up(p.lat, p.lng, -1, 0, 0, now), PositionStatus.INVALID],
    ['NaN accuracy', () => up(p.lat, p.lng, NaN, 0, 0, now), PositionStatus.INVALID],
    ['infinite accuracy', () => up(p.lat, p.lng, Infinity, 0, 0, now), PositionStatus.INVALID],
    ['negative speed', () => up(p.lat, p.lng, 5, 0, -1, now), PositionStatus.INVALID],
    ['infinite speed', () => up(p.lat, p.lng, 5, 0, Infinity, now), PositionStatus.INVALID],
    ['heading 360', () => up(p.lat, p.lng, 5, 360, 0, now), PositionStatus.INVALID],
    ['heading -1', () => up(p.lat, p.lng, 5, -1, 0, now), PositionStatus.INVALID],
    ['same time as the last', () => up(p.lat, p.lng, 5, 0, 0, now - 5_000), PositionStatus.OUT_OF_ORDER],
    ['older than the last', () => up(p.lat, p.lng, 5, 0, 0, now - 6_000), PositionStatus.OUT_OF_ORDER],
    [
      'ahead of the clock by more than the skew',
      () => up(p.lat, p.lng, 5, 0, 0, now + D.maxClockSkewMs + 1),
      PositionStatus.FUTURE,
    ],
  ];
  for (const [label, run, code] of refused) {
    const before = JSON.stringify(w.engine.toSnapshot());
    t.equal(run(), code, label);
    t.equal(JSON.stringify(w.engine.toSnapshot()), before, `${label}: nothing changed`);
  }
  t.equal(up(p.lat, p.lng, 5, NaN, NaN, now), PositionStatus.APPLIED, 'unknown heading and speed are fine');
  const view = w.engine.getRider(a);
  t.match(view, { ok: true, value: { position: { lat: p.lat, lng: p.lng, at: now, heading: null, speed: null } } });

  w.clock.advance(D.positionStaleMs + 10_000);
  const before = JSON.stringify(w.engine.toSnapshot());
  t.equal(up(p.lat, p.lng, 5, 0, 0, now + 1), PositionStatus.STALE, 'a fresh-in-order but stale position');
  t.equal(JSON.stringify(w.engine.toSnapshot()), before, 'stale: nothing changed');
  t.equal(
    up(p.lat, p.lng, 5, 0, 0, w.clock.now() - D.positionStaleMs),
    PositionStatus.APPLIED,
    'exactly at the freshness bound applies',
  );
  t.same(w.types(), ['rider_registered', 'rider_online'], 'positions emit no events');
  t.same(checkInvariants(w.engine), []);
});

t.test('positions of an offline rider are applied but never make it available', async (t) => {
  const w = world();
  const a = w.rider('a', near(200));
  w.engine.riderOffline(a);
  w.clock.advance(1_000);
  t.equal(w.move(a, near(300)), PositionStatus.APPLIED);
  t.match(w.engine.getRider(a), { ok: true, value: { available: false } });
  t.same(checkInvariants(w.engine), []);
});

t.test('geofences: arriving at the pickup, then at the drop', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(1000));
  const o = w.order(r1);
  const step = (at: { lat: number; lng: number }) => {
    w.clock.advance(1_000);
    return w.move(a, at);
  };
  step(near(100));
  t.notOk(w.types().includes('rider_arrived_pickup'), 'no arrival before accepting');
  t.ok(w.engine.acceptOffer(a, o).ok);
  step(near(D.arrivalRadiusM + 10));
  t.equal(w.riderState(a), 'online.to_pickup', 'outside the radius: still on the way');
  step(near(D.arrivalRadiusM - 10));
  t.equal(w.riderState(a), 'online.at_pickup');
  t.match(w.events.at(-1), { type: 'rider_arrived_pickup', orderId: o, at: w.clock.now() });
  step(near(5));
  t.equal(w.types().filter((x) => x === 'rider_arrived_pickup').length, 1, 'arrives once');
  t.ok(w.engine.pickedUp(a, o).ok);
  const view = w.engine.getOrder(o);
  if (!view.ok) throw new Error('order vanished');
  step({ lat: (CENTRE.lat + view.value.drop.lat) / 2, lng: view.value.drop.lng });
  t.notOk(w.types().includes('rider_arrived_drop'), 'halfway is not the drop');
  step(view.value.drop);
  t.match(w.events.at(-1), { type: 'rider_arrived_drop', orderId: o });
  t.equal(w.riderState(a), 'online.delivering', 'arriving at the drop is not delivering');
  step({ lat: view.value.drop.lat + 0.00001, lng: view.value.drop.lng });
  t.equal(w.types().filter((x) => x === 'rider_arrived_drop').length, 1, 'arrives once');
  t.ok(w.engine.delivered(a, o).ok);
  t.same(checkInvariants(w.engine), []);
});

t.test('picking up without reaching the geofence is allowed', async (t) => {
  const w = world();
  const r1 = w.restaurant();
  const a = w.rider('a', near(500));
  const o = w.order(r1);
  w.engine.acceptOffer(a, o);
  t.ok(w.engine.pickedUp(a, o).ok, 'to_pickup → delivering');
  w.clock.advance(1_000);
  w.move(a, near(0));
  t.notOk(w.types().includes('rider_arrived_pickup'), 'the pickup geofence is gone once picked up');
  t.same(checkInvariants(w.engine), []);
});

t.test('a rider handle applies positions like the id, and only in its own engine', async (t) => {
  const w = world();
  const a = w.rider('a', near(200));
  const h = w.engine.riderHandle(a);
  t.ok(h, 'a known rider has a handle');
  t.equal(w.engine.riderHandle('ghost' as RiderId), undefined, 'an unknown rider has none');
  w.clock.advance(1_000);
  const p = near(400);
  t.equal(w.engine.updateRiderPositionOf(h!, p.lat, p.lng, 5, 90, 6, w.clock.now()), PositionStatus.APPLIED);
  t.match(w.engine.getRider(a), { ok: true, value: { position: { lat: p.lat, lng: p.lng, heading: 90, speed: 6 } } });
  t.equal(
    w.engine.updateRiderPositionOf(h!, p.lat, p.lng, 5, 90, 6, w.clock.now()),
    PositionStatus.OUT_OF_ORDER,
    'the same checks as by id',
  );
  t.equal(w.engine.updateRiderPositionOf(h!, 91, p.lng, 5, 90, 6, w.clock.now() + 1), PositionStatus.INVALID);
  const other = world();
  other.rider('a', near(200));
  t.equal(
    other.engine.updateRiderPositionOf(h!, p.lat, p.lng, 5, 90, 6, other.clock.now() + 1),
    PositionStatus.UNKNOWN_RIDER,
    'another engine refuses it',
  );
  t.same(checkInvariants(w.engine), [], 'invariants hold');
});
