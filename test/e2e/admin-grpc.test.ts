import { once } from 'node:events';
import { credentials, loadPackageDefinition, type GrpcObject, status, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { ADMIN_SERVICE } from '../../adapters/admin/admin-proto.js';
import { errorCodeOf } from '../../adapters/admin/grpc-errors.js';
import { checkInvariants, offsetM, type OrderId, type RestaurantId, type RiderId } from '../../engine/index.js';
import { until } from '../contracts/job-queue.contract.js';
import { adminClient, refusal, UNARY_METHODS } from '../support/admin-client.js';
import { makeCast, startTestServer } from '../support/rest-server.js';

/**
 * The admin service through a real grpc-js client against a running server
 * (Postgres, Redis, the Auth emulator): who may call, every method, the record
 * of actions, the event stream, reflection.
 */

const CENTRE = { lat: 19.076, lng: 72.8777 };

const ts = await startTestServer(t, { label: 'admin' });
const cast = await makeCast(ts.auth);
const admin = ts.server.admin!;
const client = adminClient(admin.port);
t.teardown(() => client.close());
const engine = ts.server.engine;

const restaurantId = 'admin-rest-1' as RestaurantId;
t.ok(engine.registerRestaurant({ restaurantId, location: CENTRE, prepMinutes: 10, capacity: 100 }).ok);
const rider = (id: string, metres: number): RiderId => {
  const r = id as RiderId;
  engine.registerRider({ riderId: r });
  engine.riderOnline(r);
  const p = offsetM(CENTRE.lat, CENTRE.lng, 90, metres);
  engine.updateRiderPosition(r, p.lat, p.lng, 5, NaN, 0, Date.now());
  return r;
};
const order = (accept = true): OrderId => {
  const placed = engine.placeOrder({
    customerId: cast.customer.uid as never,
    restaurantId,
    drop: offsetM(CENTRE.lat, CENTRE.lng, 0, 2000),
    paid: true,
  });
  if (!placed.ok) throw new Error(placed.detail);
  if (accept) engine.restaurantAccept(placed.value, { prepMinutes: 0 });
  return placed.value;
};

const token = cast.admin.token;
const valid: Record<string, Record<string, unknown>> = {
  ListRiders: {},
  GetRider: { rider_id: 'nobody' },
  ListOrders: {},
  GetOrder: { order_id: 'nothing' },
  ShardStats: {},
  GetDispatchConfig: {},
  ForceAssign: { order_id: 'x', rider_id: 'y' },
  Reassign: { order_id: 'x' },
  CancelOrder: { order_id: 'x', reason: 'test' },
  SetRestaurantStatus: { restaurant_id: restaurantId, status: 'busy' },
  ReviewRider: { rider_id: 'nobody', approve: true },
  DrainShard: { shard: 'x', drained: true },
  SetShardPolicy: { shard: 'x', policy: 'batched' },
  SetDispatchConfig: { max_ring: 3 },
};

async function streamRefusal(tok: string | undefined): Promise<{ code: number; errorCode: string | undefined }> {
  const call = client.stream({}, tok);
  call.on('data', () => {});
  const [err] = (await once(call, 'error')) as [ServiceError];
  return { code: err.code, errorCode: errorCodeOf(err) };
}

t.test('reflection lists the service', async (t) => {
  const require = createRequire(import.meta.url);
  const protoDir = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const def = loadSync(join(protoDir, 'grpc/reflection/v1/reflection.proto'), { keepCase: true });
  const v1 = (((loadPackageDefinition(def)['grpc'] as GrpcObject)['reflection'] as GrpcObject)['v1'] as GrpcObject)[
    'ServerReflection'
  ] as unknown as new (a: string, c: unknown) => { ServerReflectionInfo(): NodeJS.ReadWriteStream; close(): void };
  const reflection = new v1(`127.0.0.1:${admin.port}`, credentials.createInsecure());
  t.teardown(() => reflection.close());
  const call = reflection.ServerReflectionInfo() as unknown as NodeJS.ReadWriteStream & {
    write(m: unknown): void;
    end(): void;
  };
  call.write({ list_services: '' });
  const [res] = (await once(call, 'data')) as [{ list_services_response: { service: { name: string }[] } }];
  call.end();
  const names = res.list_services_response.service.map((s) => s.name);
  t.ok(names.includes(ADMIN_SERVICE), `listed: ${names.join(', ')}`);
});

t.test('no token: UNAUTHENTICATED on every method', async (t) => {
  for (const m of UNARY_METHODS) {
    const r = await refusal(client.call(m, valid[m]));
    t.match(r, { code: status.UNAUTHENTICATED, errorCode: 'AUTH_TOKEN_MISSING' }, m);
  }
  t.match(await streamRefusal(undefined), { code: status.UNAUTHENTICATED, errorCode: 'AUTH_TOKEN_MISSING' });
  t.match(await refusal(client.call('ShardStats', {}, 'not-a-token')), { code: status.UNAUTHENTICATED });
});

t.test('every non-admin role: PERMISSION_DENIED on every method', async (t) => {
  for (const who of ['customer', 'restaurant', 'rider'] as const) {
    for (const m of UNARY_METHODS) {
      const r = await refusal(client.call(m, valid[m], cast[who].token));
      t.match(r, { code: status.PERMISSION_DENIED, errorCode: 'AUTH_ROLE_FORBIDDEN' }, `${who} ${m}`);
    }
    t.match(
      await streamRefusal(cast[who].token),
      { code: status.PERMISSION_DENIED, errorCode: 'AUTH_ROLE_FORBIDDEN' },
      `${who} StreamEvents`,
    );
  }
  t.match(engine.getRestaurant(restaurantId), { ok: true, value: { state: 'open' } }, 'nothing changed');
});

t.test('reads', async (t) => {
  const a = rider('adm-a', 200);
  rider('adm-b', 900);
  const riders = await client.call('ListRiders', { state: 'online', page_size: 1 }, token);
  t.equal(riders['riders'].length, 1);
  t.equal(riders['riders'][0].id, 'adm-a');
  t.equal(riders['next_page_token'], 'adm-a');
  const next = await client.call('ListRiders', { state: 'online', page_token: 'adm-a' }, token);
  t.same(
    next['riders'].map((r: { id: string }) => r.id),
    ['adm-b'],
  );
  const near = await client.call('ListRiders', { area: { center: CENTRE, radius_m: 500 } }, token);
  t.same(
    near['riders'].map((r: { id: string }) => r.id),
    ['adm-a'],
  );
  const one = await client.call('GetRider', { rider_id: a }, token);
  t.match(one, { id: a, state: 'online.idle', connected: true, available: true });
  t.ok(one['shard'].length > 0 && one['position'].lat > 19);
  t.match(await refusal(client.call('GetRider', { rider_id: 'nobody' }, token)), {
    code: status.NOT_FOUND,
    errorCode: 'RIDER_NOT_FOUND',
    details: /^RIDER_NOT_FOUND: /,
  });

  const o = order();
  const list = await client.call('ListOrders', { state: 'dispatching', restaurant_id: restaurantId }, token);
  t.ok(list['orders'].some((x: { id: string }) => x.id === o));
  const stats = await client.call('ShardStats', {}, token);
  t.ok(stats['shards'].length >= 1);
  t.ok(stats['shards'].some((s: { orders_live: number }) => s.orders_live >= 1));

  // The history is what storage holds: it follows the write-behind.
  let detail: Record<string, any> = {};
  for (let i = 0; i < 100; i++) {
    detail = await client.call('GetOrder', { order_id: o }, token);
    if (detail['history'].some((e: { type: string }) => e.type === 'order_offered')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(detail['order'].id, o);
  t.same(
    detail['history'].slice(0, 3).map((e: { type: string }) => e.type),
    ['order_placed', 'order_accepted', 'order_dispatchable'],
  );
  t.equal(JSON.parse(detail['history'][0].json).restaurantId, restaurantId);
  const decision = detail['decisions'][0];
  t.match(decision, { why: 'best_score', chosen: detail['order'].offer_rider_id || detail['order'].rider_id });
  t.ok(decision.candidates.length >= 1 && decision.candidates[0].rider_id === decision.chosen, 'the winner first');
  const offered = detail['history'].find((e: { type: string }) => e.type === 'order_offered');
  t.equal(JSON.parse(offered.json).trace.chosen, decision.chosen, 'the same decision is stored with the event');
  t.match(await refusal(client.call('GetOrder', { order_id: 'nothing' }, token)), { code: status.NOT_FOUND });
  t.match(await refusal(client.call('GetOrder', {}, token)), { code: status.INVALID_ARGUMENT });
});

t.test('force-assign and reassign keep the invariants; each action is recorded with who made it', async (t) => {
  const x = rider('adm-x', 300);
  const y = rider('adm-y', 1500);
  const o = order();
  const offered = engine.getOrder(o);
  t.match(offered, { ok: true, value: { state: 'dispatching.offered' } });
  const to = offered.ok && offered.value.riderId === x ? y : x;
  const assigned = await client.call('ForceAssign', { order_id: o, rider_id: to }, token);
  t.match(assigned, { id: o, state: 'assigned', rider_id: to });
  t.same(checkInvariants(engine), []);
  const other = to === x ? y : x;
  const moved = await client.call('Reassign', { order_id: o, rider_id: other }, token);
  t.match(moved, { state: 'assigned', rider_id: other });
  t.same(checkInvariants(engine), []);
  t.match(engine.getRider(to), { ok: true, value: { state: 'online.idle', orderId: null } });
  t.match(await refusal(client.call('Reassign', { order_id: o, rider_id: other }, token)), {
    code: status.INVALID_ARGUMENT,
    errorCode: 'INVALID_ARGUMENT',
  });
  t.match(await refusal(client.call('ForceAssign', { order_id: o, rider_id: to }, token)), {
    code: status.FAILED_PRECONDITION,
    errorCode: 'ORDER_INVALID_TRANSITION',
  });

  t.match(await refusal(client.call('CancelOrder', { order_id: o }, token)), { code: status.INVALID_ARGUMENT });
  const cancelled = await client.call('CancelOrder', { order_id: o, reason: 'customer called support' }, token);
  t.match(cancelled, { state: 'cancelled' });
  t.same(checkInvariants(engine), []);

  const db = new pg.Client({ connectionString: ts.databaseUrl });
  await db.connect();
  t.teardown(() => db.end());
  const { rows } = await db.query<{
    admin_uid: string;
    admin_email: string;
    method: string;
    ok: boolean;
    code: string;
  }>(`SELECT admin_uid, admin_email, method, ok, code FROM admin_actions ORDER BY id`);
  const mine = rows.filter((r) => ['ForceAssign', 'Reassign', 'CancelOrder'].includes(r.method));
  t.same(
    mine.map((r) => [r.method, r.ok, r.code]),
    [
      ['ForceAssign', true, null],
      ['Reassign', true, null],
      ['Reassign', false, 'INVALID_ARGUMENT'],
      ['ForceAssign', false, 'ORDER_INVALID_TRANSITION'],
      ['CancelOrder', false, 'INVALID_ARGUMENT'],
      ['CancelOrder', true, null],
    ],
  );
  t.ok(mine.every((r) => r.admin_uid === cast.admin.uid && r.admin_email === cast.admin.email));
  t.notOk(
    rows.some((r) => r.admin_uid !== cast.admin.uid),
    'refused callers are not admins: nothing of theirs ran, nothing recorded under them',
  );
  // Events reach Postgres behind the answer (write-behind): wait for the writer, not for luck.
  const cancelledEvent = async () =>
    (
      await db.query<{ body: { by: string; reason: string } }>(
        `SELECT body FROM engine_events WHERE aggregate = 'order' AND aggregate_id = $1 AND type = 'order_cancelled'`,
        [o],
      )
    ).rows[0]?.body;
  let body: { by: string; reason: string } | undefined;
  await until(async () => (body = await cancelledEvent()) !== undefined, 10_000, 50);
  t.match(body, { by: 'admin', reason: 'customer called support' });
});

t.test('restaurant status, drain, dispatch settings', async (t) => {
  t.match(await client.call('SetRestaurantStatus', { restaurant_id: restaurantId, status: 'busy' }, token), {
    id: restaurantId,
    state: 'busy',
  });
  t.match(
    await refusal(client.call('SetRestaurantStatus', { restaurant_id: restaurantId, status: 'on fire' }, token)),
    {
      code: status.INVALID_ARGUMENT,
    },
  );
  await client.call('SetRestaurantStatus', { restaurant_id: restaurantId, status: 'open' }, token);

  const shard = engine.shardOf('restaurant', restaurantId)!;
  t.match(await client.call('DrainShard', { shard, drained: true }, token), { shard, drained: true });
  t.match(engine.placeOrder({ customerId: 'c' as never, restaurantId, drop: CENTRE, paid: true }), {
    ok: false,
    code: 'SHARD_DRAINING',
  });
  t.match(await client.call('DrainShard', { shard, drained: false }, token), { shard, drained: false });
  t.match(await refusal(client.call('DrainShard', { shard: 'nope', drained: true }, token)), {
    code: status.INVALID_ARGUMENT,
  });

  t.match(await client.call('SetShardPolicy', { shard, policy: 'batched' }, token), { shard, policy: 'batched' });
  const waiting = order();
  t.match(engine.getOrder(waiting), { ok: true, value: { state: 'dispatching.searching' } }, 'waits for its batch');
  t.match(
    (await client.call('ShardStats', {}, token))['shards'].find((s: { shard: string }) => s.shard === shard),
    { policy: 'batched' },
    'ShardStats shows the policy',
  );
  t.match(await client.call('SetShardPolicy', { shard, policy: 'default' }, token), { shard, policy: 'greedy' });
  t.match(await refusal(client.call('SetShardPolicy', { shard, policy: 'fastest' }, token)), {
    code: status.INVALID_ARGUMENT,
    details: /greedy, batched, default/,
  });
  t.match(await refusal(client.call('SetShardPolicy', { shard }, token)), {
    code: status.INVALID_ARGUMENT,
    details: /policy required/,
  });
  engine.cancelOrder({ orderId: waiting, by: 'admin' });

  const before = await client.call('GetDispatchConfig', {}, token);
  t.equal(before['max_ring'], engine.config.maxRing);
  const after = await client.call('SetDispatchConfig', { offer_timeout_ms: 7_000, heading_penalty_s: 12.5 }, token);
  t.match(after, { offer_timeout_ms: 7_000, max_ring: before['max_ring'], scoring: { heading_penalty_s: 12.5 } });
  t.equal(engine.config.offerTimeoutMs, 7_000, 'effective at once');
  const bad = await refusal(client.call('SetDispatchConfig', { max_ring: 1000 }, token));
  t.match(bad, { code: status.INVALID_ARGUMENT, errorCode: 'INVALID_ARGUMENT', details: /maxRing/ });
  t.equal(engine.config.offerTimeoutMs, 7_000, 'a refused change changes nothing');
});

t.test('StreamEvents: filtered, and a cancelled stream frees its watcher', async (t) => {
  const base = admin.streams();
  const call = client.stream({ aggregate: 'order', types: ['order_placed', 'order_cancelled'] }, token);
  const got: { type: string; id: string }[] = [];
  call.on('data', (m: { type: string; id: string }) => got.push(m));
  call.on('error', () => {});
  await once(call, 'metadata');
  t.equal(admin.streams(), base + 1);
  rider('adm-s', 400);
  const o = order(false);
  engine.cancelOrder({ orderId: o, by: 'admin', reason: 'stream test' });
  for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(
    got.filter((m) => m.id === o).map((m) => m.type),
    ['order_placed', 'order_cancelled'],
  );
  t.ok(got.every((m) => m.type === 'order_placed' || m.type === 'order_cancelled'));
  call.cancel();
  for (let i = 0; i < 50 && admin.streams() > base; i++) await new Promise((r) => setTimeout(r, 20));
  t.equal(admin.streams(), base, 'the watcher is gone');

  const badFilter = client.stream({ aggregate: 'planet' }, token);
  const [err] = (await once(badFilter, 'error')) as [ServiceError];
  t.equal(err.code, status.INVALID_ARGUMENT);
  t.equal(admin.streams(), base);
});
