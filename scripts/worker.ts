/**
 * `npm run worker`: the persistence worker on its own, to scale write-behind
 * out, with the push worker it feeds (FCM with a service account key, the
 * logged local stand-in without). Needs DATABASE_URL and REDIS_URL (embedded
 * mode writes in-process). Logs through pino (LOG_LEVEL, LOG_FORMAT) and
 * serves `/metrics`, `/livez` and `/readyz` on METRICS_HOST:METRICS_PORT
 * (127.0.0.1:9090; 0: any free port).
 * Stops on SIGTERM or SIGINT after the batch in hand, within SHUTDOWN_GRACE_MS
 * (adapters/server/shutdown.ts); /readyz answers 503 from the first signal.
 */
import { holdMsOf, parsePersistenceConfig } from '../adapters/persistence/config.js';
import { EventWriter } from '../adapters/persistence/event-writer.js';
import { openStorage } from '../adapters/persistence/storage.js';
import { parseFirebaseConfig } from '../adapters/identity/config.js';
import { loggerFromEnv } from '../adapters/observability/logger.js';
import { ServerMetrics } from '../adapters/observability/metrics.js';
import { startOpsServer } from '../adapters/observability/metrics-server.js';
import { pushFeed } from '../adapters/push/push-feed.js';
import { onShutdownSignals, parseGraceMs } from '../adapters/server/shutdown.js';
import { openPush } from '../adapters/push/push-service.js';

async function main(): Promise<void> {
  const log = loggerFromEnv('worker');
  const config = parsePersistenceConfig(process.env);
  const graceMs = parseGraceMs(process.env);
  if (config.mode !== 'server') {
    log.fatal({ msg: 'worker: set DATABASE_URL and REDIS_URL; in embedded mode the server writes behind in-process' });
    process.exit(2);
  }
  const metricsPort = Number(process.env['METRICS_PORT'] || 9090);
  if (!(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort <= 65535)) {
    log.fatal({ msg: `worker: METRICS_PORT must be an integer in 0..65535, got ${process.env['METRICS_PORT']}` });
    process.exit(2);
  }
  const metrics = new ServerMetrics({ service: 'worker' });
  let ready = false;
  let stopping = false;
  const ops = await startOpsServer(process.env['METRICS_HOST'] || '127.0.0.1', metricsPort, () => ({
    registry: metrics.registry,
    readiness: () =>
      ready
        ? { ready: true, reasons: [] }
        : { ready: false, reasons: [stopping ? 'shutting down' : 'opening storage'] },
  }));
  const storage = await openStorage(config, { warn: (m) => log.warn({ msg: m }) });
  log.info({ msg: `worker: ${storage.durability}` });
  const push = await openPush({
    firebase: parseFirebaseConfig(process.env),
    db: storage.db,
    queue: storage.pushQueue,
    now: Date.now,
    consume: true,
    log,
  });
  metrics.watchPush(push.worker.stats);
  if (storage.pool) metrics.watchPool(storage.pool);
  if (storage.queue.depth) metrics.watchQueue(() => storage.queue.depth!());
  // Pushes this worker queues are its own: handed to its push worker from memory, held from others.
  const feed = pushFeed(storage.pushQueue, { holdMs: holdMsOf(config), take: (jobs) => push.worker.take(jobs) });
  const writer = new EventWriter(storage.queue, storage.store, {
    batchSize: config.batchSize,
    afterStore: async (records) => {
      metrics.written(records, Date.now());
      await feed(records);
    },
  }).start();
  ready = true;
  log.info({
    msg: `worker: writing behind from queue ${config.queuePrefix}/${config.queueName}, batches of up to ${config.batchSize}`,
    metrics_port: ops.port,
  });
  // Not ready (503 on /readyz) from the first signal; the batch in hand is finished within
  // SHUTDOWN_GRACE_MS (adapters/server/shutdown.ts), else the process exits 1.
  onShutdownSignals({
    name: 'worker',
    graceMs,
    close: async () => {
      ready = false;
      stopping = true;
      await writer.stop();
      await push.close();
      await storage.close();
      await ops.close();
      log.info({ msg: `worker: stopped after writing ${writer.written} events` });
    },
    log: (line) => log.info({ msg: line }),
  });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', service: 'worker', msg: `worker: ${err instanceof Error ? err.message : String(err)}` })}\n`,
  );
  process.exit(1);
});
