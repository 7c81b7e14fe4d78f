/**
 * RedisRiderResume against the suites' real Redis (a prefix of its own):
 * what is saved is loaded, with a day's expiry; a missing or unreadable
 * entry reads as 0; a Redis that is down fails the call rather than hang.
 */
import { Redis } from 'ioredis';
import t from 'tap';
import { RedisRiderResume } from '../../../adapters/ws/rider-resume.js';
import { SEQ_TOP, type RiderId } from '../../../protocol/index.js';
import { SHARED_REDIS, freePort } from '../../support/redis-server.js';

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
