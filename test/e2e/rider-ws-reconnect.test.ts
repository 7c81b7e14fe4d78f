/**
 * `/v1/rider` over real sockets: a rider whose socket died with an OFFER (or
 * ASSIGNED) in flight learns of its offer or job again on its next
 * connection, and can act on it; a rider carrying several orders hears every
 * one of them, with its route.
 */
import t from 'tap';
import {
  Frame,
  RiderStatusCode,
  encodeOrderCommand,
  encodePing,
  encodePosition,
  encodeStatus,
  type CustomerId,
  type OrderId,
  type RiderId,
  type ServerFrame,
} from '../../protocol/index.js';
import { connect, near, startHarness, type RawConn } from '../support/ws-harness.js';

const h = await startHarness(t, { limits: { framesPerSecond: 100, frameBurst: 100 } });
const isWelcome = (f: ServerFrame) => f.type === Frame.WELCOME;
const ackOf = (seq: number) => (f: ServerFrame) =>
  (f.type === Frame.ACK && f.lastSeq >= seq) || (f.type === Frame.ERROR && f.seq === seq);

/** Resolves once the engine has seen the rider's socket close (its grace period started). */
async function disconnected(id: RiderId): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const v = h.engine.getRider(id);
    if (v.ok && !v.value.connected) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`rider ${id} still connected in the engine`);
}

/** Drops the socket the way a lost network does: no close frame, the TCP connection just ends. */
async function drop(c: RawConn, id: RiderId): Promise<void> {
  c.ws.terminate();
  await c.closed;
  await disconnected(id);
}

async function onlineRider(label: string, at = near(300), capacity = 1) {
  const u = await h.rider(label);
  if (capacity > 1) {
    const r = h.engine.registerRider({ riderId: u.riderId as RiderId, capacity });
    if (!r.ok) throw new Error(r.detail);
  }
  const c = connect(h.url, { token: u.token });
  await c.next(isWelcome);
  c.send(encodeStatus(1, RiderStatusCode.ONLINE));
  await c.next(ackOf(1));
  c.send(encodePosition(2, { ...at, accuracy: 5, heading: NaN, speed: 0, at: h.clock.now() }));
  c.ws.send(encodePing(1));
  await c.next((f) => f.type === Frame.PONG);
  return { c, token: u.token, id: u.riderId as RiderId, seq: 3 };
}

