import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import type { OrderId } from '../../protocol/index.js';
import { ClusterDriver } from '../../bench/cluster/driver.js';
import {
  balanced,
  type EngineProcess,
  ownerOf as ownerIn,
  spawnEngine,
  writeLocalMap,
} from '../../bench/cluster/engines.js';
import { until } from '../contracts/job-queue.contract.js';
import { leaseBucket, natsConnection, SHARED_NATS } from '../support/nats.js';
import { throwawayDatabase } from '../support/pg.js';
import { storedHistory } from '../support/stored-history.js';
import { SHARED_REDIS } from '../support/redis-server.js';

/**
 * Issue 20's failover test, across real processes: three engine processes
 * (`npm start -- --role engine`) share six partitions over the real NATS,
 * Postgres and Redis, while this test plays the gateways (bench/cluster/
 * driver.ts): commands through `CommandRouter`, sent again while a partition
 * has no owner, and riders accepting the offers the engines relay. Under that
 * load it kills -9 the owner of a busy partition, then stops another with
 * SIGSTOP past its lease and wakes it. Then, over every process's stored
 * events: every acknowledged command's events are there, no order was
 * assigned twice, no rider held two jobs, and the partitions were served
 * again in time.
 */

/** The lease TTL (`FAILOVER_TTL_MS` to try another, say the default 3000). */
const TTL = Number(process.env['FAILOVER_TTL_MS'] ?? 2_000);
const RENEW = Math.floor(TTL / 3);
/** A dead owner's partitions: judged dead within 2 renewals, its leases lapsed at TTL, a claim round, the rebuild; plus room for this loaded 2-core machine. */
const FAILOVER_BOUND_MS = TTL + 3 * RENEW + 2_500;
const RIDERS_PER_PARTITION = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.setTimeout(240_000);

