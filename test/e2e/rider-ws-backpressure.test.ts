/**
 * A rider that stops reading, over real sockets (the backpressure rows of
 * protocol/rider-protocol.md): once the socket's buffer passes the soft limit
 * droppable frames (PONG, ACK) are skipped, an OFFER is still queued and
 * arrives when the client reads again; once it passes the hard limit the next
 * must-deliver frame closes the socket as a slow consumer (4008), the engine
 * starts the rider's grace period, and the rider gets its offer again on its
 * next connection. A rider beside it is served normally throughout.
 *
 * Deterministic by construction, not by timing: the client stops reading at
 * the TCP level (the `ws` client's net socket is paused), and the buffers are
 * filled with WebSocket pings, which uWS answers itself with pongs of the
 * same size. The kernel's loopback buffers (a few MB, sized by the kernel)
 * fill first, so the test fills in steps and, after each, waits until the
 * server has processed everything sent so far: a POSITION frame with a new
 * time is the barrier (TCP keeps order; the engine shows the time once the
 * frame is applied). It stops on what the server reports (droppable frames
 * skipped), so a step never overshoots by more than one step's bytes, far
 * below the hard limit. The idle timeout is raised so that a slow run cannot
 * meet uWS's automatic ping, which a paused client cannot answer.
 */
