import { randomBytes } from 'node:crypto';
import t from 'tap';
import type { RestaurantId } from '../../engine/index.js';
import { adminClient } from '../support/admin-client.js';
import { throwawayDatabase } from '../support/pg.js';
import { makeCast, startTestServer } from '../support/rest-server.js';

/** Operators' settings and drains outlive a restart: the next server applies the latest from the record. */

const CENTRE = { lat: 19.076, lng: 72.8777 };

t.test('settings, drains and shard policies are applied again after a restart', async (t) => {
  const env = {
    DATABASE_URL: await throwawayDatabase(t, 'adminrestart'),
    REDIS_URL: 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `t${process.pid}${randomBytes(3).toString('hex')}`,
  };
  const closers: (() => unknown)[] = [];
  const first = await startTestServer({ teardown: (fn) => closers.push(fn) }, { env });
  const cast = await makeCast(first.auth);
  const restaurantId = 'restart-rest' as RestaurantId;
  first.server.engine.registerRestaurant({ restaurantId, location: CENTRE, prepMinutes: 10, capacity: 10 });
  const shard = first.server.engine.shardOf('restaurant', restaurantId)!;
  const a = adminClient(first.server.admin!.port);
  await a.call('SetDispatchConfig', { offer_timeout_ms: 9_000, idle_weight: 0.25 }, cast.admin.token);
  await a.call('DrainShard', { shard, drained: true }, cast.admin.token);
  await a.call('SetShardPolicy', { shard, policy: 'batched' }, cast.admin.token);
  a.close();
  for (const c of closers.reverse()) await c();

  const second = await startTestServer(t, { env });
  const e = second.server.engine;
  t.equal(e.config.offerTimeoutMs, 9_000, 'the settings');
  t.equal(e.config.scoring.idleWeight, 0.25);
  t.match(
    e.shardStats().find((s) => s.shard === shard),
    { drained: true, policy: 'batched' },
    'the drain and the shard policy',
  );
  t.match(e.placeOrder({ customerId: 'c' as never, restaurantId, drop: CENTRE, paid: true }), {
    ok: false,
    code: 'SHARD_DRAINING',
  });
});
