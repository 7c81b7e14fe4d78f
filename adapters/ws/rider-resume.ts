/**
 * Where a rider's resume point, the last sequence number processed, lives
 * between connections when it must outlive the process that took it: a
 * restart, or a reconnect that lands on another server (protocol/rider-protocol.md,
 * "Sequence numbers and resume"). Without a store the rider route keeps it in
 * its own memory, as a single process needs.
 */
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

/** The store on Redis: one string key per rider, written in pipelines, expiring when a rider stays away. */
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
    if (entries.length === 0) return;
    const p = this.#redis.pipeline();
    for (const [id, seq] of entries) p.set(this.#key(id), String(seq), 'EX', this.#ttlS);
    const results = await p.exec();
    if (results === null) throw new Error('the resume pipeline was discarded');
    const failed = results.find(([err]) => err !== null)?.[0];
    if (failed) throw failed;
  }

  #key(riderId: RiderId): string {
    return `${this.#prefix}:${riderId}`;
  }
}
