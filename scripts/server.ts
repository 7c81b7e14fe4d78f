/**
 * `npm start`: the server (`--role all`, the default); `npm start -- --role engine` runs an
 * engine process of a cluster instead, and `--role gateway` a gateway in front of engine
 * processes (docs/scale.md). Reads the configuration from the environment once
 * (README, "Configuration"), starts, logs `server: listening on ...` (pino,
 * one JSON line on stderr; pretty in development on a terminal) when it
 * serves, and shuts down cleanly on SIGTERM or SIGINT within SHUTDOWN_GRACE_MS
 * (adapters/server/shutdown.ts).
 */
import { ClusterConfigError, parseClusterConfig, parseRole } from '../adapters/cluster/cluster-config.js';
import { startEngineRole } from '../adapters/cluster/engine-role.js';
import { startGatewayRole } from '../adapters/cluster/gateway-role.js';
import { createLogger } from '../adapters/observability/logger.js';
import { parseServerConfig, ServerConfigError } from '../adapters/server/server-config.js';
import { startServer } from '../adapters/server/server.js';
import { onShutdownSignals, parseGraceMs, ShutdownConfigError } from '../adapters/server/shutdown.js';

async function main(): Promise<void> {
  let config;
  let graceMs;
  let role;
  let cluster;
  try {
    role = parseRole(process.argv.slice(2));
    config = parseServerConfig(process.env, { tty: process.stderr.isTTY });
    graceMs = parseGraceMs(process.env);
    cluster = role === 'all' ? undefined : parseClusterConfig(process.env);
  } catch (err) {
    if (
      !(err instanceof ServerConfigError) &&
      !(err instanceof ShutdownConfigError) &&
      !(err instanceof ClusterConfigError)
    )
      throw err;
    createLogger({ base: { service: 'server' } }).fatal({
      msg: `server: configuration refused:\n${err.message}`,
      problems: err.message.split('\n'),
    });
    process.exit(2);
  }
  if (cluster !== undefined && role === 'engine') {
    const log = createLogger({ level: config.log.level, format: config.log.format, base: { service: 'engine' } });
    const engine = await startEngineRole(config, cluster, log);
    // Leases given back at once (others take the partitions without waiting out the TTL), then flushed.
    onShutdownSignals({
      name: 'engine',
      graceMs,
      close: () => engine.close(),
      log: (line) => log.info({ msg: line }),
    });
    return;
  }
  const service = role === 'gateway' ? 'gateway' : 'server';
  const log = createLogger({ level: config.log.level, format: config.log.format, base: { service } });
  const server = cluster !== undefined ? await startGatewayRole(config, cluster, log) : await startServer(config, log);
  log.info({ msg: `server: ${server.durability}` });
  log.info({
    msg: `server: recovered ${server.recovery.restaurants} restaurants, ${server.recovery.riders} riders, ${server.recovery.orders} orders in ${server.recovery.ms} ms`,
  });
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  log.info({
    msg: `server: listening on http://${host}:${server.port}`,
    port: server.port,
    metrics_port: server.metricsPort,
  });
  // Stop accepting, close rider and stream sockets with 4010 (reconnect), flush the write-behind,
  // stop the in-process workers, close storage: server.close(), bounded by the grace period.
  onShutdownSignals({
    name: 'server',
    graceMs,
    close: () => server.close(),
    log: (line) => log.info({ msg: line }),
  });
}

main().catch((err: unknown) => {
  createLogger({ base: { service: 'server' } }).fatal({
    msg: `server: failed to start: ${err instanceof Error ? err.message : String(err)}`,
  });
  process.exit(1);
});
