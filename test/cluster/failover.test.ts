import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import t, { type Test } from 'tap';
import { CommandRouter } from '../../adapters/cluster/command-bus.js';
import type { RelayedEvents } from '../../adapters/cluster/engine-node.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { type PartitionMap, splitBoundingBox } from '../../engine/index.js';
import type { CustomerId, EngineCommand, OrderId, RestaurantId, RiderId } from '../../protocol/index.js';
import { cellToLatLng, gridDisk, latLngToCell } from 'h3-js';
import { until } from '../contracts/job-queue.contract.js';
import { leaseBucket, natsConnection, SHARED_NATS } from '../support/nats.js';
import { throwawayDatabase } from '../support/pg.js';
import { SHARED_REDIS } from '../support/redis-server.js';

/**
 * Issue 20's failover test, across real processes: three engine processes
 * (`npm start -- --role engine`) share six partitions over the real NATS,
 * Postgres and Redis, while this test plays the gateways: it sends commands
 * through `CommandRouter`, retrying while a partition has no owner, listens to
 * the relayed events and has riders accept their offers. Under that load it
 * kills -9 the owner of a busy partition, then stops another with SIGSTOP
 * past its lease and wakes it. Then, over every process's stored events:
 * every acknowledged command's events are there, no order was assigned twice,
 * no rider held two jobs, and the partitions were served again in time.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TTL = 2_000;
const RENEW = Math.floor(TTL / 3);
/** A dead owner's partitions: its member key judged dead within 2 renewals, its leases lapsed at TTL, a claim round, the rebuild; plus room for this loaded 2-core machine. */
const FAILOVER_BOUND_MS = TTL + 3 * RENEW + 2_500;
const RIDERS_PER_PARTITION = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.setTimeout(240_000);

interface EngineProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<number | string>;
  log(): string;
}

function spawnEngine(t: Test, env: Record<string, string>): Promise<EngineProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/server.ts', '--role', 'engine'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  let done = false;
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  t.teardown(async () => {
    if (!done) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await exited;
  });
  child.stderr.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-200_000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`engine did not start within 60 s:\n${log}`)), 60_000);
    const check = setInterval(() => {
      if (/partitions in .*, serving/.test(log)) {
        clearInterval(check);
        clearTimeout(timer);
        resolve({ child, pid: child.pid!, exited, log: () => log });
      }
    }, 50);
    void exited.then((how) => {
      clearInterval(check);
      clearTimeout(timer);
      reject(new Error(`engine exited (${how}) before serving:\n${log}`));
    });
  });
}

/** A point well inside a partition: the centre of its middle cell. */
function inside(map: PartitionMap, p: string): { lat: number; lng: number } {
  const cells = map.cellsOf(p as never);
  const [lat, lng] = cellToLatLng(cells[Math.floor(cells.length / 2)]!);
  return { lat, lng };
}

interface Ack {
  readonly partition: string;
  readonly token: number;
  readonly at: number;
}

