import type { EventBatch, EventStore } from '../../engine/ports/event-store.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import { MemoryQueue } from '../embedded/memory-queue.js';
import { pgliteDatabase } from '../embedded/pglite-database.js';
import { ensureDatabase } from '../postgres/ensure-database.js';
import { migrate } from '../postgres/migrate.js';
import { PgEventStore } from '../postgres/pg-event-store.js';
import type { PoolGauge } from '../postgres/postgres-js-database.js';
import { serverDatabase } from '../postgres/server-database.js';
import type { SqlDatabase } from '../postgres/sql-database.js';
import { BullmqQueue } from '../queue/bullmq-queue.js';
import { checkRedis } from '../queue/redis-checks.js';
import type { PushJob } from '../push/push-feed.js';
import type { PersistenceConfig } from './config.js';

/** The opened storage: the two ports, and what a crash can lose, in one sentence. */
export interface Storage {
  readonly store: EventStore;
  readonly queue: JobQueue<EventBatch>;
  /** Push jobs, fed by the persistence worker from stored events (adapters/push). */
  readonly pushQueue: JobQueue<PushJob>;
  readonly durability: string;
  /** The database itself, for the rows the gateway writes synchronously (catalog, payments). */
  readonly db: SqlDatabase;
  /** The Postgres pool, for metrics (absent with embedded PGlite). */
  readonly pool?: PoolGauge;
  close(): Promise<void>;
}

/**
 * Opens storage for the configured mode, with the boot checks first: Redis
 * must be `noeviction` (throws otherwise) and its AOF promise is reported;
 * the database is created when missing and migrated (safe when several
 * processes start at once).
 */
export async function openStorage(config: PersistenceConfig, log: { warn(m: string): void }): Promise<Storage> {
  if (config.mode === 'server') {
    const redis = await checkRedis(config.redis, { test: config.test, warn: (m) => log.warn(m) });
    await ensureDatabase(config.databaseUrl);
    const db = serverDatabase(config.databaseUrl, { max: config.maxConnections, driver: config.driver });
    await migrate(db);
    const store = new PgEventStore(db);
    const queue = new BullmqQueue<EventBatch>({
      redis: config.redis,
      name: config.queueName,
      prefix: config.queuePrefix,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: Math.min(30_000, config.lockDurationMs),
    });
    const pushQueue = new BullmqQueue<PushJob>({
      redis: config.redis,
      name: `${config.queueName}-push`,
      prefix: config.queuePrefix,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: Math.min(30_000, config.lockDurationMs),
    });
    return {
      store,
      queue,
      pushQueue,
      db,
      pool: db.pool,
      durability: `Postgres behind BullMQ; ${redis.promise}`,
      close: async () => {
        await pushQueue.close();
        await queue.close();
        await store.close();
      },
    };
  }
  const db = await pgliteDatabase(config.dataDir);
  await migrate(db);
  const store = new PgEventStore(db);
  const queue = new MemoryQueue<EventBatch>();
  const pushQueue = new MemoryQueue<PushJob>();
  return {
    store,
    queue,
    pushQueue,
    db,
    durability: `embedded PGlite in ${config.dataDir} with an in-process queue: a crash loses events not yet written (milliseconds' worth)`,
    close: async () => {
      await pushQueue.close();
      await queue.close();
      await store.close();
    },
  };
}
