/**
 * `npm start -- --role engine`: an engine process of a cluster (docs/scale.md,
 * "An engine process"). It serves no client: it opens the shared storage
 * (Postgres and Redis; the embedded mode has nothing to share), runs the
 * write-behind worker, connects to NATS and owns whatever partitions it can
 * get, answering their commands over NATS. Several run at once on one machine
 * or many; `npm run cluster` starts a local set.
 */
import { hostname } from 'node:os';
import { Counter, Gauge, Registry } from 'prom-client';
import { startOpsServer } from '../observability/metrics-server.js';
import { closerStack } from '../server/shutdown.js';
import { resolveConfig } from '../../engine/index.js';
import { AdminAudit } from '../admin/admin-audit.js';
import { EventWriter, localStoreLog, localStoreOf } from '../persistence/event-writer.js';
import type { LocalStore } from '../persistence/write-behind.js';
import { pushFeed } from '../push/push-feed.js';
import { openStorage } from '../persistence/storage.js';
import type { ServerConfig } from '../server/server-config.js';
import { hrStopwatch, systemClock } from '../system-clock.js';
import { type ClusterConfig, requireSharedStorage } from './cluster-config.js';
import { EngineNode } from './engine-node.js';
import { connectNats, openLeaseBucket } from './nats-connection.js';
import { processOwnerId } from './nats-lease.js';

export interface EngineRoleLogger {
  info(o: Record<string, unknown>): void;
  warn(o: Record<string, unknown>): void;
  error(o: Record<string, unknown>): void;
}

export interface RunningEngineRole {
  readonly owner: string;
  readonly node: EngineNode;
  /** The operations port: `/metrics`, `/livez`, `/readyz`. */
  readonly metricsPort: number;
  /** Gives the leases back (others take the partitions at once), flushes, closes storage and NATS. */
  close(): Promise<void>;
}

