import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteApp, initializeApp } from 'firebase-admin/app';
import { getAuth } from 'firebase-admin/auth';
import t from 'tap';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import {
  balanced,
  type EngineProcess,
  insidePartition,
  ownerOf as ownerIn,
  spawnEngine,
  writeLocalMap,
} from '../../bench/cluster/engines.js';
import { offsetM, type PartitionMap } from '../../engine/index.js';
import { cellToLatLng, gridDisk, latLngToCell } from 'h3-js';
import { Frame, RIDER_PATH, RiderClient } from '../../protocol/index.js';
import { until } from '../contracts/job-queue.contract.js';
import { adminClient } from '../support/admin-client.js';
import { useAuthEmulator } from '../support/firebase-emulator.js';
import { makeUser, type TestUser } from '../support/firebase-users.js';
import { leaseBucket, natsConnection, SHARED_NATS } from '../support/nats.js';
import { throwawayDatabase } from '../support/pg.js';
import { storedHistory } from '../support/stored-history.js';
import { SHARED_REDIS } from '../support/redis-server.js';
import { seed } from '../support/rest-server.js';
import { type ServerProcess, spawnServer } from '../support/server-process.js';
import { nodeSocket } from '../support/ws-harness.js';

/**
 * Issue 20's gateways, across real processes: three engine processes own
 * three partitions, and two gateways (`npm start -- --role gateway`) serve the
 * seed's REST API, rider sockets and admin service in front of them. A client
 * may use either gateway for any step: restaurants, riders and orders are made
 * through one and read or moved through the other; a rider on one gateway's
 * socket takes the offer of an order placed through the other. An order on a
 * border borrows a rider from the neighbouring partition; a rider riding into
 * another partition is handed over to it; a shard drained through one
 * gateway's admin service refuses orders placed through the other. Then the
 * owner of the riders' partition is killed -9: the gateways answer 503
 * NO_PARTITION_OWNER until another engine owns it, which keeps the drain, and
 * the next order is placed, offered and taken through them.
 */

const TTL = 2_000;
/** Judged dead within two renewals, the lease lapsed at TTL, a claim round, the rebuild, and room for this machine. */
const FAILOVER_BOUND_MS = TTL + 2 * Math.floor(TTL / 3) + 3_500;

t.setTimeout(240_000);

interface Answer {
  status: number;
  body: any;
}

