/**
 * `npm run worker`: the persistence worker on its own, to scale write-behind
 * out, with the push worker it feeds (FCM with a service account key, the
 * logged local stand-in without). Needs DATABASE_URL and REDIS_URL (embedded
 * mode writes in-process).
 * Stops on SIGTERM or SIGINT after the batch in hand, within SHUTDOWN_GRACE_MS
 * (adapters/server/shutdown.ts). With WORKER_HEALTH_PORT set (deploy/k8s sets
 * 8081; unset or 0: none), answers GET /livez and /readyz there for
 * orchestrators: 200 while running, 503 once shutting down.
 */
import { createServer } from 'node:http';
import { parsePersistenceConfig } from '../adapters/persistence/config.js';
import { EventWriter } from '../adapters/persistence/event-writer.js';
import { openStorage } from '../adapters/persistence/storage.js';
import { parseFirebaseConfig } from '../adapters/identity/config.js';
import { pushFeed } from '../adapters/push/push-feed.js';
import { openPush } from '../adapters/push/push-service.js';
import { onShutdownSignals, parseGraceMs } from '../adapters/server/shutdown.js';

/** WORKER_HEALTH_PORT: a port, or 0 (the default) for none. */
function healthPort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535)
    throw new Error(`WORKER_HEALTH_PORT must be a port number or 0, got ${JSON.stringify(raw)}`);
  return n;
}

async function main(): Promise<void> {
  const config = parsePersistenceConfig(process.env);
  const graceMs = parseGraceMs(process.env);
  const port = healthPort(process.env['WORKER_HEALTH_PORT']);
  if (config.mode !== 'server') {
    console.error('worker: set DATABASE_URL and REDIS_URL; in embedded mode the server writes behind in-process');
    process.exit(2);
  }
  const storage = await openStorage(config, { warn: (m) => console.error(m) });
  console.error(`worker: ${storage.durability}`);
  const log = (level: string) => (o: Record<string, unknown>) => console.error(JSON.stringify({ level, ...o }));
  const push = await openPush({
    firebase: parseFirebaseConfig(process.env),
    db: storage.db,
    queue: storage.pushQueue,
    now: Date.now,
    consume: true,
    log: { info: log('info'), warn: log('warn') },
  });
  const writer = new EventWriter(storage.queue, storage.store, {
    batchSize: config.batchSize,
    afterStore: pushFeed(storage.pushQueue),
  }).start();
  console.error(
    `worker: writing behind from queue ${config.queuePrefix}/${config.queueName}, batches of up to ${config.batchSize}`,
  );
  let stopping = false;
  const health = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/livez' && path !== '/readyz') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(stopping ? 503 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: stopping ? 'stopping' : 'ok', written: writer.written }));
  });
  if (port !== 0) {
    await new Promise<void>((resolve, reject) => {
      health.once('error', reject);
      health.listen(port, process.env['WORKER_HEALTH_HOST'] || '0.0.0.0', () => resolve());
    });
    const address = health.address();
    console.error(`worker: health on port ${typeof address === 'object' && address ? address.port : port}`);
  }
  onShutdownSignals({
    name: 'worker',
    graceMs,
    close: async () => {
      stopping = true;
      await writer.stop();
      await push.close();
      await storage.close();
      health.close();
      console.error(`worker: stopped after writing ${writer.written} events`);
    },
    log: (line) => console.error(line),
  });
}

main().catch((err: unknown) => {
  console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
