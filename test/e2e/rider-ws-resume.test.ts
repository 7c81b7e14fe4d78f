/**
 * A rider's resume point outlives the server that took its frames: two rider
 * gateways share one Redis store (a prefix of this test's own), as two
 * servers, or one restarted, would. A rider that sent frames to one is
 * welcomed by the other with the seq it reached, and what it sends again is a
 * duplicate. With the store down or silent, a rider still connects, from the
 * server's own memory.
 */
import { Redis } from 'ioredis';
import t from 'tap';
import { RedisRiderResume, type RiderResumeStore } from '../../adapters/ws/rider-resume.js';
import { startWsServer, type WsServer } from '../../adapters/ws/ws-server.js';
import {
  Frame,
  RIDER_PATH,
  RiderStatusCode,
  encodePing,
  encodePosition,
  encodeStatus,
  type RiderId,
  type ServerFrame,
} from '../../protocol/index.js';
import { SHARED_REDIS, freePort } from '../support/redis-server.js';
import { connect, near, startHarness } from '../support/ws-harness.js';

const redis = new Redis({ ...SHARED_REDIS, maxRetriesPerRequest: 1 });
const prefix = `test:rider-ws-resume:${process.pid}:${Date.now()}`;
const store = new RedisRiderResume(redis, { prefix });
t.teardown(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const a = await startHarness(t, { resume: store });
const errors: string[] = [];
/** Another server on the same engine, as a second process (or a restarted one) would be, with its own memory. */
async function server(resume: RiderResumeStore): Promise<{ server: WsServer; url: string }> {
  const s = await startWsServer({
    engine: a.engine,
    identity: a.identity,
    clock: a.clock,
    port: 0,
    resume,
    logger: { error: (m) => errors.push(m) },
  });
  t.teardown(() => s.close());
  return { server: s, url: `ws://127.0.0.1:${s.port}${RIDER_PATH}` };
}
const b = await server(store);

const ackOf = (seq: number) => (f: ServerFrame) => f.type === Frame.ACK && f.lastSeq === seq;
const position = (seq: number) =>
  encodePosition(seq, { ...near(300), accuracy: 5, heading: NaN, speed: 0, at: a.clock.now() });
/** Waits until the store holds `seq` for the rider (writes are asynchronous). */
async function stored(id: RiderId, seq: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const v = await store.load(id);
    if (v === seq) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  return store.load(id);
}

t.test('a rider moves to another server and resumes where it was', async (t) => {
  const u = await a.rider('mover');
  const id = u.riderId as RiderId;
  const first = connect(a.url, { token: u.token });
  t.match(await first.next((f) => f.type === Frame.WELCOME), { lastSeq: 0 });
  first.send(encodeStatus(1, RiderStatusCode.ONLINE));
  await first.next(ackOf(1));
  t.equal(await stored(id, 1), 1, 'a control frame is stored when answered, before any flush');
  for (let seq = 2; seq <= 6; seq++) first.send(position(seq));
  first.send(encodePing(1));
  await first.next((f) => f.type === Frame.PONG);
  t.equal(await store.load(id), 1, 'positions wait for the flush');
  a.clock.advance(1_000);
  t.equal(await stored(id, 6), 6, 'the flush stores the positions’ seq');
  first.ws.close();
  await first.closed;

  const moved = connect(b.url, { token: u.token });
  t.match(await moved.next((f) => f.type === Frame.WELCOME), { lastSeq: 6 }, 'the other server welcomes it at seq 6');
  moved.send(position(5));
  t.match(await moved.next(ackOf(6)), { lastSeq: 6 }, 'a frame sent again is a duplicate there');
  moved.send(encodeStatus(7, RiderStatusCode.ONLINE));
  await moved.next(ackOf(7));
  t.equal(await stored(id, 7), 7);
  moved.ws.close();
  await moved.closed;

  const back = connect(a.url, { token: u.token });
  t.match(
    await back.next((f) => f.type === Frame.WELCOME),
    { lastSeq: 7 },
    'back on the first server, the stored seq is newer than its own',
  );
  back.ws.close();
  await back.closed;
});

t.test('with the store down or silent, a rider connects from the server’s own memory', async (t) => {
  const dead = new Redis({
    port: await freePort(),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  dead.on('error', () => undefined);
  t.teardown(() => dead.disconnect());
  const silent: RiderResumeStore = {
    load: () => new Promise(() => undefined),
    save: () => new Promise(() => undefined),
  };
  for (const [label, s] of [
    ['down', new RedisRiderResume(dead, { prefix })],
    ['silent', silent],
  ] as const) {
    const c = await server(s);
    const u = await a.rider(label);
    const id = u.riderId as RiderId;
    errors.length = 0;
    const first = connect(c.url, { token: u.token });
    t.match(await first.next((f) => f.type === Frame.WELCOME), { lastSeq: 0 }, `${label}: the rider connects`);
    first.send(encodeStatus(1, RiderStatusCode.ONLINE));
    await first.next(ackOf(1));
    t.match(a.engine.getRider(id), { ok: true, value: { state: 'online.idle' } }, `${label}: its frames are applied`);
    first.ws.close();
    await first.closed;
    const again = connect(c.url, { token: u.token });
    t.match(await again.next((f) => f.type === Frame.WELCOME), { lastSeq: 1 }, `${label}: it resumes from memory`);
    again.ws.close();
    await again.closed;
    t.ok(
      errors.some((m) => m.includes('resume point unreadable')),
      `${label}: the ${label === 'down' ? 'failure' : 'timeout'} is logged`,
    );
  }
});
