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
  /** Drops the partition's state after its lease was lost. */
  readonly abandon?: (partition: string) => void;
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
    this.#o.abandon?.(lease.partition);
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
    for (const p of this.#o.commands.serving()) {
      this.#o.commands.stop(p);
      await this.#o.leases.release(p).catch(() => false);
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      void this.#claimAll().finally(() => this.#schedule());
    }, this.#o.claimEveryMs);
  }

  async #claimAll(): Promise<void> {
    const serving = new Set(this.#o.commands.serving());
    await Promise.all(
      this.#o.partitions.filter((p) => !serving.has(p) && !this.#adopting.has(p)).map((p) => this.#claim(p)),
    );
  }

  async #claim(partition: string): Promise<void> {
    this.#adopting.add(partition);
    try {
      const lease = await this.#o.leases.acquire(partition);
      if (lease === null || this.#closed) return;
      try {
        await this.#o.adopt?.(lease);
      } catch (err) {
        this.#o.logger?.error('partition: rebuild failed, lease given back', { partition, err });
        await this.#o.leases.release(partition).catch(() => false);
        return;
      }
      // Still ours after the rebuild: a lease lost meanwhile must not start serving.
      if (this.#o.leases.leaseOf(partition)?.token === lease.token) this.#o.commands.serve(partition, lease.token);
    } catch (err) {
      this.#o.logger?.error('partition: claim failed', { partition, err });
    } finally {
      this.#adopting.delete(partition);
    }
  }
}
