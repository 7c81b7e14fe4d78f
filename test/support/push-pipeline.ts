/**
 * The push path as the server runs it, for tests and the burst benchmark:
 * an engine → write-behind → BullMQ (real Redis) → persistence worker →
 * Postgres → push feed → BullMQ push queue → push worker → firebase-admin
 * messaging → the local FCM v1 stand-in. Unique database and queue prefix.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventWriter } from '../../adapters/persistence/event-writer.js';
import { WriteBehind } from '../../adapters/persistence/write-behind.js';
import { fcmSender, standInCredential } from '../../adapters/push/fcm-sender.js';
import {
  STAND_IN_ACCESS_TOKEN,
  standInAgent,
  startFcmStandIn,
  type FcmStandIn,
} from '../../adapters/push/fcm-stand-in.js';
import { pushFeed, type PushJob } from '../../adapters/push/push-feed.js';
import { PushStore } from '../../adapters/push/push-store.js';
import { PushWorker, type PushWorkerOptions } from '../../adapters/push/push-worker.js';
import { migrate } from '../../adapters/postgres/migrate.js';
import { PgEventStore } from '../../adapters/postgres/pg-event-store.js';
import { serverDatabase } from '../../adapters/postgres/server-database.js';
import { type SqlDatabase } from '../../adapters/postgres/sql-database.js';
import { BullmqQueue } from '../../adapters/queue/bullmq-queue.js';
import type { Engine, EventBatch } from '../../engine/index.js';
import { throwawayDatabase } from './pg.js';
import { SHARED_REDIS } from './redis-server.js';

export interface PushPipeline {
  readonly fcm: FcmStandIn;
  readonly db: SqlDatabase;
  readonly store: PushStore;
  readonly worker: PushWorker;
  readonly writeBehind: WriteBehind;
  readonly pushQueue: BullmqQueue<PushJob>;
  readonly events: BullmqQueue<EventBatch>;
}

/**
 * `local`: as `npm start` runs it, each process's own jobs held in the queues and handled from
 * memory (docs/durability.md, "The process stores its own jobs"), held for `holdMs` (default
 * 30 s); otherwise every job goes through the queues' workers.
 */
export async function startPushPipeline(
  t: { teardown(fn: () => unknown): void },
  engine: Engine,
  opts: Partial<PushWorkerOptions> = {},
  how: { readonly local?: boolean; readonly holdMs?: number } = {},
): Promise<PushPipeline> {
  const url = await throwawayDatabase(t, 'push');
  const db = serverDatabase(url, { max: 4 });
  await migrate(db);
  const dir = await mkdtemp(join(tmpdir(), 'fcm-'));
  const fcm = await startFcmStandIn({ certDir: dir });
  const prefix = `t-push-${process.pid}-${randomBytes(4).toString('hex')}`;
  const events = new BullmqQueue<EventBatch>({ redis: SHARED_REDIS, name: 'engine-events', prefix });
  const pushQueue = new BullmqQueue<PushJob>({ redis: SHARED_REDIS, name: 'push', prefix });
  const eventStore = new PgEventStore(db);
  const sender = fcmSender({
    projectId: 'demo-dispatch',
    credential: standInCredential(STAND_IN_ACCESS_TOKEN),
    httpAgent: standInAgent(fcm.port, fcm.caPem),
    now: () => engine.now,
  });
  const store = new PushStore(db);
  const worker = new PushWorker(store, sender, { now: () => engine.now, retryBaseMs: 50, ...opts }).start(pushQueue);
  const holdMs = how.holdMs ?? 30_000;
  const feed = how.local ? pushFeed(pushQueue, { holdMs, take: (jobs) => worker.take(jobs) }) : pushFeed(pushQueue);
  const writer = new EventWriter(events, eventStore, { afterStore: feed }).start();
  const writeBehind = how.local
    ? new WriteBehind(engine, events, undefined, { holdMs, take: (jobs) => writer.take(jobs) })
    : new WriteBehind(engine, events);
  t.teardown(async () => {
    await writeBehind.close();
    await writer.stop();
    await worker.stop();
    await sender.close();
    for (const q of [events, pushQueue]) {
      await q.bullmq.obliterate({ force: true }).catch(() => {});
      await q.close();
    }
    await db.close();
    await fcm.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { fcm, db, store, worker, writeBehind, pushQueue, events };
}

/** Waits until `pred` holds, checking every 20 ms; throws after `ms`. */
export async function eventually(
  pred: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
