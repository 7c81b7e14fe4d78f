import type { NatsConnection } from '@nats-io/transport-node';
import { gridDisk, latLngToCell } from 'h3-js';
import type { Engine, PartitionMap } from '../../engine/index.js';
import type { EventBatch, EventStore } from '../../engine/ports/event-store.js';
import type { OrderSnapshotRow, RestaurantSnapshotRow, RiderSnapshotRow } from '../../engine/snapshot.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import {
  type EngineCommand,
  type EngineEvent,
  type HandedRider,
  type OrderId,
  PositionStatus,
  reject,
  type Result,
  type RiderId,
} from '../../protocol/index.js';
import { recoverPartition, type RecoveryOptions, takeOverQueued } from '../persistence/recovery.js';
import { type LocalStore, WriteBehind } from '../persistence/write-behind.js';
import { applyStanding, type StandingActions } from '../admin/admin-audit.js';
import { CommandRouter, CommandServer } from './command-bus.js';
import type { LeaseBucket } from './nats-connection.js';
import { type Lease, LeaseManager } from './nats-lease.js';
import { Membership, planRound } from './membership.js';
import { PartitionHost } from './partition-host.js';

/**
 * One engine process of a cluster (docs/scale.md, "An engine process"): it
 * holds the leases of whichever partitions it can get, rebuilds each one it
 * takes into an engine of its own, answers that partition's commands over
 * NATS, writes its events behind under the lease's fencing token and relays
 * them, once durable, on `<prefix>.evt.<partition>`. A partition lost (lease
 * lapsed or taken) stops being answered at once and its engine is dropped.
 */
export interface EngineNodeOptions {
  readonly nc: NatsConnection;
  readonly bucket: LeaseBucket;
  /** Subject prefix of commands and events. */
  readonly prefix: string;
  readonly map: PartitionMap;
  /** The partitions this process may own (default every partition of the map). */
  readonly partitions?: readonly string[];
  readonly store: EventStore;
  readonly queue: JobQueue<EventBatch>;
  /** This process's own writer, which stores each tenure's jobs from memory (WriteBehind's `local`). */
  readonly local?: LocalStore;
  /** Unique per process start (`processOwnerId`). */
  readonly owner: string;
  readonly renewEveryMs?: number;
  readonly marginMs?: number;
  /** How often partitions not held are asked for, ms (default the renewal period). */
  readonly claimEveryMs?: number;
  /**
   * The operators' recorded settings, drains and policies (adapters/admin/admin-audit.ts): applied
   * to each partition taken over, as `npm start` applies them at start. None: defaults.
   */
  readonly standing?: () => Promise<StandingActions>;
  /** The engines' options (clock, config, retention); each partition's seed comes from its name. */
  readonly engine: Omit<RecoveryOptions, 'seed'>;
  readonly log: {
    info(o: Record<string, unknown>): void;
    warn(o: Record<string, unknown>): void;
    error(o: Record<string, unknown>): void;
  };
}

/** One partition held: its engine and write-behind, under the lease's token. */
interface Tenure {
  readonly token: number;
  readonly engine: Engine;
  readonly writeBehind: WriteBehind;
  unsubscribe: () => void;
  /** Riders handed over whose take-over the next partition has not answered yet. */
  readonly handing: Set<string>;
  /** Orders whose border search asked the neighbours lately (one search at a time, then a pause). */
  readonly borrowing: Set<string>;
  dropped: boolean;
}

/** What an engine process relays of a partition's events, once they are durable. */
export interface RelayedEvents {
  readonly v: 1;
  readonly partition: string;
  readonly token: number;
  readonly events: readonly EngineEvent[];
  /**
   * The state rows, after the command, of every actor its events name (what write-behind stores):
   * a gateway's mirror absorbs them (adapters/cluster/gateway-mirror.ts).
   */
  readonly states: RelayedStates;
}

/** Actor state rows by kind, as `Engine.snapshotRow` makes them. */
export interface RelayedStates {
  readonly restaurants: RestaurantSnapshotRow[];
  readonly riders: RiderSnapshotRow[];
  readonly orders: OrderSnapshotRow[];
}

