/**
 * `npm run worker`: the persistence worker on its own, to scale write-behind
 * out, with the push worker it feeds (FCM with a service account key, the
 * logged local stand-in without). Needs DATABASE_URL and REDIS_URL (embedded
 * mode writes in-process).
 * Stops on SIGTERM or SIGINT after the batch in hand.
 */
import { parsePersistenceConfig } from '../adapters/persistence/config.js';
import { EventWriter } from '../adapters/persistence/event-writer.js';
import { openStorage } from '../adapters/persistence/storage.js';
import { parseFirebaseConfig } from '../adapters/identity/config.js';
import { pushFeed } from '../adapters/push/push-feed.js';
import { openPush } from '../adapters/push/push-service.js';

async function main(): Promise<void> {
  const config = parsePersistenceConfig(process.env);
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
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await writer.stop();
    await push.close();
    await storage.close();
    console.error(`worker: stopped after writing ${writer.written} events`);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: unknown) => {
  console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
