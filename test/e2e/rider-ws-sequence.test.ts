/**
 * The top of the rider protocol's sequence space, over real sockets: a rider
 * that sent seq 4294967295 carries on at 1 (rider-sequence.ts), keeps working
 * and can ACCEPT an offer; old numbers stay duplicates across the wrap. Both
 * with raw frames and with the TS client, whose counter wraps the same way.
 */
import t from 'tap';
import {
  Frame,
  RiderClient,
  RiderStatusCode,
  SEQ_TOP,
  encodeOrderCommand,
  encodePing,
  encodePosition,
  encodeStatus,
  type CustomerId,
  type OrderId,
  type RiderId,
  type ServerFrame,
} from '../../protocol/index.js';
import { connect, near, nodeSocket, startHarness } from '../support/ws-harness.js';

const h = await startHarness(t);
const rest = h.restaurant();
const ackOf = (seq: number) => (f: ServerFrame) =>
  (f.type === Frame.ACK && f.lastSeq === seq) || (f.type === Frame.ERROR && f.seq === seq);

function order(): OrderId {
  const placed = h.engine.placeOrder({
    customerId: 'cust-seq' as CustomerId,
    restaurantId: rest,
    drop: near(2000, 0),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  const acc = h.engine.restaurantAccept(placed.value, { prepMinutes: 0 });
  if (!acc.ok) throw new Error(acc.detail);
  return placed.value;
}

t.test('raw frames: after 4294967295 comes 1; the rider accepts an offer', async (t) => {
  const u = await h.rider('seqtop');
  const id = u.riderId as RiderId;
  const c = connect(h.url, { token: u.token });
  await c.next((f) => f.type === Frame.WELCOME);
  c.send(encodeStatus(SEQ_TOP, RiderStatusCode.ONLINE));
  t.match(await c.next(ackOf(SEQ_TOP)), { type: Frame.ACK, lastSeq: SEQ_TOP }, 'the top seq is processed');
  c.send(encodePosition(1, { ...near(300), accuracy: 5, heading: NaN, speed: 0, at: h.clock.now() }));
  c.send(encodePing(1));
  await c.next((f) => f.type === Frame.PONG);
  t.match(
    h.engine.getRider(id),
    { ok: true, value: { state: 'online.idle', position: { at: h.clock.now() } } },
    'seq 1 after the top was applied',
  );

  const o = order();
  const offer = await c.next((f) => f.type === Frame.OFFER && f.orderId === o);
  t.ok(offer, 'the rider is offered the job');
  c.send(encodeOrderCommand(Frame.ACCEPT, 2, o));
  t.match(await c.next((f) => f.type === Frame.ASSIGNED), { orderId: o });
  t.match(await c.next(ackOf(2)), { type: Frame.ACK, lastSeq: 2 });
  t.match(h.engine.getOrder(o), { ok: true, value: { state: 'assigned' } });

  // Numbers from before the wrap are old now: answered with an ACK of where the server is, not applied.
  const before = c.frames.length;
  c.send(encodeStatus(SEQ_TOP - 5, RiderStatusCode.OFFLINE));
  c.send(encodePing(2));
  await c.next((f) => f.type === Frame.PONG && c.frames.indexOf(f) >= before);
  t.ok(
    c.frames.slice(before).some((f) => f.type === Frame.ACK && f.lastSeq === 2),
    'an old seq is acknowledged as a duplicate',
  );
  t.match(h.engine.getRider(id), { ok: true, value: { state: 'online.to_pickup' } }, 'and not applied');
  c.ws.close();
  await c.closed;

  const again = connect(h.url, { token: u.token });
  t.match(await again.next((f) => f.type === Frame.WELCOME), { lastSeq: 2 }, 'a reconnect resumes after the wrap');
  again.ws.close();
});

t.test('the rider client wraps its counter and keeps working through the top', async (t) => {
  const u = await h.rider('seqclient');
  const id = u.riderId as RiderId;
  const client = new RiderClient({
    url: h.url,
    getToken: () => u.token,
    socket: nodeSocket,
    random: () => 0.5,
    firstSeq: SEQ_TOP - 1,
  });
  client.start();
  t.teardown(() => client.stop());
  await client.waitFor((f) => f.type === Frame.WELCOME);
  client.setStatus(RiderStatusCode.ONLINE);
  client.sendPosition({ ...near(200), accuracy: 5, heading: NaN, speed: 0, at: h.clock.now() });
  await client.waitFor((f) => f.type === Frame.ACK && f.lastSeq === SEQ_TOP - 1);
  // waitFor sees frames from now on: wait before acting.
  const offered = client.waitFor((f) => f.type === Frame.OFFER);
  const o = order();
  t.match(await offered, { orderId: o });
  const assigned = client.waitFor((f) => f.type === Frame.ASSIGNED && f.orderId === o);
  const acked = client.waitFor((f) => f.type === Frame.ACK && f.lastSeq === 1);
  client.accept(o);
  await Promise.all([assigned, acked]);
  t.equal(client.lastAcked, 1, 'the ACK of seq 1 counts as newer than 4294967295');
  t.equal(client.unacked, 0, 'nothing left in the outbox');
  t.match(h.engine.getRider(id), { ok: true, value: { state: 'online.to_pickup' } });
  t.match(h.engine.getOrder(o), { ok: true, value: { state: 'assigned' } });
});
