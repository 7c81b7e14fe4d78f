/**
 * `/v1/rider` over real sockets: a job from offer to delivery, another
 * rider's offer, limits (oversize frames, floods, position rate), garbage
 * frames that must not change the rider, and disconnect/reconnect in the engine.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  CloseCode,
  Frame,
  RiderStatusCode,
  encodeOrderCommand,
  encodePing,
  encodePosition,
  encodeRaw,
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

/** A connected rider, online at `at` with a fresh position; the next seq to use is returned too. */
/**
 * A rider online at `at`, ready for the test. The pinned uWS build sometimes
 * drops a socket with 1006 just after it opens (an open bug, docs/streams.md);
 * the tests using this are about what comes after, so such a drop during
 * setup is retried with a new connection, as the rider client would.
 */
async function onlineRider(label: string, at = near(300)): Promise<{ c: RawConn; id: RiderId; seq: number }> {
  const u = await h.rider(label);
  for (let attempt = 1; ; attempt++) {
    const c = connect(h.url, { token: u.token });
    try {
      await c.next(isWelcome);
      c.send(encodeStatus(1, RiderStatusCode.ONLINE));
      await c.next(ackOf(1));
      c.send(encodePosition(2, { ...at, accuracy: 5, heading: NaN, speed: 0, at: h.clock.now() }));
      c.ws.send(encodePing(1));
      await c.next((f) => f.type === Frame.PONG);
      return { c, id: u.riderId as RiderId, seq: 3 };
    } catch (err) {
      const dropped = c.ws.readyState === c.ws.CLOSED && (await c.closed).code === 1006;
      if (!dropped || attempt === 3) throw err;
    }
  }
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

t.test('a job from offer to delivery, and another rider cannot take it', async (t) => {
  const rest = h.restaurant();
  const a = await onlineRider('jobA');
  t.match(h.engine.getRider(a.id), { ok: true, value: { state: 'online.idle', available: true } });
  const o = order(rest);
  const offer = await a.c.next((f) => f.type === Frame.OFFER);
  t.match(offer, { type: Frame.OFFER, orderId: o });
  if (offer.type !== Frame.OFFER) return;
  t.ok(
    Number.isSafeInteger(offer.payout) && offer.payout! > h.engine.config.payout.baseFeePaise,
    `payout in paise (${String(offer.payout)})`,
  );
  t.match(
    h.engine.getOrder(o),
    { ok: true, value: { offer: { payout: offer.payout } } },
    'the payout the engine fixed',
  );
  t.ok(offer.expiresAt > h.clock.now() && offer.pickupLat === 12.9352, 'expiry and pickup travel in the frame');

  const b = await onlineRider('jobB', near(5000));
  b.c.send(encodeOrderCommand(Frame.ACCEPT, b.seq, o));
  t.match(await b.c.next(ackOf(b.seq)), { type: Frame.ERROR, seq: b.seq, code: 'OFFER_NOT_FOUND' });
  t.match(
    h.engine.getOrder(o),
    { ok: true, value: { state: 'dispatching.offered', offer: { riderId: a.id } } },
    'the offer is untouched',
  );

  a.c.send(encodeOrderCommand(Frame.ACCEPT, a.seq, o));
  t.match(await a.c.next((f) => f.type === Frame.ASSIGNED), { orderId: o, offerId: offer.offerId });
  t.match(await a.c.next(ackOf(a.seq)), { type: Frame.ACK, lastSeq: a.seq });
  a.c.send(encodeOrderCommand(Frame.PICKED_UP, a.seq + 1, o));
  t.match(await a.c.next((f) => f.type === Frame.ORDER_UPDATE && f.status === 'picked_up'), { orderId: o });
  a.c.send(encodeOrderCommand(Frame.DELIVERED, a.seq + 2, o));
  t.match(await a.c.next((f) => f.type === Frame.ORDER_UPDATE && f.status === 'delivered'), { orderId: o });
  t.match(h.engine.getOrder(o), { ok: true, value: { state: 'delivered' } });
  a.c.ws.close();
  b.c.ws.close();
});

t.test('an offer that expires is withdrawn with OFFER_ENDED', async (t) => {
  const rest = h.restaurant();
  const a = await onlineRider('expire', near(100));
  const o = order(rest);
  const offer = await a.c.next((f) => f.type === Frame.OFFER && f.orderId === o);
  if (offer.type !== Frame.OFFER) return t.fail();
  h.clock.runUntil(offer.expiresAt);
  t.match(await a.c.next((f) => f.type === Frame.OFFER_ENDED && f.orderId === o), { outcome: 2 });
  h.engine.cancelOrder({ orderId: o, by: 'admin' });
  a.c.ws.close();
});

t.test('oversize frames close the socket with 4005 (1 KiB, 4 KiB for AUTH)', async (t) => {
  const a = await onlineRider('big');
  a.c.send(encodeOrderCommand(Frame.ACCEPT, a.seq, 'x'.repeat(2000)));
  t.same(await a.c.closed, { code: CloseCode.FRAME_TOO_LARGE, reason: 'FRAME_TOO_LARGE' });
  const b = await onlineRider('huge');
  b.c.send(new Uint8Array(5000));
  t.same(
    await b.c.closed,
    { code: CloseCode.FRAME_TOO_LARGE, reason: 'FRAME_TOO_LARGE' },
    'above 4 KiB too, well below the uWS cap',
  );
});

t.test('positions beyond the rate get RATE_LIMITED; a flood of frames closes with 4007', async (t) => {
  // The simulated clock stands still, so the buckets never refill: exact counts.
  const a = await onlineRider('rate');
  let seq = a.seq;
  for (let i = 0; i < 12; i++)
    a.c.send(encodePosition(seq++, { ...near(300), accuracy: 5, heading: NaN, speed: 1, at: h.clock.now() - 12 + i }));
  t.match(await a.c.next((f) => f.type === Frame.ERROR && f.code === 'RATE_LIMITED'), { type: Frame.ERROR });
  const before = h.server.rider.stats.rateLimited;
  t.ok(before >= 3, `positions refused: ${before}`);
  for (let i = 0; i < 200; i++) a.c.send(encodePing(i));
  t.same(await a.c.closed, { code: CloseCode.RATE_LIMITED, reason: 'RATE_LIMITED' });
});

t.test('text frames close with 4006; undecodable frames get coded errors, then 4006', async (t) => {
  const a = await onlineRider('text');
  a.c.ws.send('hello');
  t.equal((await a.c.closed).code, CloseCode.PROTOCOL_ERROR);
  const b = await onlineRider('junk');
  b.c.send(encodeRaw([99, 7]));
  t.match(await b.c.next((f) => f.type === Frame.ERROR), { code: 'FRAME_INVALID', seq: 7 });
  for (let i = 0; i < 10; i++) b.c.send(new Uint8Array([0xc1]));
  t.equal((await b.c.closed).code, CloseCode.PROTOCOL_ERROR);
});

t.test('fuzz over the socket: garbage never changes the rider and never stops the server', async (t) => {
  const a = await onlineRider('fuzz');
  const before = h.engine.getRider(a.id);
  const samples = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 64 }), { numRuns: 60, seed: 3 });
  const mutated = fc
    .sample(fc.tuple(fc.nat(20), fc.integer({ min: 0, max: 255 })), { numRuns: 30, seed: 4 })
    .map(([i, v]) => {
      const b = encodeStatus(a.seq, RiderStatusCode.OFFLINE);
      const out = Uint8Array.from(b);
      out[i % out.length] = v;
      // Only mutations that stop being a valid frame are of interest here.
      return out;
    });
  let sent = 0;
  for (const b of [...samples, ...mutated]) {
    if (a.c.ws.readyState !== a.c.ws.OPEN) break;
    const valid = (await import('../../protocol/index.js')).decodeClientFrame(b);
    if (valid.ok) continue;
    a.c.send(b);
    sent++;
    if (sent % 8 === 0) a.c.send(encodePing(sent));
    if (sent % 8 === 0) await a.c.next((f) => f.type === Frame.PONG && f.clientTime === sent);
  }
  t.ok(sent > 20, `${sent} bad frames sent`);
  const after = h.engine.getRider(a.id);
  t.same(after, before, 'the rider is exactly as before');
  const other = await onlineRider('after-fuzz');
  t.match(h.engine.getRider(other.id), { ok: true, value: { state: 'online.idle' } }, 'the server still serves');
  a.c.ws.close();
  other.c.ws.close();
});