function order(rest: string): OrderId {
  const placed = h.engine.placeOrder({
    customerId: 'cust-1' as CustomerId,
    restaurantId: rest as never,
    drop: near(2000, 0),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const acc = h.engine.restaurantAccept(placed.value, { prepMinutes: 0 });
  if (!acc.ok) throw new Error(acc.detail);
  return placed.value;
}

t.test('an offer lost with the socket is sent again after WELCOME, with its expiry, and can be accepted', async (t) => {
  const rest = h.restaurant();
  const a = await onlineRider('lost-offer');
  const o = order(rest);
  const first = await a.c.next((f) => f.type === Frame.OFFER && f.orderId === o);
  if (first.type !== Frame.OFFER) return t.fail();
  await drop(a.c, a.id);
  h.clock.advance(5_000);
  t.match(
    h.engine.getOrder(o),
    { ok: true, value: { state: 'dispatching.offered', offer: { riderId: a.id } } },
    'the offer outlives the socket',
  );

  const c = connect(h.url, { token: a.token });
  const welcome = await c.next(isWelcome);
  const again = await c.next((f) => f.type === Frame.OFFER);
  t.ok(c.frames.indexOf(welcome) < c.frames.indexOf(again), 'WELCOME first');
  t.match(
    again,
    {
      orderId: o,
      offerId: first.offerId,
      expiresAt: first.expiresAt,
      payout: first.payout,
      pickupLat: first.pickupLat,
      dropLng: first.dropLng,
    },
    'the same offer, expiring when it always did',
  );
  t.ok(
    first.expiresAt - h.clock.now() === h.engine.config.offerTimeoutMs - 5_000,
    'the remaining time is the rest of the original',
  );
  t.match(h.engine.getRider(a.id), { ok: true, value: { connected: true, state: 'online.offered' } });

  c.send(encodeOrderCommand(Frame.ACCEPT, a.seq, o));
  t.match(await c.next((f) => f.type === Frame.ASSIGNED), { orderId: o, offerId: first.offerId });
  t.match(await c.next(ackOf(a.seq)), { type: Frame.ACK, lastSeq: a.seq });
  t.match(h.engine.getOrder(o), { ok: true, value: { state: 'assigned', riderId: a.id } });
  t.equal(c.frames.filter((f) => f.type === Frame.OFFER).length, 1, 'one OFFER on the new socket');
  c.ws.close();
  await c.closed;
});

t.test('a job is sent again after a reconnect: ASSIGNED, then its status', async (t) => {
  const rest = h.restaurant();
  const a = await onlineRider('lost-job');
  const o = order(rest);
  const offer = await a.c.next((f) => f.type === Frame.OFFER && f.orderId === o);
  if (offer.type !== Frame.OFFER) return t.fail();
  a.c.send(encodeOrderCommand(Frame.ACCEPT, a.seq, o));
  await a.c.next((f) => f.type === Frame.ASSIGNED);
  await a.c.next(ackOf(a.seq));
  await drop(a.c, a.id);
  t.ok(h.engine.foodReady(o).ok, 'the food gets ready while the rider is away');

  const b = connect(h.url, { token: a.token });
  await b.next(isWelcome);
  t.match(await b.next((f) => f.type === Frame.ASSIGNED), { orderId: o, offerId: offer.offerId });
  t.match(await b.next((f) => f.type === Frame.ORDER_UPDATE), { orderId: o, status: 'food_ready' });
  b.send(encodeOrderCommand(Frame.PICKED_UP, a.seq + 1, o));
  await b.next((f) => f.type === Frame.ORDER_UPDATE && f.status === 'picked_up');
  await drop(b, a.id);

  const c = connect(h.url, { token: a.token });
  await c.next(isWelcome);
  await c.next((f) => f.type === Frame.ASSIGNED && f.orderId === o);
  t.match(await c.next((f) => f.type === Frame.ORDER_UPDATE), { orderId: o, status: 'picked_up' }, 'carrying the food');
  c.send(encodeOrderCommand(Frame.DELIVERED, a.seq + 2, o));
  t.match(await c.next((f) => f.type === Frame.ORDER_UPDATE && f.status === 'delivered'), { orderId: o });
  c.ws.close();
  await c.closed;

  const d = connect(h.url, { token: a.token });
  await d.next(isWelcome);
  d.ws.send(encodePing(7));
  await d.next((f) => f.type === Frame.PONG);
  t.same(
    d.frames.filter((f) => f.type !== Frame.WELCOME && f.type !== Frame.PONG),
    [],
    'nothing held after delivery: nothing sent again',
  );
  d.ws.close();
  await d.closed;
});

t.test('a new connection that replaces a live one gets the offer too', async (t) => {
  const rest = h.restaurant();
  const a = await onlineRider('replaced');
  const o = order(rest);
  await a.c.next((f) => f.type === Frame.OFFER && f.orderId === o);
  const b = connect(h.url, { token: a.token });
  await b.next(isWelcome);
  t.match(await b.next((f) => f.type === Frame.OFFER), { orderId: o });
  b.send(encodeOrderCommand(Frame.DECLINE, a.seq, o));
  t.match(await b.next((f) => f.type === Frame.OFFER_ENDED), { orderId: o, outcome: 1 });
  b.ws.close();
  await b.closed;
  h.engine.cancelOrder({ orderId: o, by: 'admin' });
});

t.test(
  'a stacked rider hears its route in OFFER and ASSIGNED, and every job and offer again after a reconnect',
  async (t) => {
    const rest = h.restaurant();
    const a = await onlineRider('stacked', near(300), 2);
    const o1 = order(rest);
    const first = await a.c.next((f) => f.type === Frame.OFFER && f.orderId === o1);
    t.notOk('stops' in first, 'the first job is a plain offer');
    a.c.send(encodeOrderCommand(Frame.ACCEPT, a.seq, o1));
    const assigned1 = await a.c.next((f) => f.type === Frame.ASSIGNED && f.orderId === o1);
    t.notOk('stops' in assigned1, 'one job: no route');

    const o2 = order(rest);
    const stacked = await a.c.next((f) => f.type === Frame.OFFER && f.orderId === o2);
    if (stacked.type !== Frame.OFFER) return t.fail();
    t.same(
      stacked.stops?.map((x) => [x.kind, x.orderId]),
      [
        ['pickup', o1],
        ['pickup', o2],
        ['drop', o1],
        ['drop', o2],
      ],
      'the stacked offer carries the route it makes: both pickups, then both drops',
    );
    await drop(a.c, a.id);

    const b = connect(h.url, { token: a.token });
    await b.next(isWelcome);
    t.match(await b.next((f) => f.type === Frame.ASSIGNED), { orderId: o1 }, 'the held job first');
    const again = await b.next((f) => f.type === Frame.OFFER);
    t.match(again, { orderId: o2, offerId: stacked.offerId, expiresAt: stacked.expiresAt }, 'then the stack offer');
    t.same(again.type === Frame.OFFER && again.stops, stacked.stops, 'with its route');
    b.send(encodeOrderCommand(Frame.ACCEPT, a.seq + 1, o2));
    const assigned2 = await b.next((f) => f.type === Frame.ASSIGNED && f.orderId === o2);
    t.same(assigned2.type === Frame.ASSIGNED && assigned2.stops, stacked.stops, 'ASSIGNED carries the route now held');
    await b.next(ackOf(a.seq + 1));
    await drop(b, a.id);

    const c = connect(h.url, { token: a.token });
    await c.next(isWelcome);
    await c.next((f) => f.type === Frame.ASSIGNED && f.orderId === o2);
    const jobs = c.frames.filter((f) => f.type === Frame.ASSIGNED);
    t.same(
      jobs.map((f) => f.type === Frame.ASSIGNED && [f.orderId, f.stops?.length]),
      [
        [o1, 4],
        [o2, 4],
      ],
      'both jobs again, lead first, each with the route',
    );
    t.match(h.engine.getRider(a.id), { ok: true, value: { connected: true } });
    c.ws.close();
    await c.closed;
    for (const o of [o1, o2]) h.engine.cancelOrder({ orderId: o, by: 'admin' });
  },
);