t.test(
  'two gateways in front of three engine processes: any gateway serves any client, through a failover',
  async (t) => {
    const url = await throwawayDatabase(t, 'cluster_gateway');
    const nc = await natsConnection(t);
    const bucket = await leaseBucket(t, nc, TTL);
    const emu = await useAuthEmulator(t);
    const dir = await mkdtemp(join(tmpdir(), 'gateway-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const mapFile = join(dir, 'partitions.json');
    const map = await writeLocalMap(mapFile, 3);
    const prefix = `tgw${randomBytes(4).toString('hex')}`;
    const env = {
      NODE_ENV: 'test',
      DATABASE_URL: url,
      DATABASE_MAX_CONNECTIONS: '4',
      REDIS_URL: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}`,
      QUEUE_PREFIX: prefix,
      NATS_URL: SHARED_NATS,
      CLUSTER_PREFIX: prefix,
      LEASE_BUCKET: bucket.name,
      LEASE_TTL_MS: String(TTL),
      // The write-behind jobs a killed process's worker held (any partition's) come back once their lock lapses
      // and the stalled check runs: QUEUE_LOCK_MS plus as much again (docs/scale.md, "Failover"), not a minute.
      QUEUE_LOCK_MS: '3000',
      PARTITION_MAP: mapFile,
      LOG_FORMAT: 'json',
      FIREBASE_AUTH_EMULATOR_HOST: emu.host,
      FIREBASE_PROJECT_ID: emu.projectId,
    };
    const engines: EngineProcess[] = [];
    t.teardown(async () => {
      for (const e of engines) e.child.kill('SIGKILL');
      await Promise.all(engines.map((e) => e.exited));
    });
    engines.push(...(await Promise.all([spawnEngine(env), spawnEngine(env), spawnEngine(env)])));
    await balanced(bucket, engines, map.ids);
    const gatewayEnv = {
      ...env,
      SERVER_HOST: '127.0.0.1',
      SERVER_PORT: '0',
      ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      REST_RATE_PER_S: '100000',
      REST_RATE_BURST: '100000',
    };
    const [gwA, gwB] = await Promise.all([
      spawnServer(t, gatewayEnv, { args: ['--role', 'gateway'] }),
      spawnServer(t, gatewayEnv, { args: ['--role', 'gateway'] }),
    ]);
    t.match(gwA.log(), /"service":"gateway"/, 'the gateway logs as a gateway');
    t.match(gwA.log(), /gateway: 3 partitions/, 'and names its partitions');

    process.env['FIREBASE_AUTH_EMULATOR_HOST'] = emu.host;
    const app = initializeApp({ projectId: emu.projectId }, `gateway-${randomUUID()}`);
    t.teardown(() => deleteApp(app));
    const auth = getAuth(app);
    const shopIds = [randomUUID(), randomUUID(), randomUUID()];
    const riderIds = [randomUUID(), randomUUID(), randomUUID()];
    const [admin, customer, ...rest] = await Promise.all([
      makeUser(auth, { label: 'admin', claims: { role: 'admin' } }),
      makeUser(auth, { label: 'customer' }),
      ...shopIds.map((id) =>
        makeUser(auth, { label: 'restaurant', claims: { role: 'restaurant', restaurant_id: id } }),
      ),
      ...riderIds.map((id) => makeUser(auth, { label: 'rider', claims: { role: 'rider', rider_id: id } })),
    ]);
    const owners = rest.slice(0, 3);
    const riderUsers = rest.slice(3);

    const call = async (
      gw: ServerProcess,
      method: string,
      path: string,
      who: TestUser,
      body?: unknown,
    ): Promise<Answer> => {
      const res = await fetch(`${gw.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${who.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    const must = async (want: number, a: Promise<Answer>, what: string): Promise<any> => {
      const r = await a;
      if (r.status !== want) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };

    // ─── A restaurant in each partition, one made through each gateway ───────────
    const shops: { id: string; item: string; at: { lat: number; lng: number } }[] = [];
    for (const [i, p] of map.ids.slice(0, 2).entries()) {
      const gw = i === 0 ? gwA : gwB;
      const at = insidePartition(map, p);
      const r = await must(
        201,
        call(gw, 'POST', '/restaurants', owners[i]!, {
          ...seed.restaurant,
          name: `Kitchen ${p}`,
          address: { ...seed.restaurant.address, latitude: at.lat, longitude: at.lng },
        }),
        `POST /restaurants in ${p}`,
      );
      t.equal(r.id, shopIds[i], `restaurant of ${p} made through gateway ${i === 0 ? 'A' : 'B'}`);
      const m = await must(
        200,
        call(gw === gwA ? gwB : gwA, 'PUT', `/restaurants/${r.id}/menu`, owners[i]!, seed.menu),
        'menu',
      );
      const item = (m.categories[0].items as { name: string; id: string }[]).find(
        (x) => x.name === 'Butter Chicken',
      )!.id;
      shops.push({ id: r.id, item, at });
    }
    // A third restaurant in the second partition, a few hundred metres from the first partition's cells.
    const border = borderPoints(map);
    {
      const r = await must(
        201,
        call(gwA, 'POST', '/restaurants', owners[2]!, {
          ...seed.restaurant,
          name: 'Kitchen on the border',
          address: { ...seed.restaurant.address, latitude: border.inner.lat, longitude: border.inner.lng },
        }),
        'POST /restaurants on the border',
      );
      const m = await must(200, call(gwB, 'PUT', `/restaurants/${r.id}/menu`, owners[2]!, seed.menu), 'menu');
      const item = (m.categories[0].items as { name: string; id: string }[]).find(
        (x) => x.name === 'Butter Chicken',
      )!.id;
      shops.push({ id: r.id, item, at: border.inner });
    }
    const other = await must(200, call(gwA, 'GET', `/restaurants/${shopIds[1]}`, admin), 'GET the other restaurant');
    t.equal(other.id, shopIds[1], 'gateway A reads the restaurant gateway B made, in the other partition');

    const db = serverDatabase(url, { max: 1 });
    t.teardown(() => db.close());

    // ─── Riders: registered through B, on A's sockets, near the first restaurant ─
    const assigned = new Map<string, string[]>();
    const assignedAt = new Map<string, number>();
    const riders = riderUsers.map((user, i) => {
      const id = riderIds[i]!;
      const at = offsetM(shops[0]!.at.lat, shops[0]!.at.lng, i * 120, 300 + 100 * i);
      const state = { id, user, at, ready: false, client: undefined as unknown as RiderClient };
      state.client = new RiderClient({
        url: RIDER_PATH,
        getToken: () => user.token,
        random: () => 0.5,
        socket: (path, protocols, token) => nodeSocket(`ws://127.0.0.1:${gwA.port}${path}`, protocols, token),
        backoff: { initialMs: 50, maxMs: 400 },
        onFrame: (f) => {
          if (f.type === Frame.WELCOME) {
            state.client.sendPosition({
              lat: at.lat,
              lng: at.lng,
              accuracy: 5,
              heading: NaN,
              speed: 0,
              at: Date.now(),
            });
            state.client.ping();
          } else if (f.type === Frame.PONG) state.ready = true;
          else if (f.type === Frame.OFFER) state.client.accept(f.orderId);
          else if (f.type === Frame.ASSIGNED) {
            assigned.set(f.orderId, [...(assigned.get(f.orderId) ?? []), id]);
            if (!assignedAt.has(f.orderId)) assignedAt.set(f.orderId, Date.now());
          }
        },
      });
      return state;
    });
    for (const r of riders) {
      await must(201, call(gwB, 'POST', '/delivery-persons', r.user, seed.deliveryPerson), 'register rider');
      await must(200, call(gwB, 'PUT', '/delivery-persons/status', r.user, { status: 'online' }), 'rider online');
      await must(
        200,
        call(gwB, 'PUT', '/delivery-persons/location', r.user, {
          ...seed.location,
          latitude: r.at.lat,
          longitude: r.at.lng,
        }),
        'rider location',
      );
    }
    t.teardown(() => {
      for (const r of riders) r.client.stop();
    });
    for (const r of riders) r.client.start();
    await until(async () => riders.every((r) => r.ready), 15_000, 50);
    // Positions keep coming, as an app sends them: a rebuilt partition matches a rider from its next fix.
    const positions = setInterval(() => {
      for (const r of riders)
        if (r.ready)
          r.client.sendPosition({ lat: r.at.lat, lng: r.at.lng, accuracy: 5, heading: NaN, speed: 0, at: Date.now() });
    }, 400);
    t.teardown(() => clearInterval(positions));

    const order = (gw: ServerProcess, shop: (typeof shops)[number]) =>
      call(
        gw,
        'POST',
        '/orders',
        customer,
        (() => {
          const body = seed.order(shop.id, [{ menu_item_id: shop.item, quantity: 1 }]);
          const drop = offsetM(shop.at.lat, shop.at.lng, 45, 1_500);
          return {
            ...body,
            delivery_address: { ...body.delivery_address, latitude: drop.lat, longitude: drop.lng },
            payment_method: { type: 'CASH' },
          };
        })(),
      );
    /** Placed through `via`, confirmed through the other gateway, taken by a rider on A's sockets, carried to delivered. */
    /** Per order, ms from sending the restaurant's confirmation to the rider's ASSIGNED frame. */
    const toAssigned = new Map<string, number>();
    const carry = async (via: ServerProcess, label: string, id: string, owner = owners[0]!) => {
      const back = via === gwA ? gwB : gwA;
      const confirmAt = Date.now();
      await must(
        200,
        call(back, 'PUT', `/orders/${id}/status`, owner, { status: 'confirmed', estimated_preparation_time: 0 }),
        `${label}: confirm`,
      );
      await until(async () => assigned.has(id), 20_000, 20);
      toAssigned.set(id, assignedAt.get(id)! - confirmAt);
      const rider = riders.find((r) => r.id === assigned.get(id)![0])!;
      const seen = await must(200, call(back, 'GET', `/orders/${id}`, admin), `${label}: GET`);
      t.equal(seen.delivery_person_id, rider.id, `${label}: the other gateway reads the rider its socket never saw`);
      await must(
        200,
        call(via, 'PUT', `/orders/${id}/status`, rider.user, { status: 'picked_up' }),
        `${label}: picked up`,
      );
      await must(
        200,
        call(back, 'PUT', `/orders/${id}/status`, rider.user, { status: 'delivered' }),
        `${label}: delivered`,
      );
      const done = await must(200, call(via, 'GET', `/orders/${id}`, customer), `${label}: GET delivered`);
      t.equal(done.engine_state, 'delivered', `${label}: delivered, read through the gateway it was placed on`);
    };

    // ─── An order through B, its rider on A ────────────────────────────────────
    const first = await must(201, order(gwB, shops[0]!), 'first order');
    await carry(gwB, 'first order', first.id);

    // ─── The border search: an order with no rider in its partition borrows one ──
    const lender = riders[1]!;
    lender.at = border.outer;
    // Its next positions place it near the border, still in the first partition.
    await new Promise((res) => setTimeout(res, 1_500));
    const onBorder = await must(201, order(gwA, shops[2]!), 'an order on the border');
    await carry(gwA, 'order on the border', onBorder.id, owners[2]);
    t.same(assigned.get(onBorder.id), [lender.id], 'the rider across the border took it');
    t.comment(
      `confirmation to ASSIGNED: ${toAssigned.get(first.id)} ms for an order with a rider in its partition, ${toAssigned.get(onBorder.id)} ms for the border order (a lend and a take-over)`,
    );
    const lent = await db.query<{ type: string; body: { to?: string; from?: string } }>(
      `SELECT type, body FROM engine_events WHERE aggregate = 'rider' AND aggregate_id = $1
         AND type IN ('rider_handed_over', 'rider_taken_over') ORDER BY seq`,
      [lender.id],
    );
    t.match(
      lent.rows.slice(0, 2),
      [
        { type: 'rider_handed_over', body: { to: map.ids[1] } },
        { type: 'rider_taken_over', body: { from: map.ids[0] } },
      ],
      `lent by ${map.ids[0]} to ${map.ids[1]} for the order`,
    );
    // Free again, its positions in the first partition send it home.
    const riderRow = async (id: string) =>
      (
        await db.query<{ partition: string }>(
          `SELECT partition FROM engine_state WHERE aggregate = 'rider' AND aggregate_id = $1`,
          [id],
        )
      ).rows[0]?.partition;
    await until(async () => (await riderRow(lender.id)) === map.ids[0], 15_000, 100);
    t.pass(`once delivered, handed back to ${map.ids[0]}, where its positions are`);

    // ─── An order in the other partition ───────────────────────────────────────
    const far = await must(201, order(gwA, shops[1]!), 'order in the second partition');
    const farSeen = await must(200, call(gwB, 'GET', `/orders/${far.id}`, customer), 'GET it through B');
    t.equal(farSeen.id, far.id, 'an order placed through A in the second partition is read through B');

    await until(
      async () =>
        (
          await db.query<{ partition: string }>(
            `SELECT partition FROM engine_state WHERE aggregate = 'order' AND aggregate_id = $1`,
            [far.id],
          )
        ).rows[0]?.partition === map.ids[1],
      10_000,
      100,
    );
    t.pass(`its state is written by the owner of ${map.ids[1]}`);

    // ─── A rider rides into the other partition: handed over, and dispatched there ─
    const mover = riders[2]!;
    const movedAt = Date.now();
    mover.at = offsetM(shops[1]!.at.lat, shops[1]!.at.lng, 200, 400);
    const riderPartition = async () =>
      (
        await db.query<{ partition: string }>(
          `SELECT partition FROM engine_state WHERE aggregate = 'rider' AND aggregate_id = $1`,
          [mover.id],
        )
      ).rows[0]?.partition;
    await until(async () => (await riderPartition()) === map.ids[1], 15_000, 100);
    t.comment(`rider handed over to ${map.ids[1]}, stored there ${Date.now() - movedAt} ms after it rode in`);
    const moves = await db.query<{ type: string; body: { to?: string; from?: string } }>(
      `SELECT type, body FROM engine_events WHERE aggregate = 'rider' AND aggregate_id = $1
         AND type IN ('rider_handed_over', 'rider_taken_over') ORDER BY seq`,
      [mover.id],
    );
    t.match(
      moves.rows,
      [
        { type: 'rider_handed_over', body: { to: map.ids[1] } },
        { type: 'rider_taken_over', body: { from: map.ids[0] } },
      ],
      `handed over by ${map.ids[0]}, taken over by ${map.ids[1]}`,
    );
    const inP1 = await must(201, order(gwB, shops[1]!), 'an order in the second partition after the handover');
    await carry(gwB, 'order taken by the rider that rode in', inP1.id, owners[1]);
    t.same(assigned.get(inP1.id), [mover.id], 'offered to the rider that rode in, and taken by it');

    // ─── Bad input still gets clear errors through a gateway ───────────────────
    const unknown = await call(gwA, 'GET', `/orders/${randomUUID()}`, admin);
    t.equal(unknown.status, 404, 'an unknown order is 404 through a gateway');

    // ─── The admin service through the gateways ─────────────────────────────────
    const adminPort = (gw: ServerProcess) => Number(/admin gRPC on [^\s"]+:(\d+)/.exec(gw.log())![1]);
    const [adminA, adminB] = [adminClient(adminPort(gwA)), adminClient(adminPort(gwB))];
    t.teardown(() => {
      adminA.close();
      adminB.close();
    });
    t.match(
      await adminA.call('GetOrder', { order_id: first.id }, admin.token),
      { order: { id: first.id, state: 'delivered' }, history: [{ type: 'order_placed' }] },
      "gateway A's admin service reads an order from its mirror, and its history from the store",
    );
    const shard0 = latLngToCell(shops[0]!.at.lat, shops[0]!.at.lng, 6);
    await adminB.call('DrainShard', { shard: shard0, drained: true }, admin.token);
    const refused = await order(gwA, shops[0]!);
    t.match(
      refused,
      { status: 503, body: { code: 'SHARD_DRAINING' } },
      "drained through gateway B's admin service: an order through gateway A is refused by the owner",
    );
    const stats = (await adminB.call('ShardStats', {}, admin.token)) as {
      shards: { shard: string; drained: boolean }[];
    };
    t.equal(stats.shards.find((x) => x.shard === shard0)?.drained, true, "gateway B's mirror shows it drained");

    // ─── kill -9 of the riders' partition's owner, under load ────────────────────
    // Orders keep coming through both gateways at the second partition's two restaurants, about
    // eight a second, from before the kill until the failover's own order is delivered.
    const underLoad: { id: string; at: number }[] = [];
    const loadStatuses = new Map<number, number>();
    let loading = true;
    const load = (async () => {
      for (let i = 0; loading; i++) {
        const r = await order(i % 2 ? gwA : gwB, shops[1 + (i % 2)]!);
        loadStatuses.set(r.status, (loadStatuses.get(r.status) ?? 0) + 1);
        if (r.status === 201) underLoad.push({ id: r.body.id as string, at: Date.now() });
        await new Promise((res) => setTimeout(res, 125));
      }
    })();
    await new Promise((res) => setTimeout(res, 1_000));
    const victim = (await ownerIn(bucket, engines, map.ids[0]!))!;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    const statuses: number[] = [];
    let answer: Answer | undefined;
    // Asked through each gateway in turn, as a client behind a load balancer would be.
    for (let i = 0; Date.now() - killedAt < 30_000; i++) {
      const r = await order(i % 2 ? gwA : gwB, shops[0]!);
      statuses.push(r.status);
      if (r.body?.code !== 'NO_PARTITION_OWNER') {
        answer = r;
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    const failoverMs = Date.now() - killedAt;
    t.ok(
      statuses.every((s) => s === 201 || s === 503),
      `until an owner answered the gateways said 503 NO_PARTITION_OWNER, never 500 or a hang (${statuses.length} tries)`,
    );
    t.match(
      answer,
      { status: 503, body: { code: 'SHARD_DRAINING' } },
      "the new owner answered, and applied the operator's recorded drain: still refused",
    );
    t.ok(failoverMs <= FAILOVER_BOUND_MS, `answered ${failoverMs} ms after the kill (bound ${FAILOVER_BOUND_MS} ms)`);
    t.comment(`the killed owner's partition answered through a gateway ${failoverMs} ms after kill -9`);
    await adminA.call('DrainShard', { shard: shard0, drained: false }, admin.token);
    const placed = await must(201, order(gwB, shops[0]!), 'undrained through gateway A: an order through B');
    await carry(gwA, 'order after the failover', placed.id);

    for (const [id, holders] of assigned) t.equal(holders.length, 1, `order ${id} was assigned once`);
    // Over every process's stored events: what was answered 201 is there, and the rules held.
    loading = false;
    await load;
    t.same(
      [...loadStatuses.keys()],
      [201],
      `the other partitions' orders went on through the kill: ${[...loadStatuses].map(([k, v]) => `${v} × ${k}`).join(', ')}`,
    );
    const duringFailover = underLoad.filter((o) => o.at >= killedAt && o.at <= killedAt + failoverMs).length;
    t.ok(
      duringFailover >= 3,
      `${underLoad.length} orders placed under load, ${duringFailover} of them while the killed partition had no owner`,
    );
    const answered = [first.id, onBorder.id, far.id, inP1.id, placed.id, ...underLoad.map((o) => o.id)];
    let history = await storedHistory(db);
    await until(async () => {
      history = await storedHistory(db);
      return answered.every((id) => history.placed.has(id));
    }, 15_000).catch(() => undefined); // the next assertion names any still missing
    t.same(
      answered.filter((id) => !history.placed.has(id)),
      [],
      'every order answered 201 through a gateway is stored',
    );
    t.same(history.doubleOrders, [], '0 orders assigned twice (stored)');
    t.same(history.twoJobs, [], '0 riders holding two jobs (stored)');
    for (const [id, rider] of [...assigned].map(([o, r]) => [o, r[0]!] as const))
      t.same(history.assignedTo.get(id), [rider], `order ${id}: the rider told ASSIGNED is the one stored`);
    for (const gw of [gwA, gwB]) t.notMatch(gw.log(), /"level":50/, 'no error logged by a gateway');
  },
);

/**
 * Two points about 640 m either side of the border between the map's first two partitions: the
 * centres of two neighbouring cells, one in each, and the points a fifth of the way from their
 * midpoint (on the shared edge) towards each centre.
 */
function borderPoints(map: PartitionMap): { inner: { lat: number; lng: number }; outer: { lat: number; lng: number } } {
  const [p0, p1] = map.ids;
  for (const c of map.cellsOf(p1!))
    for (const n of gridDisk(c, 1)) {
      if (map.partitionOf(n) !== p0) continue;
      const [aLat, aLng] = cellToLatLng(c);
      const [bLat, bLng] = cellToLatLng(n);
      const mid = { lat: (aLat + bLat) / 2, lng: (aLng + bLng) / 2 };
      const inner = { lat: mid.lat + (aLat - mid.lat) * 0.2, lng: mid.lng + (aLng - mid.lng) * 0.2 };
      const outer = { lat: mid.lat + (bLat - mid.lat) * 0.2, lng: mid.lng + (bLng - mid.lng) * 0.2 };
      if (map.partitionOfPoint(inner.lat, inner.lng) === p1 && map.partitionOfPoint(outer.lat, outer.lng) === p0)
        return { inner, outer };
    }
  throw new Error('the map has no border between its first two partitions');
}
