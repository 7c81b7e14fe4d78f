/**
 * A rider that stops reading: droppable frames (pongs, acks) are skipped once
 * the socket's buffer passes the soft limit, an offer is still queued and
 * arrives when the client reads again, and a client that lets the buffer
 * reach the hard limit is closed as a slow consumer (4008) and disconnected
 * in the engine. The kernel buffers a few MB on loopback before uWS sees any
 * backpressure, so the test first fills them with pings.
 *
 * Not part of `npm test`: run it with `npm run test:stress`. Alone it passes;
 * inside the full parallel suite on 2 cores the slow socket was once dropped
 * with 1006 by the pinned uWS build (the unexplained drops in docs/streams.md),
 * and a test that fails by load is a flaky test, which CI must not carry.
 */
import t from 'tap';
import { CloseCode, Frame, RiderStatusCode, encodePing, encodePosition, encodeRaw, encodeStatus, type CustomerId, type RiderId, type ServerFrame } from '../../protocol/index.js';
import { connect, near, startHarness, type RawConn } from '../support/ws-harness.js';

const h = await startHarness(t, {
  limits: { framesPerSecond: 1e9, frameBurst: 1e9, softBackpressureBytes: 8 * 1024, maxBackpressureBytes: 64 * 1024 },
});
const isWelcome = (f: ServerFrame) => f.type === Frame.WELCOME;
const tick = () => new Promise((r) => setImmediate(r));
const PING = encodePing(1);

/** Sends pings without reading until the server starts skipping droppable frames. */
async function fillUntilDropping(c: RawConn): Promise<void> {
  const start = h.server.rider.stats.droppedFrames;
  for (let round = 0; round < 400 && h.server.rider.stats.droppedFrames === start; round++) {
    for (let i = 0; i < 10_000; i++) c.ws.send(PING);
    await new Promise((r) => setTimeout(r, 1));
  }
}

function pause(c: RawConn): void {
  (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
}
function resume(c: RawConn): void {
  (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
}

t.test('offers are queued for a client that stops reading; pongs are dropped', async (t) => {
  const rest = h.restaurant();
  const u = await h.rider('slow');
  const c = connect(h.url, { token: u.token });
  await c.next(isWelcome);
  c.send(encodeStatus(1, RiderStatusCode.ONLINE));
  c.send(encodePosition(2, { ...near(200), accuracy: 5, heading: NaN, speed: 0, at: h.clock.now() }));
  await c.next((f) => f.type === Frame.ACK && f.lastSeq >= 1);
  pause(c);
  await fillUntilDropping(c);
  t.ok(h.server.rider.stats.droppedFrames > 0, `droppable frames skipped: ${h.server.rider.stats.droppedFrames}`);

  // Another rider is served normally meanwhile.
  const other = await h.rider('brisk');
  const o2 = connect(h.url, { token: other.token });
  await o2.next(isWelcome);
  o2.ws.close();

  const placed = h.engine.placeOrder({ customerId: 'c-slow' as CustomerId, restaurantId: rest, drop: near(1500, 0), paid: true });
  if (!placed.ok) return t.fail(placed.detail);
  h.engine.restaurantAccept(placed.value, { prepMinutes: 0 });
  t.match(h.engine.getOrder(placed.value), { ok: true, value: { offer: { riderId: u.riderId } } }, 'offered to the slow rider');
  t.equal(h.server.rider.stats.slowConsumers, 0, 'the offer fitted under the hard limit');
  resume(c);
  t.match(await c.next((f) => f.type === Frame.OFFER, 20_000), { orderId: placed.value }, 'the offer arrives once the client reads');
  h.engine.cancelOrder({ orderId: placed.value, by: 'admin' });
  c.ws.close();
  await c.closed;
});

t.test('a client that lets must-deliver frames pile up is closed with 4008 and disconnected', async (t) => {
  const u = await h.rider('stuck');
  const c = connect(h.url, { token: u.token });
  await c.next(isWelcome);
  c.send(encodeStatus(1, RiderStatusCode.ONLINE));
  await c.next((f) => f.type === Frame.ACK);
  pause(c);
  await fillUntilDropping(c);
  // Each undecodable frame earns an ERROR frame, which is never dropped; a ping between keeps the socket from a 4006.
  const bad = encodeRaw([99, 1, 'x'.repeat(200)]);
  for (let i = 0; i < 2000 && h.server.rider.stats.slowConsumers === 0; i++) {
    c.ws.send(bad);
    c.ws.send(PING);
    if (i % 100 === 0) await tick();
  }
  await new Promise((r) => setTimeout(r, 50));
  t.equal(h.server.rider.stats.slowConsumers, 1, 'closed as a slow consumer');
  t.match(h.engine.getRider(u.riderId as RiderId), { ok: true, value: { connected: false } }, 'the engine starts its grace period');
  resume(c);
  // The close frame itself queues behind the backlog; when even it does not fit, uWS shuts the TCP
  // connection and the client reads 1006. Either way the socket is gone.
  t.ok([CloseCode.SLOW_CONSUMER, 1006].includes((await c.closed).code as 1006), 'the client sees 4008, or 1006 when the close frame could not be queued');
});