/** The state rows of the actors `events` name, as they are now. */
export function statesOf(engine: Engine, events: readonly EngineEvent[]): RelayedStates {
  const states: RelayedStates = { restaurants: [], riders: [], orders: [] };
  const seen = new Set<string>();
  for (const e of events) {
    const key = `${e.aggregate}/${e.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const row = engine.snapshotRow(e.aggregate, e.id);
    if (row === undefined) continue;
    if (e.aggregate === 'order') states.orders.push(row as OrderSnapshotRow);
    else if (e.aggregate === 'rider') states.riders.push(row as RiderSnapshotRow);
    else states.restaurants.push(row as RestaurantSnapshotRow);
  }
  return states;
}

/** The subject a partition's durable events are relayed on. */
export const eventSubject = (prefix: string, partition: string): string => `${prefix}.evt.${partition}`;

const enc = new TextEncoder();

/** After a neighbour lent a rider for an order, how long before the order's border search may ask again, ms. */
const BORROW_PAUSE_MS = 10_000;

/** What an engine process counts, for its metrics (adapters/cluster/engine-role.ts). */
export interface EngineNodeStats {
  /** Commands answered, by outcome: `ok` or the refusal's code. */
  readonly commands: Map<string, number>;
  /** Partitions taken (rebuilt and served). */
  adopted: number;
  /** Partitions lost (lease lapsed or taken) or given back, by why. */
  readonly dropped: Map<string, number>;
  /** Riders handed over to another partition and taken over there. */
  handedOver: number;
  /** Border searches: neighbours asked for a rider, and riders they lent. */
  borderSearches: number;
  borrowed: number;
  /** Milliseconds of the last take-over and rebuild. */
  lastAdoptMs: number;
}

export class EngineNode {
  readonly #o: EngineNodeOptions;
  readonly #tenures = new Map<string, Tenure>();
  readonly #leases: LeaseManager;
  readonly #commands: CommandServer;
  readonly #host: PartitionHost;
  readonly #members: Membership;
  readonly stats: EngineNodeStats = {
    commands: new Map(),
    adopted: 0,
    dropped: new Map(),
    lastAdoptMs: 0,
    handedOver: 0,
    borderSearches: 0,
    borrowed: 0,
  };
  /** Sends take-overs to the partitions riders move into. */
  readonly #router: CommandRouter;

  private constructor(o: EngineNodeOptions) {
    this.#o = o;
    const renewEveryMs = o.renewEveryMs ?? Math.floor(o.bucket.ttlMs / 3);
    this.#leases = new LeaseManager({
      bucket: o.bucket,
      owner: o.owner,
      renewEveryMs,
      ...(o.marginMs === undefined ? {} : { marginMs: o.marginMs }),
      onLost: (lease, reason, detail) => {
        o.log.warn({ msg: `partition ${lease.partition} lost (${reason}): ${detail}`, partition: lease.partition });
        count(this.stats.dropped, reason);
        this.#host.lost(lease);
      },
    });
    this.#commands = new CommandServer(o.nc, {
      prefix: o.prefix,
      run: (cmd, partition, token) => this.#run(cmd, partition, token),
      holds: (p, t) => this.#leases.leaseOf(p)?.token === t,
    });
    this.#router = new CommandRouter(o.nc, { prefix: o.prefix });
    this.#members = new Membership(o.bucket, o.owner, { everyMs: renewEveryMs });
    const partitions = o.partitions ?? o.map.ids;
    this.#host = new PartitionHost({
      leases: this.#leases,
      commands: this.#commands,
      partitions,
      plan: async (serving) => planRound(await this.#members.observe(o.map.ids), serving),
      claimEveryMs: o.claimEveryMs ?? renewEveryMs,
      adopt: (lease) => this.#adopt(lease),
      abandon: (p) => this.#abandon(p),
      logger: { error: (m, detail) => o.log.error({ msg: m, detail: String(detail) }) },
    });
  }

  /** Starts claiming; resolves after the first round (some partitions may be served already). */
  static async start(o: EngineNodeOptions): Promise<EngineNode> {
    for (const p of o.partitions ?? []) {
      if (!o.map.ids.includes(p as never)) throw new RangeError(`partition ${p} is not in the partition map`);
    }
    const node = new EngineNode(o);
    await node.#members.start();
    await node.#host.start();
    return node;
  }

  /** The partitions answered now. */
  serving(): string[] {
    return this.#host.serving();
  }

  /** The engine of a partition held now (tests, metrics). */
  engineOf(partition: string): Engine | undefined {
    return this.#tenures.get(partition)?.engine;
  }

  /** Stops answering, flushes each partition's events into the queue, gives the leases back. */
  async close(): Promise<void> {
    await this.#members.close();
    await this.#host.close();
    for (const p of [...this.#tenures.keys()]) await this.#drop(p, true);
    await this.#leases.close();
  }

  /** Takes a partition over (its predecessors' queued events under our token), then rebuilds it. */
  async #adopt(lease: Lease): Promise<void> {
    const { partition, token } = lease;
    const t0 = performance.now();
    const took = await takeOverQueued(this.#o.queue, this.#o.store, { partition, token });
    if (!took.ok) throw new Error(`take-over of ${partition} refused: ${took.code} ${took.detail}`);
    const map = this.#o.map;
    const { engine, report } = await recoverPartition(
      this.#o.store,
      this.#o.queue,
      {
        partition,
        partitionOfPoint: (lat, lng) => map.partitionOfPoint(lat, lng),
        riderFallback: map.defaultPartition ?? map.ids[0]!,
      },
      this.#o.engine,
    );
    if (this.#o.standing) applyStanding(engine, await this.#o.standing(), this.#o.log);
    const writeBehind = new WriteBehind(engine, this.#o.queue, { partition, token }, this.#o.local);
    const tenure: Tenure = {
      token,
      engine,
      writeBehind,
      unsubscribe: () => {},
      handing: new Set(),
      borrowing: new Set(),
      dropped: false,
    };
    const subject = eventSubject(this.#o.prefix, partition);
    // Relayed once durable, in order (barriers resolve in the order they were asked), and only while
    // the lease holds: what an owner woken past its lease emits (a deadline due during the pause) is
    // refused by the fence, so it is never said either.
    const unsubscribe = engine.subscribeBatches(({ events }) => {
      if (events.length === 0) return;
      for (const e of events) if (e.type === 'order_no_rider') this.#borrow(tenure, partition, e.id);
      // The rows as this command left them, taken now: the relay goes later, once durable.
      const relayed: RelayedEvents = { v: 1, partition, token, events, states: statesOf(engine, events) };
      writeBehind.barrier().then(
        () => {
          if (this.#leases.leaseOf(partition)?.token !== token) return;
          this.#o.nc.publish(subject, enc.encode(JSON.stringify(relayed)));
        },
        () => {},
      );
    });
    tenure.unsubscribe = unsubscribe;
    this.#tenures.set(partition, tenure);
    // Riders this partition handed over whose take-over is not known to have landed (a crash, a
    // failover between the two): asked again; a partition that took one over already answers ok.
    for (const row of engine.toSnapshot().riders)
      if (row.away !== undefined) this.#takeOverThere(tenure, partition, row.id, row.away, row as never);
    this.stats.adopted++;
    this.stats.lastAdoptMs = Math.round(performance.now() - t0);
    this.#o.log.info({
      msg: `partition ${partition} owned (token ${token}): ${took.value.records.length} queued records taken over, rebuilt in ${this.stats.lastAdoptMs} ms`,
      partition,
      lease_token: token,
      ...report,
    });
  }

  #abandon(partition: string): Promise<void> {
    if (this.#leases.leaseOf(partition) !== undefined) count(this.stats.dropped, 'given_back');
    return this.#drop(partition, false);
  }

  /** Stops a partition's engine; its write-behind hands on what it holds (refused by the fence if stale). */
  async #drop(partition: string, flush: boolean): Promise<void> {
    const t = this.#tenures.get(partition);
    if (t === undefined) return;
    this.#tenures.delete(partition);
    this.#o.log.info({ msg: `partition ${partition} dropped: no longer served here`, partition });
    t.dropped = true;
    t.unsubscribe();
    t.engine.stop();
    await t.writeBehind.close().catch((err: unknown) => {
      if (flush) this.#o.log.error({ msg: `partition ${partition}: events not queued at close`, err: String(err) });
    });
  }

  /** Runs one command in the partition's engine and answers once its events are durable. */
  async #run(cmd: EngineCommand, partition: string, token: number): Promise<Result<unknown>> {
    let r: Result<unknown>;
    try {
      r = await this.#execute(cmd, partition, token);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      count(this.stats.commands, typeof code === 'string' ? code : 'INTERNAL');
      throw err;
    }
    count(this.stats.commands, r.ok ? 'ok' : r.code);
    return r;
  }

  async #execute(cmd: EngineCommand, partition: string, token: number): Promise<Result<unknown>> {
    const t = this.#tenures.get(partition);
    if (t === undefined || t.token !== token) return reject('NO_PARTITION_OWNER', `partition ${partition} moved`);
    const misplaced = this.#misplaced(cmd, partition);
    if (misplaced !== undefined) return reject('INVALID_ARGUMENT', misplaced);
    const x = t.engine.execute(cmd);
    // Nothing else runs inside this engine's commands, so a command is never queued here.
    if (x.queued) return reject('INTERNAL', 'command queued inside another');
    await t.writeBehind.barrier();
    if (cmd.type === 'update_rider_position' && x.result.ok && x.result.value === PositionStatus.APPLIED) {
      const there = this.#o.map.partitionOfPoint(cmd.lat, cmd.lng);
      if (there !== null && there !== partition) this.#handOver(t, partition, cmd.riderId, there);
    }
    // A rider lent to a neighbour (the border search) goes there as a handed-over one does, with the order it is for.
    if (cmd.type === 'lend_rider' && x.result.ok && x.result.value !== null) {
      const row = x.result.value as HandedRider;
      this.#takeOverThere(t, partition, row.id, cmd.to, row, cmd.forOrder);
    }
    return x.result;
  }

  /**
   * The border search (docs/scale.md, "The border search"): an order of this partition found no
   * rider, and its pickup's map cell touches other partitions. Each such neighbour is asked in turn
   * to lend its nearest free rider within the pickup radius; one that does hands the rider over
   * here with the order, which is offered to it on arrival. One search per order at a time, and
   * none again for the order within {@link BORROW_PAUSE_MS} of a rider lent.
   */
  #borrow(t: Tenure, partition: string, orderId: string): void {
    if (t.borrowing.has(orderId)) return;
    const v = t.engine.getOrder(orderId as OrderId);
    if (!v.ok) return;
    const { pickup } = v.value;
    const map = this.#o.map;
    const neighbours = new Set<string>();
    for (const cell of gridDisk(latLngToCell(pickup.lat, pickup.lng, map.resolution), 1)) {
      const p = map.partitionOf(cell);
      if (p !== null && p !== partition) neighbours.add(p);
    }
    if (neighbours.size === 0) return;
    t.borrowing.add(orderId);
    this.stats.borderSearches++;
    const search = async (): Promise<boolean> => {
      for (const q of neighbours) {
        if (t.dropped) return false;
        const r = await this.#router.send(q, {
          type: 'lend_rider',
          near: pickup,
          withinM: t.engine.config.maxPickupDistanceM,
          to: partition,
          forOrder: orderId as OrderId,
        });
        if (r.ok && r.value !== null) return true;
      }
      return false;
    };
    search().then(
      (lent) => {
        if (!lent) {
          t.borrowing.delete(orderId);
          return;
        }
        this.stats.borrowed++;
        setTimeout(() => t.borrowing.delete(orderId), BORROW_PAUSE_MS).unref();
      },
      (err: unknown) => {
        t.borrowing.delete(orderId);
        this.#o.log.warn({ msg: `order ${orderId}: border search failed: ${String(err)}`, partition });
      },
    );
  }

  /**
   * A rider whose position lies in another partition is handed over there once it is free
   * (docs/scale.md, "Handover"): the tombstone here first, durable, then the take-over there,
   * asked until answered while this partition is held. A rider with an offer or a job is
   * refused by the engine and stays until a position after its job.
   */
  #handOver(t: Tenure, partition: string, riderId: RiderId, to: string): void {
    if (t.handing.has(riderId)) return;
    const x = t.engine.execute({ type: 'hand_over_rider', riderId, to });
    if (x.queued || !x.result.ok) return;
    const row = x.result.value;
    t.handing.add(riderId);
    void t.writeBehind.barrier().then(
      () => this.#takeOverThere(t, partition, riderId, to, row),
      () => this.#takeOverThere(t, partition, riderId, to, row),
    );
  }

  /** Asks `to` to take the rider over until it answers, while this tenure lasts and its lease holds. */
  #takeOverThere(
    t: Tenure,
    partition: string,
    riderId: string,
    to: string,
    row: HandedRider,
    forOrder?: OrderId,
  ): void {
    t.handing.add(riderId);
    const attempt = async (n: number): Promise<void> => {
      // Durable here first (a barrier refused is asked again), and said only while the lease holds:
      // the tombstone is what the next owner of this partition rebuilds, as for any acknowledged command.
      await t.writeBehind.barrier();
      if (t.dropped || this.#leases.leaseOf(partition)?.token !== t.token) return;
      const r = await this.#router.send(to, {
        type: 'take_over_rider',
        riderId: riderId as RiderId,
        from: partition,
        row,
        ...(forOrder === undefined ? {} : { forOrder }),
      });
      if (r.ok) {
        t.handing.delete(riderId);
        this.stats.handedOver++;
        return;
      }
      // No owner there yet is the usual reason, and worth a line now and then; anything else is a fault.
      if (n % 10 === 0)
        this.#o.log[r.code === 'NO_PARTITION_OWNER' ? 'warn' : 'error']({
          msg: `rider ${riderId}: take-over by ${to} not answered yet (${r.code} ${r.detail}); asked again`,
          partition,
        });
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** n)));
      return attempt(n + 1);
    };
    attempt(0).catch((err: unknown) =>
      this.#o.log.error({ msg: `rider ${riderId}: take-over by ${to} not asked: ${String(err)}`, partition }),
    );
  }

  /** Why a command does not belong to this partition (a restaurant placed in another one). */
  #misplaced(cmd: EngineCommand, partition: string): string | undefined {
    if (cmd.type !== 'register_restaurant') return undefined;
    const at = this.#o.map.partitionOfPoint(cmd.location.lat, cmd.location.lng);
    return at === partition
      ? undefined
      : `restaurant ${cmd.restaurantId} is in partition ${at ?? 'none'}, not ${partition}`;
  }
}

const count = (m: Map<string, number>, key: string): void => {
  m.set(key, (m.get(key) ?? 0) + 1);
};
