/**
 * `npm start`: the server. Reads the configuration from the environment once
 * (README, "Configuration"), starts, prints `server: listening on ...` to
 * stderr when it serves, and shuts down cleanly on SIGTERM or SIGINT within
 * SHUTDOWN_GRACE_MS (adapters/server/shutdown.ts).
 */
import { parseServerConfig, ServerConfigError } from '../adapters/server/server-config.js';
import { jsonLogger, startServer } from '../adapters/server/server.js';
import { onShutdownSignals, parseGraceMs, ShutdownConfigError } from '../adapters/server/shutdown.js';

async function main(): Promise<void> {
  let config;
  let graceMs;
  try {
    config = parseServerConfig(process.env);
    graceMs = parseGraceMs(process.env);
  } catch (err) {
    if (!(err instanceof ServerConfigError) && !(err instanceof ShutdownConfigError)) throw err;
    process.stderr.write(`server: configuration refused:\n${err.message}\n`);
    process.exit(2);
  }
  const log = jsonLogger();
  const server = await startServer(config, log);
  process.stderr.write(`server: ${server.durability}\n`);
  process.stderr.write(
    `server: recovered ${server.recovery.restaurants} restaurants, ${server.recovery.riders} riders, ${server.recovery.orders} orders in ${server.recovery.ms} ms\n`,
  );
  process.stderr.write(
    `server: listening on http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${server.port}\n`,
  );
  // Stop accepting, close rider and stream sockets with 4010 (reconnect), flush the write-behind,
  // stop the in-process workers, close storage: server.close(), bounded by the grace period.
  onShutdownSignals({
    name: 'server',
    graceMs,
    close: () => server.close(),
    log: (line) => process.stderr.write(`${line}\n`),
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`server: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
