/**
 * A cluster gateway's read mirror (docs/scale.md, "Gateways"): one engine built
 * with `mirror: true` holding every partition, loaded from Postgres and the
 * queue at start, then kept current by the engine processes' relay: each
 * relayed command brings its events and the state rows of the actors they
 * name, which the mirror absorbs before its listeners (the gateway's sockets)
 * hear the events. An owner answers a command only after relaying its events,
 * on the same NATS connection, so a gateway that reads right after a command's
 * answer reads its own write.
 *
 * The relay is at most once. A partition whose relay comes under a new token
 * (a failover: the new owner may hold events nobody relayed) is read again
 * from the store, and so is every partition every `resyncEveryMs`, which also
 * repairs a message lost on the way. A row older than the one held is ignored.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Engine, PartitionMap } from '../../engine/index.js';
import type { EventBatch, EventRecord, EventStore } from '../../engine/ports/event-store.js';
import type { RelayedRows } from '../../engine/index.js';
import type { OrderSnapshotRow, RestaurantSnapshotRow, RiderSnapshotRow } from '../../engine/snapshot.js';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import type { RiderId } from '../../protocol/index.js';
import { applyStanding, type StandingActions } from '../admin/admin-audit.js';
import { loadMirror, mirrorRows, type RecoveryOptions, type RecoveryReport } from '../persistence/recovery.js';
import type { RelayedEvents } from './engine-node.js';
import type { RiderDirectory } from './remote-commands.js';

export interface GatewayMirrorOptions {
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly map: PartitionMap;
  readonly store: EventStore;
  readonly queue: JobQueue<EventBatch>;
  /** The mirror engine's options (clock, config, retention). */
  readonly engine: Omit<RecoveryOptions, 'mirror'>;
  /** How often every partition is read again from the store, ms (default 60 s; 0: never). */
  readonly resyncEveryMs?: number;
  /** The operators' recorded settings, drains and policies (adapters/admin/admin-audit.ts), told to the mirror at start and at each resync. */
  readonly standing?: () => Promise<StandingActions>;
  readonly log: { info(o: Record<string, unknown>): void; warn(o: Record<string, unknown>): void };
}

/** What the mirror counts, for the gateway's metrics and tests. */
export interface GatewayMirrorStats {
  /** Relayed commands absorbed. */
  relayed: number;
  /** Relay messages refused (not JSON, another version). */
  malformed: number;
  /** Partitions read again from the store, by why. */
  readonly resyncs: Map<string, number>;
}

const dec = new TextDecoder();

