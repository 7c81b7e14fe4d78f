/**
 * `npm start`: the server. Reads the configuration from the environment once
 * (README, "Configuration"), starts, logs `server: listening on ...` (pino,
 * one JSON line on stderr; pretty in development on a terminal) when it
 * serves, and shuts down cleanly on SIGTERM or SIGINT.
 */
import { createLogger } from '../adapters/observability/logger.js';
import { parseServerConfig, ServerConfigError } from '../adapters/server/server-config.js';
import { startServer } from '../adapters/server/server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = parseServerConfig(process.env, { tty: process.stderr.isTTY });
  } catch (err) {
    if (!(err instanceof ServerConfigError)) throw err;
    createLogger({ base: { service: 'server' } }).fatal({
      msg: `server: configuration refused:\n${err.message}`,
      problems: err.message.split('\n'),
    });
    process.exit(2);
  }
  const log = createLogger({ level: config.log.level, format: config.log.format, base: { service: 'server' } });
  const server = await startServer(config, log);
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
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ msg: `server: ${signal}: shutting down` });
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ msg: `server: shutdown failed: ${String(err)}` });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  createLogger({ base: { service: 'server' } }).fatal({
    msg: `server: failed to start: ${err instanceof Error ? err.message : String(err)}`,
  });
  process.exit(1);
});
