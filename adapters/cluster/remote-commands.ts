/**
 * A cluster gateway's {@link EngineCommands} (docs/scale.md, "Gateways"): each
 * command goes over NATS to the owner of the partition its actors live in, and
 * is answered once its events are durable there. Which partition, the gateway's
 * mirror says: a restaurant's by its place, an order's by its restaurant, a
 * rider's by the partition whose events last carried it. The engine's own
 * rules run at the owner; this file only finds the way.
 */
import type { Engine, PartitionMap } from '../../engine/index.js';
import {
  type CommandValue,
  type EngineCommand,
  type OrderId,
  PositionStatus,
  type RestaurantId,
  type RiderId,
  reject,
  type Result,
} from '../../protocol/index.js';
import type { Executed } from '../../engine/mailbox.js';
import { DependencyUnavailableError } from '../dependency-error.js';
import type { EngineCommands } from '../engine-commands.js';
import type { BusResult } from './command-bus.js';

/** Sends one command to one partition's owner (a `CommandRouter`, or a test's stand-in). */
export interface CommandSender {
  send(partition: string, cmd: EngineCommand): Promise<BusResult>;
}

/** Where the gateway's mirror keeps its riders: the partition whose relay last carried each one. */
export interface RiderDirectory {
  partitionOfRider(id: RiderId): string | undefined;
}

export interface RemoteCommandsOptions {
  readonly sender: CommandSender;
  /** The gateway's mirror of every partition (reads only). */
  readonly mirror: Engine;
  readonly riders: RiderDirectory;
  readonly map: PartitionMap;
}

/** The commands that set an operator's settings: told to the mirror too once the owners applied them. */
const SETTINGS: ReadonlySet<string> = new Set(['set_dispatch_config', 'drain_shard', 'set_shard_policy']);

export class RemoteCommands implements EngineCommands {
  readonly #o: RemoteCommandsOptions;
  /** Where a rider nobody has written yet goes: the map's default partition, else its first. */
  readonly #newRiders: string;

  constructor(o: RemoteCommandsOptions) {
    this.#o = o;
    this.#newRiders = o.map.defaultPartition ?? o.map.ids[0]!;
  }

  /** The partition a command belongs to, or why it has none. */
  partitionOf(cmd: EngineCommand): Result<string> {
    const c = cmd as Partial<Record<'orderId' | 'restaurantId' | 'riderId', string>> & EngineCommand;
    if (cmd.type === 'register_restaurant') {
      const p = this.#o.map.partitionOfPoint(cmd.location.lat, cmd.location.lng);
      return p === null
        ? reject('INVALID_ARGUMENT', 'the restaurant is outside every partition of the service area')
        : { ok: true, value: p };
    }
    // An order and its rider are in one partition (its offers come from there): the order says which.
    if (c.orderId !== undefined && cmd.type !== 'place_order') {
      const o = this.#o.mirror.getOrder(c.orderId as OrderId);
      if (!o.ok) return reject('ORDER_NOT_FOUND', `no order ${c.orderId}`);
      return this.#restaurant(o.value.restaurantId);
    }
    if (c.restaurantId !== undefined) return this.#restaurant(c.restaurantId as RestaurantId);
    if (c.riderId !== undefined)
      return { ok: true, value: this.#o.riders.partitionOfRider(c.riderId as RiderId) ?? this.#newRiders };
    if (cmd.type === 'drain_shard' || cmd.type === 'set_shard_policy') {
      // A shard is a cell of the engine's shard resolution: its partition is its parent's.
      let p: string | null;
      try {
        p = this.#o.map.partitionOf(cmd.shard);
      } catch {
        return reject('INVALID_ARGUMENT', `shard ${JSON.stringify(cmd.shard)} is not a cell inside one partition`);
      }
      return p === null
        ? reject('INVALID_ARGUMENT', `shard ${cmd.shard} is outside every partition`)
        : { ok: true, value: p };
    }
    return reject('INVALID_ARGUMENT', `${cmd.type} names no order, restaurant or rider: a gateway cannot route it`);
  }

  #restaurant(id: RestaurantId): Result<string> {
    const r = this.#o.mirror.getRestaurant(id);
    if (!r.ok) return reject('RESTAURANT_NOT_FOUND', `no restaurant ${id}`);
    const p = this.#o.map.partitionOfPoint(r.value.location.lat, r.value.location.lng);
    return p === null
      ? reject('RESTAURANT_NOT_FOUND', `restaurant ${id} is outside every partition`)
      : { ok: true, value: p };
  }

