import type { Clock, EngineLogger, TimerHandle } from '../../engine/index.js';
import { monotonicClock } from '../system-clock.js';
import type { CommandServer } from './command-bus.js';
import type { Lease, LeaseManager } from './nats-lease.js';

/**
 * An engine process's side of ownership (docs/scale.md, "Failover"): it tries
 * to take every partition it is willing to own, now and every `claimEveryMs`,
 * so that a partition whose owner died (its lease lapsed in NATS) is taken
 * by whichever live process asks first. On taking one it runs `adopt` (the
 * rebuild a restart runs, for that partition) and only then answers its
 * commands; on losing one it stops answering it at once and runs `abandon`.
 */
export interface PartitionHostOptions {
  readonly leases: LeaseManager;
  readonly commands: CommandServer;
  readonly partitions: readonly string[];
  /** How often partitions not held are asked for again, ms (default the lease's renewal period). */
  readonly claimEveryMs: number;
  /** Rebuilds the partition's state before serving it; a throw gives the lease back. */
  readonly adopt?: (lease: Lease) => Promise<void>;
  /** Drops the partition's state after its lease was lost or given back. */
  readonly abandon?: (partition: string) => void | Promise<void>;
  /**
   * Each round's plan (`planRound` over `Membership.observe`): the partitions to give back, for
   * others to take, and those to ask for. Absent: ask for every partition not served here.
   */
  readonly plan?: (serving: readonly string[]) => Promise<{ giveBack: readonly string[]; claim: readonly string[] }>;
  readonly clock?: Clock;
  readonly logger?: EngineLogger;
}

export class PartitionHost {
  readonly #o: PartitionHostOptions;
  readonly #clock: Clock;
  readonly #adopting = new Set<string>();
  #timer: TimerHandle | null = null;
  #closed = false;

  constructor(opts: PartitionHostOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? monotonicClock;
  }

  /** Claims what it can now, then keeps claiming; resolves after the first round. */
  async start(): Promise<void> {
    await this.#claimAll();
    this.#schedule();
  }

  /** Called by the lease manager's `onLost`: stop answering first, then forget the partition. */
  lost(lease: Lease): void {
    this.#o.commands.stop(lease.partition);
    void this.#o.abandon?.(lease.partition);
  }

  /** The partitions answered now. */
  serving(): string[] {
    return this.#o.commands.serving();
  }

  /** Stops claiming and answering, and gives every lease back so others take them at once. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    for (const p of this.#o.commands.serving()) await this.#giveBack(p);
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      void this.#claimAll().finally(() => this.#schedule());
    }, this.#o.claimEveryMs);
  }

  /**
   * One round: gives back what the plan says, then asks for the partitions it names, one at a
   * time; each one won is rebuilt and served without waiting for the rest of the round.
   */
  async #claimAll(): Promise<void> {
    const serving = this.#o.commands.serving();
    let plan: { giveBack: readonly string[]; claim: readonly string[] };
    if (this.#o.plan === undefined)
      plan = { giveBack: [], claim: this.#o.partitions.filter((p) => !serving.includes(p)) };
    else {
      try {
        plan = await this.#o.plan(serving);
      } catch (err) {
        this.#o.logger?.error('partition: cannot see the cluster; nothing claimed this round', { err });
        return;
      }
    }
    for (const p of plan.giveBack) if (serving.includes(p)) await this.#giveBack(p);
    const adopting: Promise<void>[] = [];
    for (const p of plan.claim) {
      if (this.#closed) break;
      if (serving.includes(p) || this.#adopting.has(p) || !this.#o.partitions.includes(p)) continue;
      this.#adopting.add(p);
      let lease: Lease | null = null;
      try {
        lease = await this.#o.leases.acquire(p);
      } catch (err) {
        this.#o.logger?.error('partition: claim failed', { partition: p, err });
      }
      if (lease === null) {
        this.#adopting.delete(p);
        continue;
      }
      adopting.push(this.#adopt(lease));
    }
    await Promise.all(adopting);
  }

  /**
   * Gives a partition back (above this process's share): stop answering, drop its state (its
   * events queued first, so the next owner's take-over finds them), then release the lease.
   */
  async #giveBack(partition: string): Promise<void> {
    this.#o.commands.stop(partition);
    await this.#o.abandon?.(partition);
    await this.#o.leases.release(partition).catch(() => false);
  }

  async #adopt(lease: Lease): Promise<void> {
    const { partition } = lease;
    try {
      if (this.#closed) {
        await this.#o.leases.release(partition).catch(() => false);
        return;
      }
      try {
        await this.#o.adopt?.(lease);
      } catch (err) {
        this.#o.logger?.error('partition: rebuild failed, lease given back', { partition, err });
        await this.#o.leases.release(partition).catch(() => false);
        return;
      }
      // Closed during the rebuild: give it back rather than start serving.
      if (this.#closed) {
        await this.#o.abandon?.(partition);
        await this.#o.leases.release(partition).catch(() => false);
        return;
      }
      // Still ours after the rebuild: a lease lost meanwhile must not start serving, and what was
      // rebuilt for it goes.
      if (this.#o.leases.leaseOf(partition)?.token === lease.token) this.#o.commands.serve(partition, lease.token);
      else await this.#o.abandon?.(partition);
    } catch (err) {
      this.#o.logger?.error('partition: claim failed', { partition, err });
    } finally {
      this.#adopting.delete(partition);
    }
  }
}