t.test('three engines, six partitions: kill -9 and SIGSTOP under load', async (t) => {
  const url = await throwawayDatabase(t, 'cluster_failover');
  const nc: NatsConnection = await natsConnection(t);
  const bucket = await leaseBucket(t, nc, TTL);
  const dir = await mkdtemp(join(tmpdir(), 'cluster-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const map = splitBoundingBox({ south: 12.85, west: 77.45, north: 13.1, east: 77.75 }, 6, 6);
  const mapFile = join(dir, 'partitions.json');
  await writeFile(mapFile, JSON.stringify(map.toJSON()));
  const prefix = `tcl${randomBytes(4).toString('hex')}`;
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
    PARTITION_MAP: mapFile,
    LOG_FORMAT: 'json',
  };
  const engines = await Promise.all([spawnEngine(t, env), spawnEngine(t, env), spawnEngine(t, env)]);
  const byMember = new Map(engines.map((e) => [e.pid, e]));
  const ownerOf = async (p: string): Promise<EngineProcess | undefined> => {
    const e = await bucket.kv.get(p);
    if (e === null || e.operation !== 'PUT') return undefined;
    const pid = Number(/-(\d+)-[0-9a-f]+$/.exec(e.json<{ owner: string }>().owner)?.[1]);
    return byMember.get(pid);
  };
  // Every partition owned, and shared out (2 each) before the load starts.
  await until(async () => {
    const owners = await Promise.all(map.ids.map(ownerOf));
    if (owners.some((o) => o === undefined)) return false;
    return engines.every((e) => owners.filter((o) => o === e).length === 2);
  }, 30_000);

  const router = new CommandRouter(nc, { prefix, timeoutMs: 1_000 });
  const acks: Ack[] = [];
  /** Sends until an owner answers (or 20 s pass): the result, or the code of the last refusal. */
  const send = async (partition: string, cmd: EngineCommand) => {
    const until = Date.now() + 20_000;
    for (;;) {
      const r = await router.send(partition, cmd);
      if (r.ok) acks.push({ partition, token: r.token!, at: Date.now() });
      if (r.ok || r.code !== 'NO_PARTITION_OWNER' || Date.now() > until) return r;
      await sleep(50);
    }
  };

  // Each partition: a restaurant and riders around it, online, with positions.
  const riders = new Map<string, RiderId[]>();
  const restaurant = (p: string) => `rest-${p}` as RestaurantId;
  const refused: string[] = [];
  for (const p of map.ids) {
    const at = inside(map, p);
    const r = await send(p, {
      type: 'register_restaurant',
      restaurantId: restaurant(p),
      location: at,
      prepMinutes: 10,
      capacity: 500,
    });
    if (!r.ok) refused.push(`restaurant of ${p}: ${r.code}`);
    const list: RiderId[] = [];
    for (let k = 0; k < RIDERS_PER_PARTITION; k++) {
      const id = `rider-${p}-${k}` as RiderId;
      list.push(id);
      for (const cmd of [
        { type: 'register_rider', riderId: id },
        { type: 'rider_online', riderId: id },
      ] as const) {
        const x = await send(p, cmd);
        if (!x.ok) refused.push(`${cmd.type} ${id}: ${x.code}`);
      }
    }
    riders.set(p, list);
  }
  t.same(refused, [], 'each partition has its restaurant and riders, online');
  const near = (p: string, k: number) => {
    const cells = gridDisk(latLngToCell(inside(map, p).lat, inside(map, p).lng, 9), 2);
    const [lat, lng] = cellToLatLng(cells[k % cells.length]!);
    return { lat, lng };
  };
  let loading = true;
  // Positions every second: a rebuilt partition's riders are matchable again from their next fix.
  const positions = (async () => {
    while (loading) {
      await Promise.all(
        map.ids.map(async (p) => {
          for (const [k, id] of riders.get(p)!.entries()) {
            const { lat, lng } = near(p, k);
            await send(p, {
              type: 'update_rider_position',
              riderId: id,
              lat,
              lng,
              accuracy: 5,
              heading: 0,
              speed: 0,
              at: Date.now(),
            });
          }
        }),
      );
      await sleep(1_000);
    }
  })();

  // Riders accept what they are offered, from the relayed events.
  const acceptedBy = new Map<string, string>();
  const accepting: Promise<unknown>[] = [];
  const offers = { seen: 0 };
  const sub = nc.subscribe(`${prefix}.evt.>`, {
    callback: (err, msg) => {
      if (err) return;
      const batch = msg.json<RelayedEvents>();
      for (const e of batch.events) {
        if (e.type !== 'rider_offered') continue;
        offers.seen++;
        const orderId = (e as { orderId: OrderId }).orderId;
        const riderId = e.id;
        accepting.push(
          send(batch.partition, { type: 'accept_offer', riderId, orderId }).then((r) => {
            if (r.ok) acceptedBy.set(orderId, riderId);
          }),
        );
      }
    },
  });
  t.teardown(() => sub.unsubscribe());

  // Orders, round robin over the partitions, about 12 a second; each accepted and ready at once.
  const placed: { id: OrderId; partition: string; at: number }[] = [];
  const ordering = (async () => {
    let i = 0;
    while (loading) {
      const p = map.ids[i++ % map.ids.length]!;
      const id = randomUUID() as OrderId;
      const drop = near(p, i + 7);
      const r = await send(p, {
        type: 'place_order',
        orderId: id,
        customerId: `cust-${i}` as CustomerId,
        restaurantId: restaurant(p),
        drop,
        paid: true,
      });
      if (r.ok) {
        placed.push({ id, partition: p, at: Date.now() });
        await send(p, { type: 'restaurant_accept', orderId: id, prepMinutes: 1 });
        await send(p, { type: 'food_ready', orderId: id });
      }
      await sleep(80);
    }
  })();

  /** Time from now until every one of `parts` answers a command (any answer but NO_PARTITION_OWNER). */
  const servedAgain = async (parts: readonly string[], since: number) => {
    const when = new Map<string, number>();
    while (when.size < parts.length && Date.now() - since < 30_000) {
      await Promise.all(
        parts
          .filter((p) => !when.has(p))
          .map(async (p) => {
            const r = await router.send(p, { type: 'food_ready', orderId: 'no-such-order' as OrderId });
            if (r.ok || r.code !== 'NO_PARTITION_OWNER') when.set(p, Date.now() - since);
          }),
      );
      await sleep(25);
    }
    return when;
  };

  await sleep(4_000);
  // kill -9 the owner of p0, a busy partition.
  const victim = (await ownerOf('p0'))!;
  const victimParts: string[] = [];
  for (const p of map.ids) if ((await ownerOf(p)) === victim) victimParts.push(p);
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  await victim.exited;
  const back = await servedAgain(victimParts, killedAt);
  t.equal(back.size, victimParts.length, `the killed owner's partitions ${victimParts.join(', ')} are served again`);
  const failoverMs = Math.max(...back.values());
  t.ok(failoverMs <= FAILOVER_BOUND_MS, `served again ${failoverMs} ms after the kill (bound ${FAILOVER_BOUND_MS} ms)`);
  t.comment(`failover after kill -9: ${[...back].map(([p, ms]) => `${p} ${ms} ms`).join(', ')}`);

  // SIGSTOP the owner of another partition past its lease, then wake it.
  await sleep(2_000);
  const survivors = engines.filter((e) => e !== victim);
  const stopped = survivors[0]!;
  let stoppedPart: string | undefined;
  for (const p of map.ids) if ((await ownerOf(p)) === stopped) stoppedPart ??= p;
  t.ok(stoppedPart, 'the process to stop owns a partition');
  const oldToken = acks.filter((a) => a.partition === stoppedPart).at(-1)?.token ?? 0;
  const stoppedAt = Date.now();
  stopped.child.kill('SIGSTOP');
  const moved = await servedAgain([stoppedPart!], stoppedAt);
  t.ok(moved.has(stoppedPart!), `partition ${stoppedPart} served by another process while its owner is stopped`);
  t.comment(`failover after SIGSTOP: ${stoppedPart} ${moved.get(stoppedPart!)} ms`);
  t.not(await ownerOf(stoppedPart!), stopped, 'the lease is held by another process');
  await sleep(1_000);
  const wokeAt = Date.now();
  stopped.child.kill('SIGCONT');
  await sleep(3_000);
  loading = false;
  await Promise.all([positions, ordering]);
  await Promise.all(accepting);

  // The woken process answered nothing under its old tenure once the new owner had answered.
  const part = acks.filter((a) => a.partition === stoppedPart);
  const firstNew = part.find((a) => a.token > oldToken);
  t.ok(firstNew, 'the new owner answered');
  t.same(
    part.filter((a) => a.at >= firstNew!.at && a.token <= oldToken),
    [],
    'no acknowledgement under the old token after the new owner answered',
  );
  await until(() => stopped.log().includes(`partition ${stoppedPart} lost`), 10_000);
  t.match(stopped.log(), new RegExp(`partition ${stoppedPart} lost`), 'the woken owner learned it lost the partition');
  t.ok(wokeAt > 0);

  // Everything acknowledged is stored: wait for the writers, then check over every process's events.
  const db = serverDatabase(url, { max: 2 });
  t.teardown(() => db.close());
  const stored = async () => {
    const { rows } = await db.query<{
      aggregate: string;
      aggregate_id: string;
      seq: number;
      type: string;
      body: { riderId?: string; orderId?: string };
    }>(`SELECT aggregate, aggregate_id, seq, type, body FROM engine_events ORDER BY aggregate, aggregate_id, seq`);
    return rows;
  };
  const placedIds = new Set(placed.map((o) => o.id as string));
  await until(async () => {
    const rows = await stored();
    const have = new Set(rows.filter((r) => r.type === 'order_placed').map((r) => r.aggregate_id));
    return [...placedIds].every((id) => have.has(id));
  }, 30_000);
  const rows = await stored();
  const placedStored = new Set(rows.filter((r) => r.type === 'order_placed').map((r) => r.aggregate_id));
  t.same(
    [...placedIds].filter((id) => !placedStored.has(id)),
    [],
    `all ${placedIds.size} acknowledged orders stored`,
  );
  const assigned = new Map<string, string[]>();
  const doubleOrders: string[] = [];
  const open = new Map<string, string | null>();
  for (const r of rows) {
    if (r.aggregate !== 'order') continue;
    if (r.type === 'order_assigned') {
      if (open.get(r.aggregate_id)) doubleOrders.push(r.aggregate_id);
      open.set(r.aggregate_id, r.body.riderId!);
      assigned.set(r.aggregate_id, [...(assigned.get(r.aggregate_id) ?? []), r.body.riderId!]);
    } else if (r.type === 'order_unassigned') open.set(r.aggregate_id, null);
  }
  t.same(doubleOrders, [], '0 orders assigned twice');
  const lost = [...acceptedBy].filter(([o, rider]) => !(assigned.get(o) ?? []).includes(rider));
  t.same(lost, [], `all ${acceptedBy.size} acknowledged acceptances stored`);
  const jobs = new Map<string, Set<string>>();
  const twoJobs: string[] = [];
  for (const r of rows) {
    if (r.aggregate !== 'rider') continue;
    const held = jobs.get(r.aggregate_id) ?? new Set<string>();
    jobs.set(r.aggregate_id, held);
    if (r.type === 'rider_assigned') {
      held.add(r.body.orderId!);
      if (held.size > 1) twoJobs.push(r.aggregate_id);
    } else if (r.type === 'rider_released' || r.type === 'rider_delivered') held.delete(r.body.orderId!);
  }
  t.same(twoJobs, [], '0 riders holding two jobs');
  t.ok(acceptedBy.size > 10, `riders accepted ${acceptedBy.size} offers (${offers.seen} offers relayed)`);
  // Dispatch went on in the moved partitions after their rebuild.
  const afterKill = new Set(
    placed.filter((o) => victimParts.includes(o.partition) && o.at > killedAt + failoverMs).map((o) => o.id as string),
  );
  const movedAssigned = [...acceptedBy.keys()].filter((o) => afterKill.has(o));
  t.ok(movedAssigned.length > 0, `orders of the moved partitions assigned: ${movedAssigned.length}`);
  t.comment(
    `${placedIds.size} orders placed, ${acceptedBy.size} offers accepted, ${acks.length} commands acknowledged`,
  );
});