t.test('disconnect starts the grace period; a reconnect resumes from the last seq', async (t) => {
  const u = await h.rider('resume');
  const id = u.riderId as RiderId;
  const c1 = connect(h.url, { token: u.token });
  await c1.next(isWelcome);
  c1.send(encodeStatus(1, RiderStatusCode.ONLINE));
  for (let s = 2; s <= 5; s++)
    c1.send(encodePosition(s, { ...near(300), accuracy: 5, heading: NaN, speed: 1, at: h.clock.now() - 10 + s }));
  c1.send(encodeStatus(6, RiderStatusCode.BREAK));
  await c1.next(ackOf(6));
  c1.ws.close();
  await c1.closed;
  t.match(h.engine.getRider(id), { ok: true, value: { state: 'on_break', connected: false } });

  const c2 = connect(h.url, { token: u.token });
  t.match(await c2.next(isWelcome), { lastSeq: 6 }, 'the welcome says where to resume');
  t.match(
    h.engine.getRider(id),
    { ok: true, value: { state: 'on_break', connected: true } },
    'reconnected in the engine',
  );
  c2.send(encodeStatus(6, RiderStatusCode.OFFLINE));
  t.match(await c2.next((f) => f.type === Frame.ACK), { lastSeq: 6 }, 'a replayed frame is acknowledged, not applied');
  t.match(h.engine.getRider(id), { ok: true, value: { state: 'on_break' } });
  c2.send(encodeStatus(7, RiderStatusCode.ONLINE));
  await c2.next(ackOf(7));
  t.match(h.engine.getRider(id), { ok: true, value: { state: 'online.idle' } });
  c2.ws.close();
  await c2.closed;
});