export async function startEngineRole(
  config: ServerConfig,
  cluster: ClusterConfig,
  log: EngineRoleLogger,
): Promise<RunningEngineRole> {
  requireSharedStorage(config, 'an engine process shares its storage with its peers');
  // The operations port first, as `npm start` does: not ready until the node has made its first round.
  let node: EngineNode | undefined;
  let nc: Awaited<ReturnType<typeof connectNats>> | undefined;
  const registry = new Registry();
  const readiness = () => {
    const reasons: string[] = [];
    if (node === undefined) reasons.push('starting: opening storage, joining the cluster');
    if (nc !== undefined && nc.isClosed()) reasons.push('the NATS connection is closed');
    return { ready: reasons.length === 0, reasons };
  };
  engineMetrics(registry, () => node, readiness);
  const ops = await startOpsServer(config.metrics.host, config.metrics.port, () => ({ registry, readiness }));
  let storage;
  try {
    storage = await openStorage(config.persistence, { warn: (m) => log.warn({ msg: m }) });
  } catch (err) {
    await ops.close();
    throw err;
  }
  const closers = closerStack(
    log,
    () => ops.close(),
    () => storage.close(),
  );
  const closeAll = closers.closeAll;
  try {
    let local: LocalStore | undefined;
    if (config.inProcessWorker) {
      // Pushes follow the durable stream, as in `npm start`: queued here, sent by `npm run worker`.
      const feed = pushFeed(storage.pushQueue);
      const writer = new EventWriter(storage.queue, storage.store, {
        batchSize: config.persistence.batchSize,
        afterStore: feed,
        onFenced: (fence, records, detail) =>
          log.warn({ msg: `write-behind: ${records} records of a stale tenure refused`, ...fence, detail }),
        onLocalStore: localStoreLog(log),
      }).start();
      closers.push(() => writer.stop());
      local = localStoreOf(writer, config.persistence);
    }
    const owner = processOwnerId(hostname());
    const conn = await connectNats({ servers: cluster.natsUrl, name: `engine ${owner}` });
    nc = conn;
    closers.push(() => conn.close());
    const bucket = await openLeaseBucket(conn, { bucket: cluster.leaseBucket, ttlMs: cluster.leaseTtlMs });
    const engineConfig = resolveConfig({ riderReview: config.riderReview });
    const started = await EngineNode.start({
      nc: conn,
      bucket,
      prefix: cluster.prefix,
      map: cluster.map,
      ...(cluster.partitions ? { partitions: cluster.partitions } : {}),
      store: storage.store,
      queue: storage.queue,
      ...(local ? { local } : {}),
      standing: () => new AdminAudit(storage.db).standing(),
      owner,
      engine: {
        clock: systemClock,
        stopwatch: hrStopwatch,
        config: engineConfig,
        retentionMs: engineConfig.retentionMs,
        logger: { error: (m: string, detail?: unknown) => log.error({ msg: m, detail: String(detail) }) },
      },
      log,
    });
    node = started;
    closers.push(() => started.close());
    log.info({ msg: `metrics on http://${config.metrics.host}:${ops.port}/metrics` });
    log.info({
      msg: `engine ${owner}: ${cluster.map.ids.length} partitions in ${cluster.mapFile}, serving ${started.serving().join(', ') || 'none yet'}`,
    });
    let closed: Promise<void> | undefined;
    return { owner, node: started, metricsPort: ops.port, close: () => (closed ??= closeAll()) };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** An engine process's metrics: partitions served, taken and dropped, commands answered. */
function engineMetrics(
  r: Registry,
  node: () => EngineNode | undefined,
  readiness: () => { readonly ready: boolean },
): void {
  new Gauge({
    name: 'dispatch_ready',
    help: 'whether /readyz answers ready (1)',
    registers: [r],
    collect() {
      this.set(readiness().ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'dispatch_partitions_served',
    help: 'partitions this engine process answers now',
    registers: [r],
    collect() {
      this.set(node()?.serving().length ?? 0);
    },
  });
  new Gauge({
    name: 'dispatch_partition_adopt_seconds',
    help: "the last partition take-over's duration: queued events stored under the new token, then the rebuild",
    registers: [r],
    collect() {
      this.set((node()?.stats.lastAdoptMs ?? 0) / 1000);
    },
  });
  const counter = (name: string, help: string, label: string, read: () => Iterable<[string, number]> | undefined) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [r],
      collect() {
        const rows = read();
        if (!rows) return;
        this.reset();
        for (const [k, v] of rows) this.inc({ [label]: k }, v);
      },
    });
  new Counter({
    name: 'dispatch_partitions_adopted_total',
    help: 'partitions taken over and rebuilt',
    registers: [r],
    collect() {
      const n = node();
      if (!n) return;
      this.reset();
      this.inc(n.stats.adopted);
    },
  });
  new Counter({
    name: 'dispatch_riders_handed_over_total',
    help: 'riders handed over to the partition their positions entered, and taken over there',
    registers: [r],
    collect() {
      const n = node();
      if (!n) return;
      this.reset();
      this.inc(n.stats.handedOver);
    },
  });
  new Counter({
    name: 'dispatch_border_searches_total',
    help: 'orders with no rider whose pickup touches other partitions: the neighbours were asked to lend one',
    registers: [r],
    collect() {
      const n = node();
      if (!n) return;
      this.reset();
      this.inc(n.stats.borderSearches);
    },
  });
  new Counter({
    name: 'dispatch_riders_borrowed_total',
    help: 'border searches a neighbour answered by lending a rider',
    registers: [r],
    collect() {
      const n = node();
      if (!n) return;
      this.reset();
      this.inc(n.stats.borrowed);
    },
  });
  counter(
    'dispatch_partitions_dropped_total',
    'partitions no longer served here, by why: expired or superseded (lease lost), given_back (shared out)',
    'reason',
    () => node()?.stats.dropped,
  );
  counter(
    'dispatch_partition_commands_total',
    "commands answered over NATS, by outcome: ok or the refusal's code",
    'outcome',
    () => node()?.stats.commands,
  );
}
