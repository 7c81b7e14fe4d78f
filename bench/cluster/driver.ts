/**
 * What a gateway does for the cluster benchmark and the failover test, over
 * the real NATS: commands to each partition's owner through `CommandRouter`
 * (sent again while the partition has no owner), riders registered, online and
 * sending positions, orders placed, accepted and marked ready, and the relayed
 * events listened to so that riders accept their offers, pick up and deliver.
 * Each acknowledgement is kept (partition, lease token, time) for the checks.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { gridDisk, cellToLatLng, latLngToCell } from 'h3-js';
import { type BusResult, CommandRouter } from '../../adapters/cluster/command-bus.js';
import type { RelayedEvents } from '../../adapters/cluster/engine-node.js';
import type { PartitionMap } from '../../engine/index.js';
import type { CustomerId, EngineCommand, OrderId, RestaurantId, RiderId } from '../../protocol/index.js';
import { LatencyHistogram } from '../hdr.js';
import { insidePartition } from './engines.js';

export interface Ack {
  readonly partition: string;
  readonly token: number;
  readonly at: number;
}

export interface PlacedOrder {
  readonly id: OrderId;
  readonly partition: string;
  /** When the place command was sent (ms, wall). */
  readonly at: number;
}

export interface DriverOptions {
  readonly nc: NatsConnection;
  readonly prefix: string;
  readonly map: PartitionMap;
  /** How long one command is sent again while its partition has no owner, ms (default 20 s). */
  readonly retryForMs?: number;
  /** Riders deliver what they accepted at once, so they take the next order (default true). */
  readonly deliver?: boolean;
  /** Keep every relayed batch in `relayedLog` (tests). */
  readonly keepRelayed?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ClusterDriver {
  readonly router: CommandRouter;
  readonly acks: Ack[] = [];
  readonly placed: PlacedOrder[] = [];
  /** Order → the rider whose acceptance was acknowledged. */
  readonly acceptedBy = new Map<string, string>();
  /** Each acknowledged command's round trip, µs. */
  commandLatency = new LatencyHistogram();
  /** From sending the restaurant's acceptance (food ready a moment later) to the order's first offer relayed here, µs. */
  offerLatency = new LatencyHistogram();
  readonly riders = new Map<string, RiderId[]>();
  offersSeen = 0;
  refusals = 0;
  readonly #o: DriverOptions;
  readonly #sub: Subscription;
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #readyAt = new Map<string, number>();
  #seq = 0;

  constructor(o: DriverOptions) {
    this.#o = o;
    this.router = new CommandRouter(o.nc, { prefix: o.prefix, timeoutMs: 1_000 });
    this.#sub = o.nc.subscribe(`${o.prefix}.evt.>`, {
      callback: (err, msg) => {
        if (err === null) this.#relayed(msg.json<RelayedEvents>());
      },
    });
  }

  /** Sends until an owner answers (or the retry time passes). */
  async send(partition: string, cmd: EngineCommand): Promise<BusResult> {
    const until = Date.now() + (this.#o.retryForMs ?? 20_000);
    for (;;) {
      const t0 = performance.now();
      const r = await this.router.send(partition, cmd);
      if (r.ok) {
        this.commandLatency.recordMicros((performance.now() - t0) * 1000);
        this.acks.push({ partition, token: r.token!, at: Date.now() });
      }
      if (r.ok || r.code !== 'NO_PARTITION_OWNER' || Date.now() > until) {
        if (!r.ok) this.refusals++;
        return r;
      }
      await sleep(50);
    }
  }

  /** Each partition: a restaurant at its centre and `riders` riders, registered and online. */
  async setup(ridersPerPartition: number): Promise<string[]> {
    const refused: string[] = [];
    await Promise.all(
      this.#o.map.ids.map(async (p) => {
        const r = await this.send(p, {
          type: 'register_restaurant',
          restaurantId: restaurantOf(p),
          location: insidePartition(this.#o.map, p),
          prepMinutes: 10,
          capacity: 100_000,
        });
        if (!r.ok) refused.push(`restaurant of ${p}: ${r.code}`);
        const list: RiderId[] = [];
        for (let k = 0; k < ridersPerPartition; k++) {
          const id = `rider-${p}-${k}` as RiderId;
          list.push(id);
          for (const cmd of [
            { type: 'register_rider', riderId: id },
            { type: 'rider_online', riderId: id },
          ] as const) {
            const x = await this.send(p, cmd);
            if (!x.ok) refused.push(`${cmd.type} ${id}: ${x.code}`);
          }
        }
        this.riders.set(p, list);
      }),
    );
    return refused;
  }

  /** A point near the partition's restaurant (within about 1 km), the `k`th of a ring of cells. */
  near(p: string, k: number): { lat: number; lng: number } {
    const c = insidePartition(this.#o.map, p);
    const cells = gridDisk(latLngToCell(c.lat, c.lng, 9), 3);
    const [lat, lng] = cellToLatLng(cells[k % cells.length]!);
    return { lat, lng };
  }

  /** One position of every rider, all partitions at once; resolves when all are answered. */
  async positionsRound(): Promise<number> {
    let n = 0;
    await Promise.all(
      [...this.riders].map(async ([p, list]) => {
        for (const [k, id] of list.entries()) {
          const { lat, lng } = this.near(p, k);
          const r = await this.send(p, {
            type: 'update_rider_position',
            riderId: id,
            lat,
            lng,
            accuracy: 5,
            heading: 0,
            speed: 0,
            at: Date.now(),
          });
          if (r.ok) n++;
        }
      }),
    );
    return n;
  }

  /** Places one order in `p`, accepted by the restaurant and ready at once; resolves when acknowledged. */
  async order(p: string): Promise<boolean> {
    const i = this.#seq++;
    const id = randomUUID() as OrderId;
    const at = Date.now();
    const r = await this.send(p, {
      type: 'place_order',
      orderId: id,
      customerId: `cust-${i}` as CustomerId,
      restaurantId: restaurantOf(p),
      drop: this.near(p, i + 7),
      paid: true,
    });
    if (!r.ok) return false;
    this.placed.push({ id, partition: p, at });
    this.#readyAt.set(id, performance.now());
    await this.send(p, { type: 'restaurant_accept', orderId: id, prepMinutes: 1 });
    await this.send(p, { type: 'food_ready', orderId: id });
    return true;
  }

  /** Starts the latency histograms and the refusal count afresh (a benchmark's next step). */
  resetStats(): void {
    this.commandLatency = new LatencyHistogram();
    this.offerLatency = new LatencyHistogram();
    this.refusals = 0;
  }

  /** Resolves when every acceptance and delivery started so far is answered. */
  async settle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  close(): void {
    this.#sub.unsubscribe();
  }

  /** Relayed events by type (what the engines said, for reports). */
  readonly relayedTypes = new Map<string, number>();
  /** Every relayed batch with when it arrived (ms, wall), when `keepRelayed` is set. */
  readonly relayedLog: { readonly at: number; readonly batch: RelayedEvents }[] = [];

  #relayed(batch: RelayedEvents): void {
    if (this.#o.keepRelayed) this.relayedLog.push({ at: Date.now(), batch });
    for (const e of batch.events) {
      this.relayedTypes.set(e.type, (this.relayedTypes.get(e.type) ?? 0) + 1);
      if (e.type !== 'rider_offered') continue;
      this.offersSeen++;
      const orderId = (e as { orderId: OrderId }).orderId;
      const ready = this.#readyAt.get(orderId);
      if (ready !== undefined) {
        this.offerLatency.recordMicros((performance.now() - ready) * 1000);
        this.#readyAt.delete(orderId);
      }
      const riderId = e.id;
      const job = (async () => {
        const r = await this.send(batch.partition, { type: 'accept_offer', riderId, orderId });
        if (!r.ok) return;
        this.acceptedBy.set(orderId, riderId);
        if (this.#o.deliver === false) return;
        const up = await this.send(batch.partition, { type: 'picked_up', riderId, orderId });
        if (up.ok) await this.send(batch.partition, { type: 'delivered', riderId, orderId });
      })();
      this.#inflight.add(job);
      void job.finally(() => this.#inflight.delete(job));
    }
  }
}

export const restaurantOf = (p: string): RestaurantId => `rest-${p}` as RestaurantId;
