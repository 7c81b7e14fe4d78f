import { Redis } from 'ioredis';
import type { RedisEndpoint } from '../queue/redis-url.js';
import type { CandidateStore } from './candidate-store.js';

/**
 * Available riders in one Redis GEO set: GEOADD for every position,
 * `GEOSEARCH key FROMLONLAT lng lat BYRADIUS r m ASC COUNT k` per order.
 * Writes go through ioredis auto-pipelining (every command issued in one tick
 * leaves in one write), as a busy ingest path would send them; lookups have a
 * connection of their own so they never wait behind a write batch in the
 * client. Keys are `<prefix>:available`, so runs never share state.
 */
export function redisGeoStore(endpoint: RedisEndpoint, prefix: string): CandidateStore {
  const key = `${prefix}:available`;
  const writer = new Redis({ ...endpoint, enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  const reader = new Redis({ ...endpoint, maxRetriesPerRequest: 1 });
  let writeErrors = 0;
  const counted = (p: Promise<unknown>) => void p.catch(() => writeErrors++);
  return {
    name: 'redis-geo',
    put(id, lat, lng) {
      counted(writer.geoadd(key, lng, lat, id));
    },
    remove(id) {
      counted(writer.zrem(key, id));
    },
    async nearest(lat, lng, radiusM, k) {
      return (await reader.call('GEOSEARCH', key, 'FROMLONLAT', lng, lat, 'BYRADIUS', radiusM, 'm', 'ASC', 'COUNT', k)) as string[];
    },
    async flush() {
      // Commands on one connection run in order: when this answers, every earlier write has.
      await writer.ping();
    },
    get writeErrors() {
      return writeErrors;
    },
    async close() {
      await writer.del(key).catch(() => {});
      writer.disconnect();
      reader.disconnect();
    },
  };
}
