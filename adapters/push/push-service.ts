/**
 * The push side of a process, built at the composition root: FCM through
 * firebase-admin with the project's credentials when a service account key is
 * configured (or in production, with Application Default Credentials);
 * otherwise the local FCM stand-in, started here, whose every message is
 * logged, so `./dev start` shows what would have been pushed.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobQueue } from '../../engine/ports/job-queue.js';
import type { FirebaseConfig } from '../identity/config.js';
import { credentialOf } from '../identity/firebase-identity.js';
import type { SqlDatabase } from '../postgres/sql-database.js';
import { fcmSender, standInCredential, type PushSender } from './fcm-sender.js';
import { STAND_IN_ACCESS_TOKEN, standInAgent, startFcmStandIn, type FcmStandIn } from './fcm-stand-in.js';
import type { PushJob } from './push-feed.js';
import { PushStore } from './push-store.js';
import { PushWorker } from './push-worker.js';

export interface PushService {
  readonly store: PushStore;
  readonly worker: PushWorker;
  /** `fcm` (Google) or `stand-in` (local, logged). */
  readonly target: 'fcm' | 'stand-in';
  readonly standIn: FcmStandIn | undefined;
  close(): Promise<void>;
}

const REMIND_SWEEP_MS = 10_000;

/** Where the stand-in keeps its CA and certificate between runs (made once with openssl). */
export const STAND_IN_CERT_DIR = join(tmpdir(), 'dispatch-fcm-stand-in');

export async function openPush(o: {
  firebase: FirebaseConfig;
  db: SqlDatabase;
  queue: JobQueue<PushJob>;
  now: () => number;
  log: { info(o: Record<string, unknown>): void; warn(o: Record<string, unknown>): void };
  /** Run the worker in this process (false: the store only, for REST). */
  consume: boolean;
}): Promise<PushService> {
  const real = o.firebase.serviceAccountKey !== undefined || o.firebase.mode === 'production';
  let standIn: FcmStandIn | undefined;
  let sender: PushSender;
  if (real) {
    sender = fcmSender({ projectId: o.firebase.projectId, credential: credentialOf(o.firebase), now: o.now });
  } else {
    standIn = await startFcmStandIn({ certDir: STAND_IN_CERT_DIR });
    standIn.onMessage = (m) => {
      const msg = m.message as { token?: string; notification?: unknown; data?: unknown; android?: unknown };
      o.log.info({
        msg: 'push (FCM stand-in: no Firebase credentials, nothing left this machine)',
        token: msg.token,
        notification: msg.notification,
        data: msg.data,
        android: msg.android,
      });
    };
    sender = fcmSender({
      projectId: o.firebase.projectId,
      credential: standInCredential(STAND_IN_ACCESS_TOKEN),
      httpAgent: standInAgent(standIn.port, standIn.caPem),
      now: o.now,
    });
  }
  const store = new PushStore(o.db);
  const worker = new PushWorker(store, sender, { now: o.now, log: (x) => o.log.warn(x) });
  let sweep: NodeJS.Timeout | undefined;
  if (o.consume) {
    worker.start(o.queue);
    // Reminders are named per order and minute waited, so a sweep every 10 s sends each once.
    const remind = () =>
      void worker.remind().catch((err: unknown) => {
        o.log.warn({ msg: 'push reminders failed; tried again', err: String(err) });
      });
    sweep = setInterval(remind, REMIND_SWEEP_MS);
    sweep.unref();
  }
  return {
    store,
    worker,
    target: real ? 'fcm' : 'stand-in',
    standIn,
    async close() {
      clearInterval(sweep);
      await worker.stop();
      await sender.close();
      await standIn?.close();
    },
  };
}
