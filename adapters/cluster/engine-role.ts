/**
 * `npm start -- --role engine`: an engine process of a cluster (docs/scale.md,
 * "An engine process"). It serves no client: it opens the shared storage
 * (Postgres and Redis; the embedded mode has nothing to share), runs the
 * write-behind worker, connects to NATS and owns whatever partitions it can
 * get, answering their commands over NATS. Several run at once on one machine
 * or many; `npm run cluster` starts a local set.
 */
import { hostname } from 'node:os';
import { resolveConfig } from '../../engine/index.js';
import { EventWriter } from '../persistence/event-writer.js';
import { pushFeed } from '../push/push-feed.js';
import { openStorage } from '../persistence/storage.js';
import type { ServerConfig } from '../server/server-config.js';
import { hrStopwatch, systemClock } from '../system-clock.js';
import type { ClusterConfig } from './cluster-config.js';
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
  /** Gives the leases back (others take the partitions at once), flushes, closes storage and NATS. */
  close(): Promise<void>;
}

export async function startEngineRole(
  config: ServerConfig,
  cluster: ClusterConfig,
  log: EngineRoleLogger,
): Promise<RunningEngineRole> {
  if (config.persistence.mode !== 'server') {
    throw new Error(
      'an engine process shares its storage with its peers: set DATABASE_URL and REDIS_URL (the embedded mode is for one process, `npm start`)',
    );
  }
  const storage = await openStorage(config.persistence, { warn: (m) => log.warn({ msg: m }) });
  const closers: (() => Promise<void> | void)[] = [() => storage.close()];
  const closeAll = async () => {
    for (const c of closers.reverse())
      await Promise.resolve(c()).catch((err: unknown) => log.error({ msg: 'close failed', err: String(err) }));
  };
  try {
    if (config.inProcessWorker) {
      // Pushes follow the durable stream, as in `npm start`: queued here, sent by `npm run worker`.
      const feed = pushFeed(storage.pushQueue);
      const writer = new EventWriter(storage.queue, storage.store, {
        batchSize: config.persistence.batchSize,
        afterStore: feed,
        onFenced: (fence, records, detail) =>
          log.warn({ msg: `write-behind: ${records} records of a stale tenure refused`, ...fence, detail }),
      }).start();
      closers.push(() => writer.stop());
    }
    const owner = processOwnerId(hostname());
    const nc = await connectNats({ servers: cluster.natsUrl, name: `engine ${owner}` });
    closers.push(() => nc.close());
    const bucket = await openLeaseBucket(nc, { bucket: cluster.leaseBucket, ttlMs: cluster.leaseTtlMs });
    const engineConfig = resolveConfig({ riderReview: config.riderReview });
    const node = await EngineNode.start({
      nc,
      bucket,
      prefix: cluster.prefix,
      map: cluster.map,
      ...(cluster.partitions ? { partitions: cluster.partitions } : {}),
      store: storage.store,
      queue: storage.queue,
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
    closers.push(() => node.close());
    log.info({
      msg: `engine ${owner}: ${cluster.map.ids.length} partitions in ${cluster.mapFile}, serving ${node.serving().join(', ') || 'none yet'}`,
    });
    let closed: Promise<void> | undefined;
    return { owner, node, close: () => (closed ??= closeAll()) };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