t.test('three engines, six partitions: kill -9 and SIGSTOP under load', async (t) => {
  const url = await throwawayDatabase(t, 'cluster_failover');
  const nc = await natsConnection(t);
  const bucket = await leaseBucket(t, nc, TTL);
  const dir = await mkdtemp(join(tmpdir(), 'cluster-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const mapFile = join(dir, 'partitions.json');
  const map = await writeLocalMap(mapFile, 6);
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
    // The write-behind jobs a killed process's worker held (any partition's) come back once their lock lapses
    // and the stalled check runs: QUEUE_LOCK_MS plus as much again (docs/scale.md, "Failover"), not a minute.
    QUEUE_LOCK_MS: '3000',
    PARTITION_MAP: mapFile,
    LOG_FORMAT: 'json',
  };
  const engines: EngineProcess[] = [];
  t.teardown(async () => {
    for (const e of engines) {
      e.child.kill('SIGCONT');
      e.child.kill('SIGKILL');
    }
    await Promise.all(engines.map((e) => e.exited));
  });
  engines.push(...(await Promise.all([spawnEngine(env), spawnEngine(env), spawnEngine(env)])));
  const ownerOf = (p: string) => ownerIn(bucket, engines, p);
  await balanced(bucket, engines, map.ids);

  const driver = new ClusterDriver({ nc, prefix, map, deliver: false, keepRelayed: true });
  t.teardown(() => driver.close());
  t.same(await driver.setup(RIDERS_PER_PARTITION), [], 'each partition has its restaurant and riders, online');

  let loading = true;
  // Positions every second: a rebuilt partition's riders are matchable again from their next fix.
  const positions = (async () => {
    while (loading) {
      await driver.positionsRound();
      await sleep(1_000);
    }
  })();
  // Orders round robin over the partitions, about 10 a second, each accepted and ready at once.
  const ordering = (async () => {
    let i = 0;
    while (loading) {
      await driver.order(map.ids[i++ % map.ids.length]!);
      await sleep(80);
    }
  })();

  /** Time from `since` until every one of `parts` answers a command (any answer but NO_PARTITION_OWNER). */
  const servedAgain = async (parts: readonly string[], since: number) => {
    const when = new Map<string, number>();
    while (when.size < parts.length && Date.now() - since < 30_000) {
      await Promise.all(
        parts
          .filter((p) => !when.has(p))
          .map(async (p) => {
            const r = await driver.router.send(p, { type: 'food_ready', orderId: 'no-such-order' as OrderId });
            if (r.ok || r.code !== 'NO_PARTITION_OWNER') when.set(p, Date.now() - since);
          }),
      );
      await sleep(25);
    }
    return when;
  };

  /** Why partitions were not served again: their lease entries, and what each live process logged of them. */
  const explain = async (parts: readonly string[]) => {
    for (const p of parts) {
      const e = await bucket.kv.get(p);
      t.comment(`${p}: lease entry ${e === null ? 'none' : `${e.operation} rev ${e.revision} ${e.string()}`}`);
    }
    const members: string[] = [];
    for await (const key of await bucket.kv.keys('member.>')) members.push(key);
    t.comment(`members in the bucket: ${members.join(', ')}`);
    for (const e of engines.filter((x) => x.child.exitCode === null && x.child.signalCode === null))
      t.comment(
        `engine ${e.pid}, its lines on partitions, warnings and errors:\n${e
          .log()
          .split('\n')
          .filter((l) => /partition|"level":(40|50)/.test(l))
          .slice(-60)
          .join('\n')}`,
      );
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
  if (back.size < victimParts.length) await explain(victimParts.filter((p) => !back.has(p)));
  // Not all back: no bound met (Math.max of fewer would pass for the ones that came back, or for none at all).
  const failoverMs = back.size === victimParts.length ? Math.max(...back.values()) : Infinity;
  t.ok(failoverMs <= FAILOVER_BOUND_MS, `served again ${failoverMs} ms after the kill (bound ${FAILOVER_BOUND_MS} ms)`);
  t.comment(`failover after kill -9: ${[...back].map(([p, ms]) => `${p} ${ms} ms`).join(', ')}`);

  // SIGSTOP the owner of another partition past its lease, then wake it.
  await sleep(2_000);
  const stopped = engines.find((e) => e !== victim)!;
  let stoppedPart: string | undefined;
  for (const p of map.ids) if ((await ownerOf(p)) === stopped) stoppedPart ??= p;
  t.ok(stoppedPart, 'the process to stop owns a partition');
  const oldToken = driver.acks.filter((a) => a.partition === stoppedPart).at(-1)?.token ?? 0;
  const stoppedAt = Date.now();
  stopped.child.kill('SIGSTOP');
  const moved = await servedAgain([stoppedPart!], stoppedAt);
  t.ok(moved.has(stoppedPart!), `partition ${stoppedPart} served by another process while its owner is stopped`);
  if (!moved.has(stoppedPart!)) await explain([stoppedPart!]);
  t.comment(`failover after SIGSTOP: ${stoppedPart} ${moved.get(stoppedPart!)} ms`);
  t.not(await ownerOf(stoppedPart!), stopped, 'the lease is held by another process');
  await sleep(1_000);
  stopped.child.kill('SIGCONT');
  await sleep(3_000);
  loading = false;
  await Promise.all([positions, ordering]);
  await driver.settle();

  // The woken process answered nothing under its old tenure once the new owner had answered.
  const part = driver.acks.filter((a) => a.partition === stoppedPart);
  const firstNew = part.find((a) => a.token > oldToken);
  t.ok(firstNew, 'the new owner answered');
  t.same(
    part.filter((a) => a.at >= firstNew!.at && a.token <= oldToken),
    [],
    'no acknowledgement under the old token after the new owner answered',
  );
  await until(() => stopped.log().includes(`partition ${stoppedPart} lost`), 10_000);
  t.match(stopped.log(), `partition ${stoppedPart} lost`, 'the woken owner learned it lost the partition');

  // Everything acknowledged is stored: wait for the writers, then check over every process's events.
  const db = serverDatabase(url, { max: 2 });
  t.teardown(() => db.close());
  type Row = { aggregate: string; aggregate_id: string; type: string; body: { riderId?: string; orderId?: string } };
  const stored = async () =>
    (
      await db.query<Row>(
        `SELECT aggregate, aggregate_id, type, body FROM engine_events ORDER BY aggregate, aggregate_id, seq`,
      )
    ).rows;
  const placedIds = new Set(driver.placed.map((o) => o.id as string));
  await until(async () => {
    const have = new Set((await stored()).filter((r) => r.type === 'order_placed').map((r) => r.aggregate_id));
    return [...placedIds].every((id) => have.has(id));
  }, 30_000).catch(() => undefined); // "all acknowledged orders stored" below names any still missing
  // What the woken owner still said under its old tenure after the new owner had spoken: none of it stored.
  const newSince = driver.relayedLog.find((r) => r.batch.partition === stoppedPart && r.batch.token > oldToken)?.at;
  const zombie =
    newSince === undefined
      ? []
      : driver.relayedLog
          .filter((r) => r.batch.partition === stoppedPart && r.batch.token <= oldToken && r.at >= newSince)
          .flatMap((r) => r.batch.events);
  const bodies = new Map(
    (
      await db.query<{ k: string; body: string }>(
        `SELECT aggregate || '/' || aggregate_id || '#' || seq AS k, body::text AS body FROM engine_events`,
      )
    ).rows.map((r) => [r.k, r.body]),
  );
  const zombieStored = zombie.filter((e) => {
    const body = bodies.get(`${e.aggregate}/${e.id}#${e.seq}`);
    return body !== undefined && JSON.stringify(JSON.parse(body)) === JSON.stringify(e);
  });
  t.same(
    zombieStored,
    [],
    `nothing the woken owner said under its old token after the take-over is stored (${zombie.length} such events relayed)`,
  );
  const history = await storedHistory(db);
  t.same(
    [...placedIds].filter((id) => !history.placed.has(id)),
    [],
    `all ${placedIds.size} acknowledged orders stored`,
  );
  t.same(history.doubleOrders, [], '0 orders assigned twice');
  const lost = [...driver.acceptedBy].filter(([o, rider]) => !(history.assignedTo.get(o) ?? []).includes(rider));
  t.same(lost, [], `all ${driver.acceptedBy.size} acknowledged acceptances stored`);
  t.same(history.twoJobs, [], '0 riders holding two jobs');
  t.ok(driver.acceptedBy.size > 10, `riders accepted ${driver.acceptedBy.size} offers (${driver.offersSeen} relayed)`);
  // Dispatch went on in the moved partitions after their rebuild.
  const afterKill = new Set(
    driver.placed
      .filter((o) => victimParts.includes(o.partition) && o.at > killedAt + failoverMs)
      .map((o) => o.id as string),
  );
  const movedAssigned = [...driver.acceptedBy.keys()].filter((o) => afterKill.has(o));
  t.ok(
    movedAssigned.length > 0,
    `orders placed in the moved partitions after the failover and assigned: ${movedAssigned.length}`,
  );
  // Each survivor's operations port: the partitions it serves, what it answered, what it lost.
  const metricsOf = async (e: EngineProcess) => {
    const url = /metrics on (http:\/\/[^\s"]+\/metrics)/.exec(e.log())?.[1];
    return url ? (await fetch(url)).text() : '';
  };
  const value = (text: string, line: RegExp) => Number(line.exec(text)?.[1] ?? NaN);
  const survivors = engines.filter((e) => e !== victim);
  const texts = await Promise.all(survivors.map(metricsOf));
  t.equal(
    texts.reduce((sum, x) => sum + value(x, /^dispatch_partitions_served (\d+)$/m), 0),
    map.ids.length,
    'the survivors serve every partition between them (/metrics)',
  );
  t.ok(
    texts.every((x) => value(x, /^dispatch_partition_commands_total\{outcome="ok"\} (\d+)$/m) > 0),
    'each answered commands',
  );
  t.ok(
    value(texts[survivors.indexOf(stopped)]!, /^dispatch_partitions_dropped_total\{reason="expired"\} (\d+)$/m) >= 1,
    'the woken owner counts the partition it lost',
  );
  t.comment(
    `${placedIds.size} orders placed, ${driver.acceptedBy.size} offers accepted, ${driver.acks.length} commands acknowledged`,
  );
});
