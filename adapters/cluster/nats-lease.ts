import { randomBytes } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { Clock, TimerHandle } from '../../engine/index.js';
import { DependencyUnavailableError } from '../dependency-error.js';
import { monotonicClock } from '../system-clock.js';
import type { LeaseBucket } from './nats-connection.js';

/** A partition held by this process. `token` fences its writes (docs/scale.md). */
export interface Lease {
  readonly partition: string;
  /** The KV revision of the write that acquired the lease: higher for every later owner. */
  readonly token: number;
  readonly owner: string;
}

/**
 * Why a lease ended without `release`: `superseded`, the key holds someone
 * else's write (or none: the server expired it); `expired`, no renewal was
 * confirmed before the lease's local validity ran out (NATS unreachable, or
 * this process paused).
 */
export type LeaseLossReason = 'superseded' | 'expired';

export interface LeaseManagerOptions {
  readonly bucket: LeaseBucket;
  /** Unique per process start (host, pid and a random part): two processes must never share it. */
  readonly owner: string;
  /** How often a held lease is renewed, ms (default a third of the TTL). */
  readonly renewEveryMs?: number;
  /**
   * How long before the TTL runs out, counted from when the last confirmed
   * renewal was sent, this process stops believing it holds the lease, ms
   * (default a tenth of the TTL). It absorbs clock-rate drift and the
   * server's expiry timer; a pause longer than it is what fencing is for.
   */
  readonly marginMs?: number;
  /** Monotonic time and timers (default `performance.now()` and real timers). */
  readonly clock?: Clock;
  /** Called once per lease lost without `release`; the process must stop serving that partition. */
  readonly onLost?: (lease: Lease, reason: LeaseLossReason, detail: string) => void;
}

/** What the KV entry of a held partition says; `tenure` tells this tenure's writes from an earlier one's. */
interface LeaseValue {
  readonly owner: string;
  readonly tenure: string;
}

interface Held {
  readonly lease: Lease;
  readonly tenure: string;
  /** The revision of our latest write: the next renewal's compare-and-swap. */
  revision: number;
  /** Local monotonic time until which we may act as owner. */
  validUntil: number;
  renewTimer: TimerHandle | null;
  expiryTimer: TimerHandle | null;
  inflight: Promise<void> | null;
  over: boolean;
}