import t, { type Test } from 'tap';
import {
  CloseCode,
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

const SOFT = 4 * 1024;
const HARD = 64 * 1024;
const h = await startHarness(t, {
  limits: {
    framesPerSecond: 1e9,
    frameBurst: 1e9,
    positionsPerSecond: 1e9,
    positionBurst: 1e9,
    idleTimeoutS: 240,
    softBackpressureBytes: SOFT,
    maxBackpressureBytes: HARD,
  },
});
const isWelcome = (f: ServerFrame) => f.type === Frame.WELCOME;
const ackOf = (seq: number) => (f: ServerFrame) =>
  (f.type === Frame.ACK && f.lastSeq >= seq) || (f.type === Frame.ERROR && f.seq === seq);
/** A WebSocket ping with the largest control payload: uWS answers each with a pong of 127 bytes. */
const PING_PAYLOAD = Buffer.alloc(125, 0x70);
/** Bytes of pongs asked for per fill step: well below HARD - SOFT, so stopping after the step that passes SOFT leaves room. */
const STEP_PINGS = 128;

interface Rider {
  c: RawConn;
  id: RiderId;
  token: string;
  seq: number;
  at: number;
  pos: { lat: number; lng: number };
}

async function onlineRider(label: string, pos = near(200)): Promise<Rider> {
  const u = await h.rider(label);
  const c = connect(h.url, { token: u.token });
  await c.next(isWelcome);
  const r: Rider = { c, id: u.riderId as RiderId, token: u.token, seq: 1, pos, at: h.clock.now() - 30_000 };
  c.send(encodeStatus(r.seq, RiderStatusCode.ONLINE));
  await c.next(ackOf(r.seq++));
  await barrier(r);
  return r;
}

/**
 * Sends a position with a new time and resolves once the engine applied it:
 * everything sent before it was processed. Answers false instead when the
 * server closed the rider's socket meanwhile (the engine then shows it disconnected).
 */
async function barrier(r: Rider): Promise<boolean> {
  const at = ++r.at;
  r.c.send(encodePosition(r.seq++, { ...r.pos, accuracy: 5, heading: NaN, speed: 0, at }));
  for (let i = 0; i < 100_000; i++) {
    const v = h.engine.getRider(r.id);
    if (v.ok && v.value.position?.at === at) return true;
    if (v.ok && !v.value.connected) return false;
    await new Promise((res) => setImmediate(res));
  }
  throw new Error(`position ${at} of ${r.id} never applied`);
}

const socketOf = (c: RawConn) => (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;

/** Asks for pongs in steps until the server skips a droppable frame (its buffer passed SOFT). Answers the bytes asked for. */
async function fillPastSoft(r: Rider): Promise<number> {
  const start = h.server.rider.stats.droppedFrames;
  let bytes = 0;
  // 64 MB of pongs is far beyond any loopback buffering; reaching it means the test is broken, not slow.
  while (h.server.rider.stats.droppedFrames === start) {
    if (bytes > 64 * 1024 * 1024) throw new Error(`no droppable frame skipped after ${bytes} bytes`);
    for (let i = 0; i < STEP_PINGS; i++) r.c.ws.ping(PING_PAYLOAD);
    bytes += STEP_PINGS * 127;
    // A droppable PONG of our own protocol: skipped (and counted) once the buffer is past SOFT.
    r.c.ws.send(encodePing(1));
    await barrier(r);
  }
  return bytes;
}

function order(rest: string, dropBearing = 0): OrderId {
  const placed = h.engine.placeOrder({
    customerId: 'cust-bp' as CustomerId,
    restaurantId: rest as never,
    drop: near(1500, dropBearing),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const acc = h.engine.restaurantAccept(placed.value, { prepMinutes: 0 });
  if (!acc.ok) throw new Error(acc.detail);
  return placed.value;
}

/** The rider beside the slow one: an offer reaches it and its accept is answered at once. */
async function servedNormally(t: Test, brisk: Rider, rest: string): Promise<void> {
  const o = order(rest, 90);
  t.match(h.engine.getOrder(o), { ok: true, value: { offer: { riderId: brisk.id } } }, 'offered to the brisk rider');
  await brisk.c.next((f) => f.type === Frame.OFFER && f.orderId === o);
  brisk.c.send(encodeOrderCommand(Frame.ACCEPT, brisk.seq, o));
  t.match(
    await brisk.c.next((f) => f.type === Frame.ASSIGNED && f.orderId === o),
    { orderId: o },
    'the brisk rider is served',
  );
  await brisk.c.next(ackOf(brisk.seq++));
  t.ok(h.engine.cancelOrder({ orderId: o, by: 'admin' }).ok);
  await brisk.c.next((f) => f.type === Frame.ORDER_UPDATE && f.orderId === o && f.status === 'cancelled');
}

t.test(
  'past the soft limit droppable frames are skipped; an offer is queued and arrives when the client reads',
  async (t) => {
    const restSlow = h.restaurant();
    // The brisk rider waits on a break, so the slow one is the only candidate for the first order.
    const slow = await onlineRider('slow', near(200));
    const brisk = await onlineRider('brisk', near(200));
    t.ok(h.engine.riderBreak(brisk.id).ok);

    socketOf(slow.c).pause();
    const asked = await fillPastSoft(slow);
    t.ok(h.server.rider.stats.droppedFrames > 0, `droppable frames skipped (after ${asked} bytes of pongs)`);
    t.equal(h.server.rider.stats.slowConsumers, 0, 'no one closed yet');

    const o = order(restSlow);
    t.match(h.engine.getOrder(o), { ok: true, value: { offer: { riderId: slow.id } } }, 'offered to the slow rider');
    await barrier(slow);
    t.equal(h.server.rider.stats.slowConsumers, 0, 'the offer was queued, not dropped: it fits under the hard limit');

    t.ok(h.engine.riderResume(brisk.id).ok);
    await servedNormally(t, brisk, restSlow);

    socketOf(slow.c).resume();
    const offer = await slow.c.next((f) => f.type === Frame.OFFER && f.orderId === o, 30_000);
    t.match(offer, { orderId: o }, 'the offer arrives once the client reads');
    slow.c.send(encodeOrderCommand(Frame.ACCEPT, slow.seq, o));
    t.match(
      await slow.c.next((f) => f.type === Frame.ASSIGNED && f.orderId === o, 30_000),
      { orderId: o },
      'and can be accepted',
    );
    t.ok(h.engine.cancelOrder({ orderId: o, by: 'admin' }).ok);
    slow.c.ws.close();
    brisk.c.ws.close();
    await Promise.all([slow.c.closed, brisk.c.closed]);
  },
);

t.test(
  'must-deliver frames piling up to the hard limit close the socket with 4008, and the client reads 4008',
  async (t) => {
    const stuck = await onlineRider('piling', near(200));
    socketOf(stuck.c).pause();
    await fillPastSoft(stuck);
    const before = h.server.rider.stats.slowConsumers;
    // Each ACCEPT of an unknown order earns an ERROR frame, which is never skipped.
    const unknown = (i: number) => `no-such-order-${'x'.repeat(40)}-${i}` as OrderId;
    let sent = 0;
    for (let step = 0; ; step++) {
      if (sent > 4 * HARD) return t.fail(`still open after ${sent} ERROR frames`);
      for (let i = 0; i < 32; i++, sent++) stuck.c.send(encodeOrderCommand(Frame.ACCEPT, stuck.seq++, unknown(sent)));
      if (!(await barrier(stuck))) break;
    }
    t.equal(h.server.rider.stats.slowConsumers, before + 1, `closed as a slow consumer after ${sent} ERROR frames`);
    t.match(
      h.engine.getRider(stuck.id),
      { ok: true, value: { connected: false } },
      'the engine starts its grace period',
    );
    socketOf(stuck.c).resume();
    const closed = await stuck.c.closed;
    t.equal(closed.code, CloseCode.SLOW_CONSUMER, 'the close frame fitted: the client reads 4008');
    t.equal(closed.reason, 'SLOW_CONSUMER');
    const errors = stuck.c.frames.filter((f) => f.type === Frame.ERROR).length;
    t.ok(errors > 0 && errors < sent, `every ERROR queued before the close arrived first (${errors})`);
  },
);

t.test('an OFFER that cannot be queued closes the socket; the offer comes again on the next connection', async (t) => {
  const rest = h.restaurant();
  const stuck = await onlineRider('stuck', near(200));
  const brisk = await onlineRider('brisk2', near(200));
  t.ok(h.engine.riderBreak(brisk.id).ok);

  const before = h.server.rider.stats.slowConsumers;
  socketOf(stuck.c).pause();
  await fillPastSoft(stuck);
  // The kernel buffers are full now: every further pong stays in uWS's buffer, until uWS drops them past HARD.
  for (let i = 0; i < Math.ceil((HARD * 1.5) / 127); i++) stuck.c.ws.ping(PING_PAYLOAD);
  t.ok(await barrier(stuck), 'still open');
  t.equal(h.server.rider.stats.slowConsumers, before, 'pongs past the limit are dropped by uWS, they close nothing');

  t.ok(h.engine.riderResume(brisk.id).ok);
  await servedNormally(t, brisk, rest);
  t.ok(h.engine.riderBreak(brisk.id).ok);

  const o = order(rest);
  t.match(h.engine.getOrder(o), { ok: true, value: { offer: { riderId: stuck.id } } }, 'offered to the stuck rider');
  t.equal(h.server.rider.stats.slowConsumers, before + 1, 'the OFFER could not be queued: closed as a slow consumer');
  t.match(
    h.engine.getRider(stuck.id),
    { ok: true, value: { connected: false, state: 'online.offered' } },
    'grace period; the offer stands',
  );

  socketOf(stuck.c).resume();
  // uWS's own pongs took the buffer past the limit, so even the close frame was dropped: the client may read 1006 here.
  const closed = await stuck.c.closed;
  t.ok(
    [CloseCode.SLOW_CONSUMER, 1006].includes(closed.code),
    `the client sees 4008, or 1006 when the close frame could not be queued (${closed.code})`,
  );
  t.notOk(
    stuck.c.frames.some((f) => f.type === Frame.OFFER && f.orderId === o),
    'the offer was never sent on the slow socket',
  );

  const again = connect(h.url, { token: stuck.token });
  await again.next(isWelcome);
  t.match(await again.next((f) => f.type === Frame.OFFER), { orderId: o }, 'the offer, on the next connection');
  again.send(encodeOrderCommand(Frame.ACCEPT, stuck.seq, o));
  t.match(await again.next((f) => f.type === Frame.ASSIGNED), { orderId: o }, 'accepted');
  t.ok(h.engine.cancelOrder({ orderId: o, by: 'admin' }).ok);
  again.ws.close();
  brisk.c.ws.close();
  await Promise.all([again.closed, brisk.c.closed]);
});