export class GatewayMirror implements RiderDirectory {
  readonly engine: Engine;
  readonly report: RecoveryReport;
  readonly stats: GatewayMirrorStats = { relayed: 0, malformed: 0, resyncs: new Map() };
  readonly #o: GatewayMirrorOptions;
  /** Each rider's partition, and the seq of the row that said so: a late relay never moves it back. */
  readonly #riders = new Map<string, { partition: string; seq: number }>();
  /** The highest token seen relayed per partition. */
  readonly #tokens = new Map<string, number>();
  readonly #sub: Subscription;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  private constructor(o: GatewayMirrorOptions, sub: Subscription, load: Awaited<ReturnType<typeof loadMirror>>) {
    this.#o = o;
    this.#sub = sub;
    this.engine = load.engine;
    this.report = load.report;
    this.#place(load.riders);
  }

  #place(riders: ReadonlyMap<string, { partition: string; seq: number }>): void {
    for (const [id, at] of riders) this.#placeRider(id, at.partition, at.seq);
  }

  #placeRider(id: string, partition: string, seq: number): void {
    const held = this.#riders.get(id);
    if (held === undefined || seq >= held.seq) this.#riders.set(id, { partition, seq });
  }

  /**
   * Subscribes to every partition's relay first, then loads the mirror, then absorbs what was
   * relayed meanwhile (rows it already loaded are older or equal, and ignored): nothing falls
   * between the load and the first relay.
   */
  static async start(o: GatewayMirrorOptions): Promise<GatewayMirror> {
    const early: RelayedEvents[] = [];
    let mirror: GatewayMirror | undefined;
    const sub = o.nc.subscribe(`${o.prefix}.evt.*`, {
      callback: (err, msg) => {
        if (err) return;
        let relayed: RelayedEvents;
        try {
          relayed = JSON.parse(dec.decode(msg.data)) as RelayedEvents;
        } catch {
          if (mirror) mirror.stats.malformed++;
          return;
        }
        if (mirror) mirror.#absorb(relayed);
        else early.push(relayed);
      },
    });
    try {
      const load = await loadMirror(o.store, o.queue, mirrorScope(o.map), o.engine);
      mirror = new GatewayMirror(o, sub, load);
    } catch (err) {
      sub.unsubscribe();
      throw err;
    }
    for (const r of early) mirror.#absorb(r);
    await mirror.#settings();
    const every = o.resyncEveryMs ?? 60_000;
    if (every > 0) {
      mirror.#timer = setInterval(() => {
        for (const p of o.map.ids) void mirror.resync(p, 'periodic');
        void mirror.#settings();
      }, every);
      mirror.#timer.unref();
    }
    return mirror;
  }

  /** The operators' settings as recorded: they ride in no row and no event. */
  async #settings(): Promise<void> {
    if (this.#o.standing === undefined) return;
    try {
      applyStanding(this.engine, await this.#o.standing(), this.#o.log);
    } catch (err) {
      this.#o.log.warn({ msg: `operator settings not read for the mirror: ${String(err)}` });
    }
  }

  /** The partition whose owners last wrote the rider; undefined for a rider never written. */
  partitionOfRider(id: RiderId): string | undefined {
    return this.#riders.get(id)?.partition;
  }

  #absorb(r: RelayedEvents): void {
    if (r?.v !== 1 || typeof r.partition !== 'string' || !Array.isArray(r.events) || r.states === undefined) {
      this.stats.malformed++;
      return;
    }
    this.stats.relayed++;
    const known = this.#tokens.get(r.partition);
    if (known === undefined || r.token > known) this.#tokens.set(r.partition, r.token);
    // A rider handed over stays with the partition that handed it over (which answers its commands
    // NO_PARTITION_OWNER, so they are sent again) until the relay of its take-over names the next one.
    for (const row of r.states.riders) this.#placeRider(row.id, r.partition, row.seq);
    this.engine.absorb(r.states, r.events);
    // A new owner: it took over events its predecessor may never have relayed. Read them from the store.
    if (known !== undefined && r.token > known) void this.resync(r.partition, 'new_owner');
  }

  /** Reads one partition's rows again from the store (and the queue) and absorbs the newer ones. */
  async resync(partition: string, why: string): Promise<void> {
    if (this.#closed) return;
    try {
      const { stored, records, riders } = await mirrorRows(
        this.#o.store,
        this.#o.queue,
        { ...mirrorScope(this.#o.map), partitions: [partition] },
        this.#o.engine,
      );
      if (this.#closed) return;
      this.#place(riders);
      // Stored rows, then what is still queued: the mirror keeps whichever is newer by seq.
      this.engine.absorb(stored, []);
      this.engine.absorb(rowsOf(records), []);
      this.stats.resyncs.set(why, (this.stats.resyncs.get(why) ?? 0) + 1);
    } catch (err) {
      this.#o.log.warn({ msg: `mirror of partition ${partition} not read again (${why}): ${String(err)}`, partition });
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#sub.unsubscribe();
  }
}

function mirrorScope(map: PartitionMap) {
  return {
    partitions: map.ids,
    partitionOfPoint: (lat: number, lng: number) => map.partitionOfPoint(lat, lng),
    riderFallback: map.defaultPartition ?? map.ids[0]!,
  };
}

/** The state rows queued records carry, by kind. */
function rowsOf(records: readonly EventRecord[]): RelayedRows {
  const rows = {
    restaurants: [] as RestaurantSnapshotRow[],
    riders: [] as RiderSnapshotRow[],
    orders: [] as OrderSnapshotRow[],
  };
  for (const { event, state } of records) {
    if (state === undefined || state === null) continue;
    if (event.aggregate === 'order') rows.orders.push(state as OrderSnapshotRow);
    else if (event.aggregate === 'rider') rows.riders.push(state as RiderSnapshotRow);
    else rows.restaurants.push(state as RestaurantSnapshotRow);
  }
  return rows;
}
