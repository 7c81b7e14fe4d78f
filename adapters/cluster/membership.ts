import type { Clock, TimerHandle } from '../../engine/index.js';
import { monotonicClock } from '../system-clock.js';
import type { LeaseBucket } from './nats-connection.js';

/**
 * Which engine processes are alive, for sharing the partitions out
 * (docs/scale.md, "Sharing the partitions"). Each process writes the key
 * `member.<owner>` in the lease bucket every `everyMs`. Another process judges
 * a member alive while the key's revision keeps changing: unchanged for more
 * than twice the period (on the observer's own monotonic clock, never another
 * machine's), it is dead. That happens before a dead member's leases lapse
 * (a TTL, three periods by default), so the survivors are ready to take them.
 * The bucket's TTL removes the key of a process that stopped for good.
 *
 * Balance only: which process owns a partition is decided by the leases, and
 * a wrong view of who is alive costs a partition moving, never two owners.
 */
export class Membership {
  readonly #bucket: LeaseBucket;
  readonly #me: string;
  readonly #everyMs: number;
  readonly #clock: Clock;
  /** Each member key's last revision seen and when it was first seen at it. */
  readonly #seen = new Map<string, { revision: number; since: number }>();
  #timer: TimerHandle | null = null;
  #closed = false;

  constructor(bucket: LeaseBucket, owner: string, opts: { readonly everyMs: number; readonly clock?: Clock }) {
    this.#bucket = bucket;
    this.#me = memberName(owner);
    this.#everyMs = opts.everyMs;
    this.#clock = opts.clock ?? monotonicClock;
  }

  /** This process's member name. */
  get me(): string {
    return this.#me;
  }

  /** Announces this process now, then keeps announcing it. */
  async start(): Promise<void> {
    await this.#announce();
    this.#schedule();
  }

  /**
   * The live members (this one always among them) and who holds each of
   * `partitions` now (null: nobody), by member name.
   */
  async observe(partitions: readonly string[]): Promise<ClusterView> {
    const kv = this.#bucket.kv;
    const now = this.#clock.now();
    const live = new Set<string>([this.#me]);
    const names: string[] = [];
    for await (const key of await kv.keys('member.>')) names.push(key);
    const present = new Set<string>();
    // The gets in parallel: one round of the cluster costs about one KV round trip, whatever its size.
    const [members, leases] = await Promise.all([
      Promise.all(names.map((key) => kv.get(key))),
      Promise.all(partitions.map((p) => kv.get(p))),
    ]);
    for (const [k, key] of names.entries()) {
      const e = members[k]!;
      if (e === null || e.operation !== 'PUT') continue;
      const name = key.slice('member.'.length);
      present.add(name);
      const had = this.#seen.get(name);
      if (had === undefined || had.revision !== e.revision) this.#seen.set(name, { revision: e.revision, since: now });
      if (now - (this.#seen.get(name)?.since ?? now) <= 2 * this.#everyMs) live.add(name);
    }
    for (const name of [...this.#seen.keys()]) if (!present.has(name)) this.#seen.delete(name);
    const owners = new Map<string, string | null>();
    for (const [k, p] of partitions.entries()) {
      const e = leases[k]!;
      owners.set(p, e !== null && e.operation === 'PUT' ? memberName(e.json<{ owner: string }>().owner) : null);
    }
    return { me: this.#me, live, owners };
  }

  /** Stops announcing and removes the key, so the others count one fewer at once. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#bucket.kv.delete(`member.${this.#me}`).catch(() => {});
  }

  async #announce(): Promise<void> {
    await this.#bucket.kv.put(`member.${this.#me}`, '1');
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      void this.#announce()
        .catch(() => {})
        .finally(() => this.#schedule());
    }, this.#everyMs);
  }
}

/** An owner id as a KV key token. */
export const memberName = (owner: string): string => owner.replace(/[^A-Za-z0-9_-]/g, '_');

/** What one process sees of the cluster at a claim round. */
export interface ClusterView {
  readonly me: string;
  readonly live: ReadonlySet<string>;
  /** Each partition's holder by member name; null: free. */
  readonly owners: ReadonlyMap<string, string | null>;
}

/**
 * One process's round (pure): its share is the partitions divided by the live
 * members, rounded up. Above it, and only while some live member holds less
 * than its share (someone can take them), it gives back what is over; below
 * it, it asks for free partitions up to its share. `mine` are the partitions
 * it serves now (the leases may say so a moment later than it serves).
 */
export function planRound(view: ClusterView, mine: readonly string[]): { giveBack: string[]; claim: string[] } {
  const partitions = [...view.owners.keys()];
  const share = Math.ceil(partitions.length / Math.max(1, view.live.size));
  const held = new Map<string, number>();
  for (const m of view.live) held.set(m, 0);
  for (const [p, o] of view.owners) {
    const who = mine.includes(p) ? view.me : o;
    if (who !== null && held.has(who)) held.set(who, held.get(who)! + 1);
  }
  const own = held.get(view.me)!;
  const someoneShort = [...held].some(([m, n]) => m !== view.me && n < share);
  const giveBack = own > share && someoneShort ? mine.slice(share) : [];
  const claim =
    own < share ? partitions.filter((p) => view.owners.get(p) === null && !mine.includes(p)).slice(0, share - own) : [];
  return { giveBack, claim };
}
