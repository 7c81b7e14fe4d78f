import { Redis } from 'ioredis';
import type { RedisEndpoint } from '../queue/redis-url.js';
import type { CandidateStore } from './candidate-store.js';

/** The first radius searched; doubled up to the caller's radius while too few riders are found. */
const FIRST_RADIUS_M = 750;

/**
 * Available riders in one Redis GEO set: GEOADD for every position,
 * `GEOSEARCH key FROMLONLAT lng lat BYRADIUS r m ASC COUNT k` per order
 * (widening r from 750 m, see `nearest`).
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
      // GEOSEARCH gathers and sorts every member in the radius before COUNT cuts it: over a whole city's
      // pickup radius that is thousands of riders. So, as a team would, start small and double while
      // fewer than k are found; k found within r are the k nearest within any larger radius, so the
      // answer is the same as one search over the full radius.
      for (let r = Math.min(FIRST_RADIUS_M, radiusM); ; r = Math.min(r * 2, radiusM)) {
        const ids = (await reader.call(
          'GEOSEARCH',
          key,
          'FROMLONLAT',
          lng,
          lat,
          'BYRADIUS',
          r,
          'm',
          'ASC',
          'COUNT',
          k,
        )) as string[];
        if (ids.length >= k || r >= radiusM) return ids;
      }
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
