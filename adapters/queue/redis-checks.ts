import { Redis } from 'ioredis';
import { DependencyUnavailableError } from '../dependency-error.js';
import type { RedisEndpoint } from './redis-url.js';

/** Redis is configured so that the queue could lose jobs silently: the server must not start. */
export class RedisConfigError extends Error {
  override readonly name = 'RedisConfigError';
}

/** What an acknowledged event survives, by Redis's AOF setting. */
export type AofPromise = 'always' | 'everysec' | 'off';

export interface RedisDurability {
  readonly maxmemoryPolicy: string;
  readonly aof: AofPromise;
  /** One sentence for the start-up log. */
  readonly promise: string;
}

const PROMISES: Record<AofPromise, string> = {
  always: 'AOF appendfsync always: an acknowledged event survives a Redis crash (none lost)',
  everysec:
    'AOF appendfsync everysec: a Redis crash may lose up to about a second of acknowledged events not yet in Postgres',
  off: 'AOF is OFF: a Redis crash loses every acknowledged event not yet written to Postgres',
};

export interface CheckRedisOptions {
  /** Tests run without AOF on purpose: no loud warning then. */
  readonly test?: boolean;
  readonly warn?: (message: string) => void;
  /** Give up connecting after this long, ms. */
  readonly timeoutMs?: number;
}

/**
 * Boot check of the queue's Redis. Refuses (throws {@link RedisConfigError})
 * unless `maxmemory-policy` is `noeviction`: any other policy lets Redis drop
 * queued jobs under memory pressure, i.e. acknowledged events. Reports which
 * durability promise the AOF setting gives, and warns loudly when AOF is off
 * unless told this is a test. Throws {@link DependencyUnavailableError} at once
 * when Redis cannot be reached.
 */
export async function checkRedis(endpoint: RedisEndpoint, opts: CheckRedisOptions = {}): Promise<RedisDurability> {
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const redis = new Redis({
    ...endpoint,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    try {
      await redis.connect();
    } catch (err) {
      throw new DependencyUnavailableError(
        `Redis at ${endpoint.host}:${endpoint.port} cannot be reached: ${(err as Error).message}`,
        { cause: err },
      );
    }
    // INFO works where CONFIG is disabled (managed Redis); it has both values.
    const info = parseInfo(await redis.info());
    const policy = info.get('maxmemory_policy') ?? (await configGet(redis, 'maxmemory-policy')) ?? 'unknown';
    if (policy !== 'noeviction') {
      throw new RedisConfigError(
        `Redis at ${endpoint.host}:${endpoint.port} has maxmemory-policy ${policy}; the job queue needs noeviction, ` +
          `or Redis may evict queued events that clients were told are safe. Set "maxmemory-policy noeviction" in redis.conf ` +
          `(or CONFIG SET maxmemory-policy noeviction) and start again.`,
      );
    }
    let aof: AofPromise = 'off';
    if (info.get('aof_enabled') === '1') {
      const fsync = (await configGet(redis, 'appendfsync')) ?? 'everysec';
      aof = fsync === 'always' ? 'always' : fsync === 'everysec' ? 'everysec' : 'off';
    }
    const promise = PROMISES[aof];
    if (aof === 'off' && !opts.test) {
      opts.warn?.(
        `WARNING: Redis ${endpoint.host}:${endpoint.port}: ${promise}. Turn on appendonly yes (appendfsync always or everysec) in production.`,
      );
    }
    return { maxmemoryPolicy: policy, aof, promise };
  } finally {
    redis.disconnect();
  }
}

async function configGet(redis: Redis, key: string): Promise<string | undefined> {
  try {
    const res = (await redis.call('CONFIG', 'GET', key)) as string[];
    return res[1];
  } catch {
    return undefined;
  }
}

function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}
