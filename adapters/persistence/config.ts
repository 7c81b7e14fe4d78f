import { SQL_DRIVERS, type SqlDriver } from '../postgres/server-database.js';
import { type RedisEndpoint, parseRedisUrl } from '../queue/redis-url.js';

/** A storage configuration the process must not start with. */
export class PersistenceConfigError extends Error {
  override readonly name = 'PersistenceConfigError';
}

/** Where engine state goes, parsed once at the composition root and frozen. */
export type PersistenceConfig =
  | {
      /** Postgres, with BullMQ on Redis in front of it. */
      readonly mode: 'server';
      readonly databaseUrl: string;
      readonly redis: RedisEndpoint;
      readonly queueName: string;
      readonly queuePrefix: string;
      readonly batchSize: number;
      /** BullMQ job lock: a worker that dies holding a batch has it re-run after this long, ms. */
      readonly lockDurationMs: number;
      /** `NODE_ENV=test`: AOF off is expected, no loud warning. */
      readonly test: boolean;
      /** Size of this process's Postgres pool (`DATABASE_MAX_CONNECTIONS`). */
      readonly maxConnections: number;
      /** The Postgres driver (`DATABASE_DRIVER`): postgres.js unless `pg` is asked for. */
      readonly driver: SqlDriver;
    }
  | {
      /** PGlite in a folder and an in-process queue: no services to run. */
      readonly mode: 'embedded';
      readonly dataDir: string;
      readonly batchSize: number;
      readonly test: boolean;
    };

export interface PersistenceEnv {
  readonly NODE_ENV?: string | undefined;
  readonly DATABASE_URL?: string | undefined;
  readonly REDIS_URL?: string | undefined;
  readonly DATA_DIR?: string | undefined;
  readonly QUEUE_PREFIX?: string | undefined;
  readonly WRITE_BEHIND_BATCH?: string | undefined;
  readonly QUEUE_LOCK_MS?: string | undefined;
  readonly DATABASE_MAX_CONNECTIONS?: string | undefined;
  readonly DATABASE_DRIVER?: string | undefined;
}

/**
 * Reads the storage variables:
 * - `DATABASE_URL` and `REDIS_URL` both set: server mode. Neither: embedded
 *   mode in `DATA_DIR` (default `./data`). One without the other is refused:
 *   half a server setup is a mistake, not a wish for embedded storage.
 * - `QUEUE_PREFIX` (default `dispatch`): BullMQ key prefix.
 * - `WRITE_BEHIND_BATCH` (default 1000): most events per Postgres write.
 * - `QUEUE_LOCK_MS` (default 30000, BullMQ's): how long before the batch of a
 *   worker that died is run again by another.
 * - `DATABASE_MAX_CONNECTIONS` (default 10): the Postgres pool of each process
 *   (server or worker); embedded PGlite has one connection and ignores it.
 * - `DATABASE_DRIVER` (default `postgres-js`): `pg` runs the server path on
 *   node-postgres instead, the driver before postgres.js (for comparison).
 */
export function parsePersistenceConfig(env: PersistenceEnv): PersistenceConfig {
  const test = env.NODE_ENV === 'test';
  const batchSize = env.WRITE_BEHIND_BATCH ? Number(env.WRITE_BEHIND_BATCH) : 1_000;
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 50_000)) {
    throw new PersistenceConfigError(
      `WRITE_BEHIND_BATCH must be an integer in 1..50000, got ${env.WRITE_BEHIND_BATCH}`,
    );
  }
  const db = env.DATABASE_URL || undefined;
  const redis = env.REDIS_URL || undefined;
  if (!db && !redis) return Object.freeze({ mode: 'embedded', dataDir: env.DATA_DIR || './data', batchSize, test });
  if (!db || !redis) {
    throw new PersistenceConfigError(
      `${db ? 'DATABASE_URL' : 'REDIS_URL'} is set but ${db ? 'REDIS_URL' : 'DATABASE_URL'} is not: set both for Postgres with BullMQ, or neither for embedded storage`,
    );
  }
  let endpoint: RedisEndpoint;
  try {
    endpoint = parseRedisUrl(redis);
  } catch (err) {
    throw new PersistenceConfigError(`REDIS_URL: ${(err as Error).message}`);
  }
  if (!/^postgres(ql)?:\/\//.test(db)) throw new PersistenceConfigError('DATABASE_URL must be a postgres:// URL');
  const lockDurationMs = env.QUEUE_LOCK_MS ? Number(env.QUEUE_LOCK_MS) : 30_000;
  if (!(Number.isInteger(lockDurationMs) && lockDurationMs >= 500))
    throw new PersistenceConfigError(`QUEUE_LOCK_MS must be an integer ≥ 500, got ${env.QUEUE_LOCK_MS}`);
  const maxConnections = env.DATABASE_MAX_CONNECTIONS ? Number(env.DATABASE_MAX_CONNECTIONS) : 10;
  if (!(Number.isInteger(maxConnections) && maxConnections >= 2 && maxConnections <= 1_000))
    throw new PersistenceConfigError(
      `DATABASE_MAX_CONNECTIONS must be an integer in 2..1000, got ${env.DATABASE_MAX_CONNECTIONS}`,
    );
  const driver = (env.DATABASE_DRIVER || 'postgres-js') as SqlDriver;
  if (!SQL_DRIVERS.includes(driver))
    throw new PersistenceConfigError(`DATABASE_DRIVER must be one of ${SQL_DRIVERS.join(', ')}, got ${driver}`);
  const queuePrefix = env.QUEUE_PREFIX || 'dispatch';
  if (queuePrefix.includes(':')) throw new PersistenceConfigError('QUEUE_PREFIX must not contain ":"');
  return Object.freeze({
    mode: 'server',
    databaseUrl: db,
    redis: Object.freeze(endpoint),
    queueName: 'engine-events',
    queuePrefix,
    batchSize,
    lockDurationMs,
    test,
    maxConnections,
    driver,
  });
}

/**
 * How long a process holds the jobs it handles itself from the workers, ms (docs/durability.md,
 * "The process stores its own jobs"): the queue's lock duration in server mode, the bound a batch
 * held by a dead worker already has; 1 s embedded, where a crash loses the in-process queue anyway.
 */
export const holdMsOf = (config: PersistenceConfig): number =>
  config.mode === 'server' ? config.lockDurationMs : 1_000;