  /** Sends `cmd` to its partition's owner; answers its result once durable there. */
  async send<C extends EngineCommand>(cmd: C): Promise<Result<CommandValue<C>>> {
    if (cmd.type === 'set_dispatch_config') return this.#everywhere(cmd);
    const p = this.partitionOf(cmd);
    if (!p.ok) return p;
    const r = await this.#o.sender.send(p.value, cmd);
    if (r.ok && SETTINGS.has(cmd.type)) this.#o.mirror.execute(cmd);
    return r.ok ? { ok: true, value: r.value as CommandValue<C> } : reject(r.code, r.detail);
  }

  /**
   * The dispatch settings are every partition's: sent to each owner; answered ok once all
   * applied them, else the first refusal, naming the partitions that did not (sending it again
   * is safe: the settings are the same). A partition taken over later applies the recorded ones.
   */
  async #everywhere<C extends EngineCommand>(cmd: C): Promise<Result<CommandValue<C>>> {
    const ids = this.#o.map.ids;
    const rs = await Promise.all(ids.map((p) => this.#o.sender.send(p, cmd)));
    const failed = ids.filter((_, i) => !rs[i]!.ok);
    if (failed.length > 0) {
      const first = rs.find((r) => !r.ok) as Extract<BusResult, { ok: false }>;
      return reject(first.code, `${first.detail} (not applied in ${failed.join(', ')}; send it again)`);
    }
    this.#o.mirror.execute(cmd);
    const answered = rs[0]!;
    return { ok: true, value: (answered.ok ? answered.value : null) as CommandValue<C> };
  }

  async execute<C extends EngineCommand>(cmd: C): Promise<Executed<CommandValue<C>>> {
    // The owner ran it (or refused it); its events reach the mirror by the relay, before this answer.
    return { queued: false, result: await this.send(cmd), events: [] };
  }

  /**
   * A position, to the rider's partition; on APPLIED the mirror shows it too, so this gateway's
   * tracking answers move with the rider. No owner answering is a dependency down (503).
   */
  async updateRiderPosition(
    riderId: RiderId,
    lat: number,
    lng: number,
    accuracy: number,
    heading: number,
    speed: number,
    at: number,
  ): Promise<PositionStatus> {
    const r = await this.send({ type: 'update_rider_position', riderId, lat, lng, accuracy, heading, speed, at });
    if (!r.ok) {
      if (r.code === 'INVALID_ARGUMENT') return PositionStatus.INVALID;
      throw new DependencyUnavailableError(`position of rider ${riderId} not applied: ${r.code} ${r.detail}`);
    }
    if (r.value === PositionStatus.APPLIED)
      this.#o.mirror.mirrorPosition(riderId, lat, lng, accuracy, heading, speed, at);
    return r.value;
  }

  readonly registerRestaurant: EngineCommands['registerRestaurant'] = (cmd) =>
    this.send({ type: 'register_restaurant', ...cmd });
  readonly setRestaurantStatus: EngineCommands['setRestaurantStatus'] = (restaurantId, status) =>
    this.send({ type: 'set_restaurant_status', restaurantId, status });
  readonly registerRider: EngineCommands['registerRider'] = (cmd) => this.send({ type: 'register_rider', ...cmd });
  readonly setRiderStatus: EngineCommands['setRiderStatus'] = (riderId, status) =>
    this.send({ type: 'set_rider_status', riderId, status });
  readonly riderConnected: EngineCommands['riderConnected'] = (riderId) =>
    this.send({ type: 'rider_connected', riderId });
  readonly riderDisconnected: EngineCommands['riderDisconnected'] = (riderId) =>
    this.send({ type: 'rider_disconnected', riderId });
  readonly placeOrder: EngineCommands['placeOrder'] = (cmd) => this.send({ type: 'place_order', ...cmd });
  readonly confirmPayment: EngineCommands['confirmPayment'] = (orderId) =>
    this.send({ type: 'confirm_payment', orderId });
  readonly failPayment: EngineCommands['failPayment'] = (orderId) => this.send({ type: 'fail_payment', orderId });
  readonly acceptOffer: EngineCommands['acceptOffer'] = (riderId, orderId) =>
    this.send({ type: 'accept_offer', riderId, orderId });
  readonly declineOffer: EngineCommands['declineOffer'] = (riderId, orderId) =>
    this.send({ type: 'decline_offer', riderId, orderId });
  readonly pickedUp: EngineCommands['pickedUp'] = (riderId, orderId) =>
    this.send({ type: 'picked_up', riderId, orderId });
  readonly delivered: EngineCommands['delivered'] = (riderId, orderId) =>
    this.send({ type: 'delivered', riderId, orderId });
  readonly cancelOrder: EngineCommands['cancelOrder'] = (cmd) => this.send({ type: 'cancel_order', ...cmd });
}
