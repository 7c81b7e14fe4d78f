/**
 * Where a rider's resume point, the last sequence number processed, lives
 * between connections when it must outlive the process that took it: a
 * restart, or a reconnect that lands on another server (protocol/rider-protocol.md,
 * "Sequence numbers and resume"). Without a store the rider route keeps it in
 * its own memory, as a single process needs.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RiderId } from '../../protocol/index.js';
import { SEQ_TOP } from '../../protocol/index.js';

export interface RiderResumeStore {
  /** The last seq stored for `riderId`: 0 when none (or an unreadable value). */
  load(riderId: RiderId): Promise<number>;
  /** Stores several riders' last seqs in one round trip. */
  save(entries: readonly (readonly [RiderId, number])[]): Promise<void>;
}

export interface RedisRiderResumeOptions {
  /** Key prefix; each rider is `<prefix>:<rider id>` (default `dispatch:rider-seq`). */
  readonly prefix?: string;
  /** How long an entry outlives its last write, seconds (default one day: a rider away longer starts afresh). */
  readonly ttlS?: number;
}

/**
 * Sets each key of KEYS to its seq (ARGV[2..], in KEYS' order), expiring after ARGV[1] seconds:
 * a whole flush in one command, where a pipeline of SETs made the client build, send and settle
 * one command a rider (4,900 a second with 19,600 riders reporting every 4 s).
 */
const SAVE_SCRIPT = `for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1])
end
return #KEYS`;
const SAVE_SHA = createHash('sha1').update(SAVE_SCRIPT).digest('hex');
/** Riders per script call: Redis serves no one else while a script runs, so a flush is cut into calls of a thousand. */
export const SAVE_CHUNK = 1_000;

/** The store on Redis: one string key per rider, written by a script per thousand riders, expiring when a rider stays away. */
export class RedisRiderResume implements RiderResumeStore {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #ttlS: number;

  constructor(redis: Redis, opts: RedisRiderResumeOptions = {}) {
    this.#redis = redis;
    this.#prefix = opts.prefix ?? 'dispatch:rider-seq';
    this.#ttlS = opts.ttlS ?? 86_400;
  }

  async load(riderId: RiderId): Promise<number> {
    const v = await this.#redis.get(this.#key(riderId));
    const n = v === null ? 0 : Number(v);
    return Number.isInteger(n) && n >= 0 && n <= SEQ_TOP ? n : 0;
  }

  async save(entries: readonly (readonly [RiderId, number])[]): Promise<void> {
    const calls: Promise<void>[] = [];
    for (let i = 0; i < entries.length; i += SAVE_CHUNK) calls.push(this.#saveChunk(entries.slice(i, i + SAVE_CHUNK)));
    await Promise.all(calls);
  }

  async #saveChunk(entries: readonly (readonly [RiderId, number])[]): Promise<void> {
    const args: (string | number)[] = entries.map(([id]) => this.#key(id));
    args.push(this.#ttlS);
    for (const [, seq] of entries) args.push(seq);
    try {
      await this.#redis.evalsha(SAVE_SHA, entries.length, ...args);
    } catch (err) {
      // A Redis that has not seen the script yet (or was restarted or flushed) is sent its text.
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      await this.#redis.eval(SAVE_SCRIPT, entries.length, ...args);
    }
  }

  #key(riderId: RiderId): string {
    return `${this.#prefix}:${riderId}`;
  }
}
