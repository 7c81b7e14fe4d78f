/**
 * `npm start -- --role gateway`: a gateway of a cluster (docs/scale.md,
 * "Gateways"). It serves what `npm start` serves to clients (the seed's REST
 * API, the rider and stream sockets, the console) with no engine of its own:
 * it reads a mirror of every partition (adapters/cluster/gateway-mirror.ts)
 * and sends each command over NATS to its partition's owner
 * (adapters/cluster/remote-commands.ts). Gateways hold nothing a client needs
 * to come back to the same one: any gateway serves any client, and several run
 * behind one edge.
 */
import { AdminAudit } from '../admin/admin-audit.js';
import { type ClusterSide, type RunningServer, type ServerLogger, startServer } from '../server/server.js';
import type { ServerConfig } from '../server/server-config.js';
import { hrStopwatch, systemClock } from '../system-clock.js';
import { type ClusterConfig, requireSharedStorage } from './cluster-config.js';
import { CommandRouter } from './command-bus.js';
import { GatewayMirror } from './gateway-mirror.js';
import { connectNats } from './nats-connection.js';
import { RemoteCommands } from './remote-commands.js';

export interface RunningGateway extends RunningServer {
  readonly mirror: GatewayMirror;
}

export async function startGatewayRole(
  config: ServerConfig,
  cluster: ClusterConfig,
  log: ServerLogger,
): Promise<RunningGateway> {
  requireSharedStorage(config, 'a gateway reads the storage its engine processes write');
  let mirror: GatewayMirror | undefined;
  const side: ClusterSide = {
    async open({ storage, config: engineConfig }) {
      const nc = await connectNats({ servers: cluster.natsUrl, name: 'gateway' });
      try {
        const m = await GatewayMirror.start({
          nc,
          prefix: cluster.prefix,
          map: cluster.map,
          store: storage.store,
          queue: storage.queue,
          engine: {
            clock: systemClock,
            stopwatch: hrStopwatch,
            config: engineConfig,
            retentionMs: engineConfig.retentionMs,
            logger: { error: (m: string, detail?: unknown) => log.error({ msg: m, detail: String(detail) }) },
          },
          standing: () => new AdminAudit(storage.db).standing(),
          log,
        });
        mirror = m;
        const commands = new RemoteCommands({
          sender: new CommandRouter(nc, { prefix: cluster.prefix }),
          mirror: m.engine,
          riders: m,
          map: cluster.map,
        });
        log.info({
          msg: `gateway: ${cluster.map.ids.length} partitions in ${cluster.mapFile}, commands to ${cluster.prefix}.cmd.<partition> over NATS at ${cluster.natsUrl}`,
        });
        return {
          engine: m.engine,
          commands,
          report: m.report,
          probes: { nats: async () => !nc.isClosed() },
          describe: { nats: `the NATS connection to ${cluster.natsUrl} (commands and the relay)` },
          close: async () => {
            m.close();
            await nc.close();
          },
        };
      } catch (err) {
        await nc.close();
        throw err;
      }
    },
  };
  const server = await startServer(config, log, {}, side);
  return Object.assign(server, { mirror: mirror! });
}
