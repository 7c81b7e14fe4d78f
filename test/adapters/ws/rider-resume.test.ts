/**
 * RedisRiderResume against the suites' real Redis (a prefix of its own):
 * what is saved is loaded, with a day's expiry; a flush of many riders is one
 * script call per thousand; a Redis that has not seen the script is sent it; a
 * missing or unreadable entry reads as 0; a Redis that is down fails the call
 * rather than hang.
 */
import { Redis } from 'ioredis';
import t from 'tap';
import { RedisRiderResume, SAVE_CHUNK } from '../../../adapters/ws/rider-resume.js';
import { SEQ_TOP, type RiderId } from '../../../protocol/index.js';
import { SHARED_REDIS, freePort, startRedis } from '../../support/redis-server.js';

const redis = new Redis({ ...SHARED_REDIS, maxRetriesPerRequest: 1 });
const prefix = `test:rider-seq:${process.pid}:${Date.now()}`;
const store = new RedisRiderResume(redis, { prefix, ttlS: 3_600 });
const rider = (n: number) => `resume-${n}` as RiderId;

t.test('saved seqs are loaded, several in one call, each expiring', async (t) => {
  await store.save([
    [rider(1), 7],
    [rider(2), SEQ_TOP],
  ]);
  t.equal(await store.load(rider(1)), 7);
  t.equal(await store.load(rider(2)), SEQ_TOP, 'the top of the ring survives');
  const ttl = await redis.ttl(`${prefix}:${rider(1)}`);
  t.ok(ttl > 3_500 && ttl <= 3_600, `the entry expires after ttlS (ttl ${ttl})`);
  await store.save([[rider(1), 9]]);
  t.equal(await store.load(rider(1)), 9, 'a later save replaces the seq');
  await store.save([]);
});

t.test('a flush of many riders is one script call per thousand, and stores every one', async (t) => {
  const n = 2 * SAVE_CHUNK + 500;
  const sent: string[] = [];
  const counting = new Redis({ ...SHARED_REDIS, maxRetriesPerRequest: 1 });
  t.teardown(() => counting.disconnect());
  await counting.ping();
  const send = counting.sendCommand.bind(counting);
  counting.sendCommand = (command, stream) => {
    sent.push(command.name);
    return send(command, stream);
  };
  const many = new RedisRiderResume(counting, { prefix, ttlS: 3_600 });
  await many.save(Array.from({ length: n }, (_, i) => [rider(1_000 + i), i + 1] as const));
  t.same(
    sent.filter((c) => c !== 'eval'),
    ['evalsha', 'evalsha', 'evalsha'],
    `${n} riders: three calls (with the script's text once more if this Redis had not seen it)`,
  );
  const stored = await redis.mget(Array.from({ length: n }, (_, i) => `${prefix}:${rider(1_000 + i)}`));
  t.ok(
    stored.every((v, i) => v === String(i + 1)),
    'every rider has its own seq',
  );
  const ttl = await redis.ttl(`${prefix}:${rider(1_000 + n - 1)}`);
  t.ok(ttl > 3_500 && ttl <= 3_600, `the last chunk's entries expire too (ttl ${ttl})`);
});

t.test('a Redis that has not seen the script (a fresh or flushed one) is sent its text', async (t) => {
  const own = await startRedis(t);
  const fresh = new Redis({ host: own.host, port: own.port, maxRetriesPerRequest: 1 });
  t.teardown(() => fresh.disconnect());
  await fresh.script('FLUSH');
  const store = new RedisRiderResume(fresh, { prefix: 'fresh' });
  await store.save([[rider(1), 5]]);
  t.equal(await store.load(rider(1)), 5);
  await fresh.script('FLUSH');
  await store.save([[rider(1), 6]]);
  t.equal(await store.load(rider(1)), 6, 'and again after a flush');
});

t.test('a rider never stored, or an entry that is not a seq, reads as 0', async (t) => {
  t.equal(await store.load(rider(99)), 0);
  for (const junk of ['-1', 'x', '1.5', String(SEQ_TOP + 1)]) {
    await redis.set(`${prefix}:${rider(3)}`, junk);
    t.equal(await store.load(rider(3)), 0, `'${junk}' reads as 0`);
  }
});

t.test('with Redis down, load and save fail at once', async (t) => {
  const dead = new Redis({
    port: await freePort(),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  dead.on('error', () => undefined);
  t.teardown(() => dead.disconnect());
  const down = new RedisRiderResume(dead, { prefix });
  await t.rejects(down.load(rider(1)));
  await t.rejects(down.save([[rider(1), 1]]));
});

t.teardown(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});
