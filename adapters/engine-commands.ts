/**
 * How the gateways (REST handlers, rider sockets, the admin service) send the
 * engine its commands. In one process (`npm start`) that is the engine itself:
 * it answers at once, and the caller waits for durability as before. In a
 * cluster gateway (`--role gateway`) each command travels to its partition's
 * owner over NATS and is answered once durable there (adapters/cluster/
 * remote-commands.ts). Reads never come through here: a gateway reads its own
 * mirror of the partitions (docs/scale.md, "Gateways").
 */
import type { Engine } from '../engine/index.js';
import type { Executed, Queued } from '../engine/mailbox.js';
import type { CommandValue, EngineCommand } from '../protocol/index.js';

/** The engine's command methods a gateway calls. */
export type CommandMethod =
  | 'registerRestaurant'
  | 'setRestaurantStatus'
  | 'registerRider'
  | 'setRiderStatus'
  | 'riderConnected'
  | 'riderDisconnected'
  | 'placeOrder'
  | 'confirmPayment'
  | 'failPayment'
  | 'acceptOffer'
  | 'declineOffer'
  | 'pickedUp'
  | 'delivered'
  | 'cancelOrder'
  | 'updateRiderPosition';

/**
 * The command methods of {@link Engine}, each answering now or later. An
 * `Engine` is one (answers now); so is a cluster gateway's `RemoteCommands`.
 * Callers `await` every answer.
 */
export type EngineCommands = {
  readonly [K in CommandMethod]: (
    ...args: Parameters<Engine[K]>
  ) => ReturnType<Engine[K]> | Promise<ReturnType<Engine[K]>>;
} & {
  /** Any command as data (the admin's, a status change's). */
  execute<C extends EngineCommand>(
    cmd: C,
  ): Executed<CommandValue<C>> | Queued | Promise<Executed<CommandValue<C>> | Queued>;
};
