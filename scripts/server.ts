/**
 * `npm start`: the server. Reads the configuration from the environment once
 * (README, "Configuration"), starts, prints `server: listening on ...` to
 * stderr when it serves, and shuts down cleanly on SIGTERM or SIGINT.
 */
import { parseServerConfig, ServerConfigError } from '../adapters/server/server-config.js';
import { jsonLogger, startServer } from '../adapters/server/server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = parseServerConfig(process.env);
  } catch (err) {
    if (!(err instanceof ServerConfigError)) throw err;
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
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`server: ${signal}: shutting down\n`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`server: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`server: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