const isConflict = (err: unknown): boolean =>
  err instanceof JetStreamApiError &&
  (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
    err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A unique owner id for this process start. */
export const processOwnerId = (host: string): string => `${host}-${process.pid}-${randomBytes(4).toString('hex')}`;

/**
 * Partition ownership by lease in a NATS JetStream KV bucket (one key per
 * partition, bucket TTL = lease TTL):
 * - acquire: a create (only if absent: never held, expired by the server, or
 *   released, i.e. a delete marker); the revision of that write is the
 *   fencing token;
 * - renew: compare-and-swap `update` on our last revision, every `renewEveryMs`;
 * - release: compare-and-swap `delete`, so the next `create` succeeds at once.
 *
 * Expiry is judged by the NATS server alone: it removes an entry `ttl` after
 * its last write, on its own clock, so no two processes compare timestamps and
 * clock skew between them cannot matter. The holder's side is conservative: it
 * counts validity on its own monotonic clock from when it *sent* the last
 * renewal the server confirmed (the server stored it later, so expires it
 * later), minus `marginMs`. When that runs out unrenewed it calls `onLost`.
 * A holder paused past its TTL may still act on an old belief for a moment
 * after it wakes: the token, checked where it writes, refuses that
 * (engine/ports/fence.ts).
 */
export class LeaseManager {
  readonly owner: string;
  readonly #bucket: LeaseBucket;
  readonly #ttl: number;
  readonly #renewEvery: number;
  readonly #margin: number;
  readonly #clock: Clock;
  readonly #onLost: LeaseManagerOptions['onLost'];
  readonly #held = new Map<string, Held>();
  readonly #acquiring = new Map<string, Promise<Lease | null>>();

  constructor(opts: LeaseManagerOptions) {
    this.owner = opts.owner;
    this.#bucket = opts.bucket;
    this.#ttl = opts.bucket.ttlMs;
    this.#renewEvery = opts.renewEveryMs ?? Math.floor(this.#ttl / 3);
    this.#margin = opts.marginMs ?? Math.floor(this.#ttl / 10);
    this.#clock = opts.clock ?? monotonicClock;
    this.#onLost = opts.onLost;
    if (!(this.#margin >= 0 && this.#renewEvery > 0 && this.#renewEvery < this.#ttl - this.#margin)) {
      throw new RangeError(
        `LeaseManager: need 0 < renewEveryMs (${this.#renewEvery}) < ttl (${this.#ttl}) - marginMs (${this.#margin})`,
      );
    }
  }

  /**
   * Takes `partition` if nobody holds it: its lease, or null when another
   * owner's lease is live. Throws `DEPENDENCY_UNAVAILABLE` when NATS does not
   * answer within the bucket's request timeout.
   */
  acquire(partition: string): Promise<Lease | null> {
    const mine = this.#held.get(partition);
    if (mine) return Promise.resolve(mine.lease);
    const pending = this.#acquiring.get(partition);
    if (pending) return pending;
    const p = this.#acquire(partition).finally(() => this.#acquiring.delete(partition));
    this.#acquiring.set(partition, p);
    return p;
  }

  async #acquire(partition: string): Promise<Lease | null> {
    const tenure = randomBytes(8).toString('hex');
    const sentAt = this.#clock.now();
    let revision: number | null;
    try {
      revision = await this.#create(partition, this.#encode(tenure));
    } catch (err) {
      throw new DependencyUnavailableError(`lease ${partition}: acquire failed: ${message(err)}`, { cause: err });
    }
    if (revision === null) return null;
    const lease: Lease = Object.freeze({ partition, token: revision, owner: this.owner });
    const held: Held = {
      lease,
      tenure,
      revision,
      validUntil: 0,
      renewTimer: null,
      expiryTimer: null,
      inflight: null,
      over: false,
    };
    this.#held.set(partition, held);
    this.#confirmed(held, sentAt, revision);
    return lease;
  }

  /** The lease this process holds on `partition`, while it believes it holds it. */
  leaseOf(partition: string): Lease | undefined {
    const h = this.#held.get(partition);
    return h && this.#clock.now() < h.validUntil ? h.lease : undefined;
  }

  /** Every lease this process holds. */
  held(): Lease[] {
    return [...this.#held.values()].map((h) => h.lease);
  }

  /** Who holds `partition` according to NATS (any owner), with the revision of their latest write. */
  async current(partition: string): Promise<{ owner: string; revision: number; writtenAt: Date } | null> {
    let e;
    try {
      e = await this.#bucket.kv.get(partition);
    } catch (err) {
      throw new DependencyUnavailableError(`lease ${partition}: read failed: ${message(err)}`, { cause: err });
    }
    if (!e || e.operation !== 'PUT') return null;
    return { owner: e.json<LeaseValue>().owner, revision: e.revision, writtenAt: e.created };
  }

  /**
   * Gives `partition` up at once (a compare-and-swap delete of our last
   * write), so another process may take it without waiting for the TTL.
   * Answers false when the lease was already lost. Local state is dropped
   * whatever happens; if NATS is unreachable the lease lapses by its TTL.
   */
  async release(partition: string): Promise<boolean> {
    const h = this.#held.get(partition);
    if (!h) return false;
    this.#end(h);
    if (h.inflight) await h.inflight;
    try {
      await this.#bucket.kv.delete(partition, { previousSeq: h.revision });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw new DependencyUnavailableError(`lease ${partition}: release failed: ${message(err)}`, { cause: err });
    }
  }

  /** Releases every lease held (best effort: one that cannot be released lapses by its TTL). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#held.keys()].map((p) => this.release(p)));
  }

  /**
   * The KV `create` (a write only if the key has no live value), answering
   * null when a live value is there. Written out rather than `kv.create`,
   * which after a timeout reads the key too and so doubles the wait.
   */
  async #create(key: string, value: string): Promise<number | null> {
    try {
      return await this.#bucket.kv.put(key, value, { previousSeq: 0 });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    // Something is stored: a live lease, or the delete marker a release leaves (taken over by CAS).
    // A live lease of this very owner that it does not hold is its own orphan (an acquire whose reply
    // was lost, or a tenure given up locally that the server still keeps): nobody else wrote since, so
    // taking it over by CAS is safe, and the new token is higher than the orphan's.
    const e = await this.#bucket.kv.get(key);
    if (e === null) return null;
    if (e.operation === 'PUT' && this.#ownerOf(e.string()) !== this.owner) return null;
    try {
      return await this.#bucket.kv.put(key, value, { previousSeq: e.revision });
    } catch (err) {
      if (isConflict(err)) return null;
      throw err;
    }
  }

  #ownerOf(value: string): string | undefined {
    try {
      return (JSON.parse(value) as Partial<LeaseValue>).owner;
    } catch {
      return undefined;
    }
  }

  #encode(tenure: string): string {
    return JSON.stringify({ owner: this.owner, tenure } satisfies LeaseValue);
  }

  /** The server confirmed a write of ours sent at `sentAt`: extend validity and plan the next renewal. */
  #confirmed(h: Held, sentAt: number, revision: number): void {
    h.revision = revision;
    h.validUntil = sentAt + this.#ttl - this.#margin;
    this.#clear(h.expiryTimer);
    h.expiryTimer = this.#clock.setTimeout(() => {
      this.#lose(h, 'expired', `no renewal confirmed within ${this.#ttl - this.#margin} ms`);
    }, h.validUntil - this.#clock.now());
    this.#schedule(h, sentAt + this.#renewEvery - this.#clock.now());
  }

  #schedule(h: Held, inMs: number): void {
    this.#clear(h.renewTimer);
    h.renewTimer = this.#clock.setTimeout(
      () => {
        h.renewTimer = null;
        if (h.over || h.inflight) return;
        h.inflight = this.#renew(h).finally(() => (h.inflight = null));
      },
      Math.max(0, inMs),
    );
  }

  async #renew(h: Held): Promise<void> {
    const { partition } = h.lease;
    const sentAt = this.#clock.now();
    try {
      const revision = await this.#bucket.kv.update(partition, this.#encode(h.tenure), h.revision);
      h.revision = revision; // even when released meanwhile: the release's compare-and-swap needs it
      if (!h.over) this.#confirmed(h, sentAt, revision);
      return;
    } catch (err) {
      if (h.over) return;
      if (!isConflict(err)) {
        // NATS slow or away: try again soon; the expiry timer ends the lease if it stays away.
        this.#schedule(h, Math.max(20, Math.floor(this.#renewEvery / 4)));
        return;
      }
    }
    // The compare-and-swap failed. Our own renewal may have landed with its reply lost: adopt it then.
    try {
      const e = await this.#bucket.kv.get(partition);
      if (h.over) return;
      const v = e?.operation === 'PUT' ? e.json<LeaseValue>() : null;
      if (e && v?.owner === this.owner && v.tenure === h.tenure) {
        h.revision = e.revision;
        this.#schedule(h, 0);
        return;
      }
      if (v && e) this.#lose(h, 'superseded', `the lease now has owner ${v.owner} at revision ${e.revision}`);
      else this.#lose(h, 'expired', 'the server expired the lease before the renewal reached it');
    } catch {
      if (!h.over) this.#schedule(h, Math.max(20, Math.floor(this.#renewEvery / 4)));
    }
  }

  #end(h: Held): void {
    h.over = true;
    this.#clear(h.renewTimer);
    this.#clear(h.expiryTimer);
    h.renewTimer = h.expiryTimer = null;
    if (this.#held.get(h.lease.partition) === h) this.#held.delete(h.lease.partition);
  }

  #clear(t: TimerHandle | null): void {
    if (t !== null) this.#clock.clearTimeout(t);
  }

  #lose(h: Held, reason: LeaseLossReason, detail: string): void {
    if (h.over) return;
    this.#end(h);
    try {
      this.#onLost?.(h.lease, reason, detail);
    } catch {
      // A throwing listener must not stop the other leases' timers.
    }
  }
}
