/**
 * The composition root of `npm start`: opens storage (Postgres behind BullMQ,
 * or embedded PGlite), rebuilds the engine from it and re-arms its deadlines,
 * and only then serves REST, the rider stream and the customer/restaurant
 * streams on one uWebSockets.js port. Every piece is built here and handed
 * down; nothing below reads the environment or holds a global.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Agent } from 'node:http';
import { get as httpsGet } from 'node:https';
import { dirname } from 'node:path';
import { Redis } from 'ioredis';
import uWS from 'uWebSockets.js';
import {
  type Engine,
  type EngineConfig,
  type EngineOptions,
  type RefundStage,
  refundNotice,
  resolveConfig,
} from '../../engine/index.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import { CloseCode, type OrderId, type PositionFix, type RiderId } from '../../protocol/index.js';
import { buildOpenApi } from '../../protocol/rest/openapi.js';
import { FieldCipher, parseEncryptionKey } from '../crypto/field-cipher.js';
import { HealthMonitor, type Readiness } from '../observability/health.js';
import { ServerMetrics } from '../observability/metrics.js';
import { startOpsServer } from '../observability/metrics-server.js';
import type { StageTimer } from '../observability/stage-profiler.js';
import { timedParts, timedQueue, timedSource, timedStore } from '../observability/timed-ports.js';
import { createLogger } from '../observability/logger.js';
import type { EngineCommands } from '../engine-commands.js';
import { type GatewayDeps } from '../http/gateway-deps.js';
import { cancelUnrecordedOrders, orderHandlers, syncOrderStatuses } from '../http/handlers/orders.js';
import { paymentSettlement, paymentWebhookHandler } from '../http/handlers/payment-webhook.js';
import { paymentHandlers } from '../http/handlers/payments.js';
import { pushHandlers } from '../http/handlers/push.js';
import { chatHandlers } from '../http/handlers/chat.js';
import { ChatService } from '../chat/chat-service.js';
import { peopleHandlers } from '../http/handlers/people.js';
import { restaurantHandlers } from '../http/handlers/restaurants.js';
import { attachRestRoutes } from '../http/rest-gateway.js';
import { attachConsoleRoutes } from '../console/console-route.js';
import { send } from '../http/http-io.js';
import { CachingIdentity } from '../identity/caching-identity.js';
import { createFirebaseIdentity } from '../identity/firebase-identity.js';
import { holdMsOf } from '../persistence/config.js';
import { EventWriter, localStoreLog, localStoreOf } from '../persistence/event-writer.js';
import { defaultRetention, pruneRetention } from '../persistence/retention.js';
import { TrailWriter } from '../persistence/trail-writer.js';
import { recoverEngine, type RecoveryReport } from '../persistence/recovery.js';
import { openStorage, type Storage } from '../persistence/storage.js';
import { type LocalStore, WriteBehind } from '../persistence/write-behind.js';
import { RazorpayGateway } from '../payments/razorpay-gateway.js';
import { Reconciler } from '../payments/reconciler.js';
import { RefundRelay } from '../payments/refund-relay.js';
import { CatalogStore } from '../postgres/catalog-store.js';
import { MoneyStore } from '../postgres/money-store.js';
import { pushFeed } from '../push/push-feed.js';
import { openPush } from '../push/push-service.js';
import { hrStopwatch, systemClock } from '../system-clock.js';
import { resolveWsLimits } from '../ws/limits.js';
import { attachRiderRoute } from '../ws/rider-gateway.js';
import { RedisRiderResume } from '../ws/rider-resume.js';
import { attachStreamRoutes } from '../ws/stream-gateway.js';
import { AdminAudit, applyStanding } from '../admin/admin-audit.js';
import { type RunningAdmin, startAdminServer } from '../admin/admin-server.js';
import { EventFeed } from '../admin/event-feed.js';
import { type ServerConfig, UNUSED_SEED_VARIABLES } from './server-config.js';
import { closerStack } from './shutdown.js';

export const VERSION = '0.1.0';
const RETENTION_EVERY_MS = 3_600_000;
const DRAIN_TIMEOUT_MS = 10_000;

/** What the server logs through: a pino logger (adapters/observability/logger.ts) or a test's collector. */
export interface ServerLogger {
  info(o: Record<string, unknown>): void;
  warn(o: Record<string, unknown>): void;
  error(o: Record<string, unknown>): void;
}

/**
 * What a benchmark adds to the composition, nothing of which `npm start`
 * uses: engine options beside the defaults (its match histogram, external
 * candidates for a baseline), a tap on applied rider positions (a baseline's
 * store mirrors them), a wrapper around the identity verifier and the agent
 * firebase-admin reaches Google through.
 */
export interface ServerHooks {
  /** Engine options for tools and tests (the benchmark's candidate source, a test's shorter timeouts). */
  readonly engine?: Pick<EngineOptions, 'onMatch' | 'externalCandidates' | 'config'>;
  readonly onPosition?: (riderId: RiderId, lat: number, lng: number) => void;
  readonly wrapIdentity?: (identity: IdentityVerifier) => IdentityVerifier;
  /** firebase-admin's HTTPS agent: the benchmark's route to its local stand-in of Google's key endpoint. */
  readonly identityAgent?: Agent;
  /**
   * The benchmark's stage profiler (issue 19's budget): given, the server's parts are built
   * timed (adapters/observability/timed-ports.ts); absent, nothing is wrapped.
   */
  readonly stages?: StageTimer;
}

/**
 * What a cluster gateway (`npm start -- --role gateway`, adapters/cluster/gateway-role.ts) puts
 * where `npm start` has its own engine: a read mirror of every partition and commands sent to
 * their owners. The owners write behind, so the gateway has no write-behind and waits for nothing.
 */
export interface ClusterSide {
  open(o: { readonly storage: Storage; readonly config: EngineConfig; readonly log: ServerLogger }): Promise<{
    /** The mirror: every read, and the events the sockets hear. */
    readonly engine: Engine;
    readonly commands: EngineCommands;
    readonly report: RecoveryReport;
    /** Services the gateway depends on beside storage and identity (NATS), for /health and /readyz. */
    readonly probes: Readonly<Record<string, () => Promise<boolean>>>;
    readonly describe: Readonly<Record<string, string>>;
    close(): Promise<void>;
  }>;
}

export interface RunningServer {
  readonly port: number;
  /** The gRPC admin service; undefined when turned off. */
  readonly admin: RunningAdmin | undefined;
  readonly engine: Engine;
  readonly recovery: RecoveryReport;
  readonly durability: string;
  /** The operations port: `/metrics`, `/livez`, `/readyz`. */
  readonly metricsPort: number;
  readonly metrics: ServerMetrics;
  readonly health: HealthMonitor;
  /** Stops listening, closes sockets, flushes what is queued and closes storage. */
  close(): Promise<void>;
}

export async function startServer(
  config: ServerConfig,
  log: ServerLogger = createLogger({ base: { service: 'server' } }),
  hooks: ServerHooks = {},
  /** Given: a cluster gateway, with no engine of its own. */
  cluster?: ClusterSide,
): Promise<RunningServer> {
  const clock = systemClock;
  const metrics = new ServerMetrics({ service: 'server' });
  // The operations port first: while storage is read back, Prometheus and probes see a server recovering.
  let health: HealthMonitor | undefined;
  const starting: Readiness = { ready: false, reasons: ['recovering: opening storage and rebuilding the engine'] };
  const readiness = () => health?.readiness() ?? starting;
  metrics.watchReadiness(readiness);
  const ops = await startOpsServer(config.metrics.host, config.metrics.port, () => ({
    registry: metrics.registry,
    readiness,
  }));
  log.info({ msg: `metrics on http://${config.metrics.host}:${ops.port}/metrics` });
  for (const name of config.unused)
    log.warn({ msg: `${name} is set but not used: ${UNUSED_SEED_VARIABLES[name]}`, variable: name });
  let storage: Storage;
  try {
    storage = await openStorage(config.persistence, { warn: (m) => log.warn({ msg: m }) });
  } catch (err) {
    await ops.close();
    throw err;
  }
  const closers = closerStack(
    log,
    () => ops.close(),
    () => storage.close(),
  );
  const closeAll = closers.closeAll;
  try {
    const encryptionKey = config.encryptionKey ?? (await developmentKey(config, log));
    const engineConfig = resolveConfig({ riderReview: config.riderReview, ...hooks.engine?.config });
    const hookMatch = hooks.engine?.onMatch;
    const side = cluster ? await cluster.open({ storage, config: engineConfig, log }) : undefined;
    if (side) closers.push(() => side.close());
    const { engine, report } =
      side ??
      (await recoverEngine(storage.store, storage.queue, {
        ...hooks.engine,
        onMatch: hookMatch
          ? (m) => {
              metrics.onMatch(m);
              hookMatch(m);
            }
          : metrics.onMatch,
        clock,
        stopwatch: hrStopwatch,
        config: engineConfig,
        retentionMs: engineConfig.retentionMs,
        logger: { error: (m: string, detail?: unknown) => log.error({ msg: m, detail: String(detail) }) },
      }));
    closers.push(() => engine.stop());
    metrics.watchEngine(engine);
    closers.push(() => metrics.stop());
    log.info({ msg: side ? "the partitions' mirror loaded" : 'engine recovered', ...report });
    // Closers run last-pushed first: at shutdown, what was acknowledged is queued (write-behind),
    // then written (the in-process worker drains an embedded queue, which would die with the
    // process), and only then does the writer stop.
    // Pushes follow the durable stream: the persistence worker queues them once events are stored.
    const st = hooks.stages;
    const pushQueue = st ? timedQueue(storage.pushQueue, st, 'push_feed', 'push_worker') : storage.pushQueue;
    const eventQueue = st ? timedQueue(storage.queue, st, 'bullmq_add', 'write_behind_worker') : storage.queue;
    const push = await openPush({
      firebase: config.firebase,
      db: storage.db,
      queue: pushQueue,
      now: () => clock.now(),
      log,
      consume: config.inProcessWorker,
    });
    closers.push(() => push.close());
    if (config.inProcessWorker) metrics.watchPush(push.worker.stats);
    if (storage.pool) metrics.watchPool(storage.pool);
    const depth = storage.queue.depth?.bind(storage.queue);
    if (depth) metrics.watchQueue(depth);
    log.info({
      msg:
        push.target === 'fcm'
          ? 'push: FCM'
          : `push: FCM stand-in on 127.0.0.1:${push.standIn?.port ?? 0}; pushes are logged, none leave this machine`,
    });
    // A gateway's events are written behind by the engine processes that own them.
    let local: LocalStore | undefined;
    if (config.inProcessWorker && !side) {
      // The push worker runs here too: the feed hands it its jobs from memory.
      const feed = pushFeed(pushQueue, {
        holdMs: holdMsOf(config.persistence),
        take: (jobs) => push.worker.take(jobs),
      });
      const writer = new EventWriter(eventQueue, st ? timedStore(storage.store, st) : storage.store, {
        batchSize: config.persistence.batchSize,
        afterStore: async (records) => {
          metrics.written(records, clock.now());
          await feed(records);
        },
        onLocalStore: localStoreLog(log),
      }).start();
      local = localStoreOf(writer, config.persistence);
      closers.push(async () => {
        if (config.persistence.mode === 'embedded') await drain(storage, DRAIN_TIMEOUT_MS, log);
        await writer.stop();
      });
    }
    const writeBehind = side
      ? undefined
      : new WriteBehind(st ? timedSource(engine, st) : engine, eventQueue, undefined, local);
    if (writeBehind) closers.push(() => writeBehind.close());
    const firebase = createFirebaseIdentity(
      config.firebase,
      hooks.identityAgent !== undefined ? { httpAgent: hooks.identityAgent } : {},
    );
    closers.push(() => firebase.close());
    // Admin and revocation-checked calls always reach firebase-admin (docs/identity.md, "Caching").
    const verifier =
      config.identityCacheSize > 0
        ? new CachingIdentity(firebase, { size: config.identityCacheSize, clock })
        : firebase;
    log.info({
      msg:
        config.identityCacheSize > 0
          ? `identity: verified principals cached until their token expires, up to ${config.identityCacheSize}`
          : 'identity: cache off (IDENTITY_CACHE_SIZE=0), every token verified',
    });
    if (verifier instanceof CachingIdentity) metrics.watchIdentityCache(verifier);
    const catalog = new CatalogStore(storage.db);
    const money = new MoneyStore(storage.db);
    // What the edges call: the same parts, timed when profiling.
    const edge = timedParts(
      {
        engine,
        catalog,
        money,
        identity: hooks.wrapIdentity ? hooks.wrapIdentity(verifier) : verifier,
        // A gateway's commands are answered once durable at their owner: nothing is left to wait for.
        durable: writeBehind ? () => writeBehind.barrier() : () => Promise.resolve(),
      },
      st,
    );
    const { identity, durable } = edge;
    const commands = side?.commands ?? edge.engine;
    if (writeBehind) {
      const unrecorded = await cancelUnrecordedOrders(engine, catalog);
      if (unrecorded.length > 0) {
        log.warn({
          msg: 'orders placed but never recorded (a crash between their events and their row): cancelled',
          orders: unrecorded,
        });
        await writeBehind.barrier();
      }
      const resynced = await syncOrderStatuses(engine, catalog);
      if (resynced > 0) log.info({ msg: "order rows brought to the recovered engine's status", orders: resynced });
    }
    const trail = new TrailWriter(storage.db);
    closers.push(() => trail.close());
    const retention = setInterval(() => {
      pruneRetention(storage.db, clock.now(), { ...defaultRetention, endedStateMs: engineConfig.retentionMs }).then(
        (r) => log.info({ msg: 'retention', ...r }),
        (err: unknown) => log.warn({ msg: 'retention failed; tried again in an hour', err: String(err) }),
      );
    }, RETENTION_EVERY_MS);
    retention.unref();
    closers.push(() => clearInterval(retention));

    const redis =
      config.persistence.mode === 'server'
        ? new Redis({
            ...config.persistence.redis,
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            connectTimeout: 1_000,
          })
        : undefined;
    if (redis) {
      redis.on('error', () => {});
      closers.push(() => redis.disconnect());
    }
    const probes: GatewayDeps['probes'] = {
      database: () => catalog.ping(),
      ...(redis ? { redis: async () => (await withTimeout(redis.ping(), 1_000)) === 'PONG' } : {}),
      firebase: async () => firebaseUp(config.firebase.emulatorHost, hooks.identityAgent),
      ...side?.probes,
    };
    const monitor = new HealthMonitor({
      probes,
      describe: {
        database:
          config.persistence.mode === 'server'
            ? 'SELECT 1 on Postgres (DATABASE_URL)'
            : `SELECT 1 on embedded PGlite in ${config.persistence.dataDir}`,
        redis: redis
          ? 'PING on Redis (REDIS_URL)'
          : 'not used: embedded mode keeps the write-behind queue in process, there is no Redis to check',
        firebase: config.firebase.emulatorHost
          ? `GET / on the Firebase Auth emulator at ${config.firebase.emulatorHost}`
          : "GET on Google's token signing keys (securetoken)",
        ...side?.describe,
      },
      intervalMs: config.healthCheckIntervalMs,
      onRound: (services) => {
        metrics.dependencies(services);
        // Events the queue refused go again once it answers, with no command needed to carry them.
        if (serving && writeBehind?.refused && Object.values(services).every(Boolean))
          writeBehind.barrier().catch(() => {});
      },
    });
    let serving = false;
    monitor.recovering(() =>
      !serving
        ? 'rebuilding the engine from storage'
        : writeBehind?.refused
          ? 'write-behind holds events the queue refused; they go again with the next add'
          : undefined,
    );
    health = monitor.start();
    closers.push(() => monitor.stop());
    metrics.watchMoney(async () => {
      const { rows } = await storage.db.query<{ refunds: number; oldest: number | null; payments: number }>(
        `SELECT (SELECT count(*)::int FROM refunds WHERE status IN ('requested', 'pending')) AS refunds,
                (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM refunds WHERE status IN ('requested', 'pending')) AS oldest,
                (SELECT count(*)::int FROM payments WHERE status IN ('created', 'pending')) AS payments`,
      );
      const r = rows[0]!;
      return { refundsOpen: r.refunds, refundOldestOpenS: r.oldest ?? 0, paymentsOpen: r.payments };
    });
    const gatewayConfig = config.paymentGateway;
    const gateway = gatewayConfig
      ? new RazorpayGateway({
          baseUrl: gatewayConfig.url,
          keyId: gatewayConfig.keyId,
          keySecret: gatewayConfig.keySecret,
          merchantId: gatewayConfig.merchantId,
        })
      : undefined;
    if (!gateway)
      log.warn({
        msg: 'no payment gateway (UPI_GATEWAY_URL): UPI links go to the configured payee and refunds wait in the outbox',
      });
    const deps: GatewayDeps = {
      engine: edge.engine,
      commands,
      catalog: edge.catalog,
      money: edge.money,
      clock,
      probes,
      gateway,
      config: {
        version: VERSION,
        timeZone: config.timeZone,
        upi: config.upi,
        defaultPrepMinutes: 15,
        defaultCapacity: 20,
      },
      durable,
      cipher: new FieldCipher(encryptionKey),
      newId: randomUUID,
    };

    const app = uWS.App();
    const limits = resolveWsLimits({});
    const common = Object.freeze({
      engine: edge.engine,
      commands,
      identity,
      clock,
      limits,
      allowedOrigins: config.allowedOrigins,
      ...(hooks.onPosition ? { onPosition: hooks.onPosition } : {}),
      trail: (id: RiderId, fix: PositionFix) => trail.stale(id, fix),
      sample: (id: RiderId, fix: PositionFix) => trail.sample(id, fix),
      logger: { error: (m: string, detail?: unknown) => log.error({ msg: m, detail: String(detail) }) },
      lifecycle: log,
    });
    // A rider hears of a change (ACK, ASSIGNED...) only once its events are durable, as REST answers do;
    // so does a customer or restaurant watching an order (order_status_update, notification...).
    // With Redis, a rider's resume point (its last seq) outlives this process: a rider reconnecting
    // after a restart, or to another server, is not asked to send again what was taken.
    const rider = attachRiderRoute(app, {
      ...common,
      durable,
      ...(redis ? { resume: new RedisRiderResume(redis) } : {}),
      ...(st ? { stages: st } : {}),
    });
    const chat = new ChatService({ db: storage.db, engine, push: storage.pushQueue, now: () => clock.now() });
    const stream = attachStreamRoutes(app, { ...common, durable, chat });
    // The operators' live map: GET /console and its socket /v1/console (admins).
    const cityConsole = attachConsoleRoutes(app, common);
    metrics.watchRider(rider.stats);
    metrics.watchStream(stream.stats);
    const openapi = JSON.stringify(buildOpenApi(VERSION));
    const pushRefund = async (orderId: string, message: string, r: { refundId: string; stage: RefundStage }) => {
      try {
        const stored = await catalog.orderWithItems(orderId);
        if (!stored) return;
        const notice = refundNotice({ ...r, orderId: orderId as OrderId, customerId: stored.row.customer_id, message });
        await storage.pushQueue.enqueue([{ id: notice.id, data: { notice } }]);
      } catch (err) {
        log.error({ msg: 'refund push not queued', order: orderId, err: String(err) });
      }
    };
    const webhookDeps = {
      ...deps,
      webhookSecret: config.webhookSecret,
      // A refund the gateway accepted or settled: the customer's stream now, and a push from the push queue.
      notify: (id: string, m: string, refund: { refundId: string; stage: RefundStage }) => {
        stream.notify(id, m);
        void pushRefund(id, m, refund);
      },
    };
    if (gateway && gatewayConfig) {
      const relayLog = {
        info: (o: Record<string, unknown>) => log.info(o),
        warn: (o: Record<string, unknown>) => log.warn(o),
        error: (o: Record<string, unknown>) => log.error(o),
      };
      const relay = new RefundRelay({
        store: money,
        gateway,
        notify: webhookDeps.notify,
        log: relayLog,
        onRound: (r) => metrics.refundRound(r),
      }).start();
      closers.push(() => relay.stop());
      const reconciler = new Reconciler({
        gateway,
        money,
        catalog,
        settlement: paymentSettlement(webhookDeps),
        log: relayLog,
        afterMs: gatewayConfig.reconcileAfterMs,
        everyMs: gatewayConfig.reconcileEveryMs,
      }).start();
      closers.push(() => reconciler.stop());
    }
    // Probes for orchestrators, before the REST routes' catch-all: alive while the loop turns; ready per the monitor.
    app.get('/livez', (res) => {
      send(res, { aborted: false }, randomUUID(), { status: 200, body: { status: 'alive' } });
    });
    app.get('/readyz', (res) => {
      const r = monitor.readiness();
      send(res, { aborted: false }, randomUUID(), {
        status: r.ready ? 200 : 503,
        body: { status: r.ready ? 'ready' : 'not_ready', reasons: r.reasons },
      });
    });
    attachRestRoutes(app, {
      identity,
      clock,
      replies: edge.catalog,
      ...(st ? { stages: st } : {}),
      limits: config.rest,
      trustProxy: config.rest.trustProxy,
      logger: log,
      onAnswered: (method, route, status, seconds) => metrics.request(method, route, status, seconds),
      handlers: {
        ...orderHandlers(deps),
        ...paymentHandlers(deps),
        ...peopleHandlers(deps),
        ...restaurantHandlers(deps),
        ...pushHandlers(push.store),
        ...chatHandlers(chat),
      },
      publicHandlers: {
        paymentWebhook: paymentWebhookHandler(webhookDeps),
        openapi: async () => ({ status: 200, body: JSON.parse(openapi) as unknown }),
        health: async () => {
          const states = await monitor.check();
          const services: Record<string, string> = Object.fromEntries(
            Object.entries(states).map(([n, up]) => [n, up ? 'healthy' : 'unhealthy']),
          );
          // The seed's clients read services.redis: in embedded mode it says there is none rather than vanish.
          if (!('redis' in services)) services['redis'] = 'not_used';
          const healthy = Object.values(states).every(Boolean);
          return {
            status: healthy ? 200 : 503,
            body: {
              status: healthy ? 'healthy' : 'degraded',
              timestamp: new Date(clock.now()).toISOString(),
              version: VERSION,
              services: { database: services['database'], redis: services['redis'], firebase: services['firebase'] },
              checks: monitor.describe,
              durability: storage.durability,
            },
          };
        },
      },
    });

    const listen = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
      app.listen(config.host, config.port, (socket) =>
        socket ? resolve(socket) : reject(new Error(`cannot listen on ${config.host}:${config.port}`)),
      );
    });
    const port = uWS.us_socket_local_port(listen);
    closers.push(() => {
      uWS.us_listen_socket_close(listen);
      rider.close(CloseCode.SHUTTING_DOWN, 'SHUTTING_DOWN');
      stream.close(CloseCode.SHUTTING_DOWN, 'SHUTTING_DOWN');
      cityConsole.close();
    });
    let admin: RunningAdmin | undefined;
    if (config.admin) {
      const audit = new AdminAudit(storage.db);
      // A gateway's mirror is told the recorded settings by the mirror itself (and again each minute).
      if (!side) applyStanding(engine, await audit.standing(), log);
      admin = await startAdminServer(config.admin, {
        engine,
        commands,
        identity,
        audit,
        store: storage.store,
        durable,
        feed: new EventFeed(engine),
        streamBuffer: config.admin.streamBuffer,
        now: () => clock.now(),
        log,
      });
      closers.push(() => admin?.close());
      log.info({ msg: `admin gRPC on ${config.admin.host}:${admin.port}${admin.tls ? ' (TLS)' : ''}` });
    }
    serving = true;
    void monitor.check();
    let closed: Promise<void> | undefined;
    return {
      port,
      admin,
      engine,
      recovery: report,
      durability: storage.durability,
      metricsPort: ops.port,
      metrics,
      health: monitor,
      close: () => {
        monitor.stopping();
        return (closed ??= closeAll());
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Outside production a missing ENCRYPTION_KEY is generated once into the data
 * directory (`DATA_DIR`/encryption.key, mode 0600) and read back on later
 * starts, so bank details written by one run are readable by the next; the
 * log says where it is. Production refuses to start without one (server-config.ts).
 */
async function developmentKey(config: ServerConfig, log: ServerLogger): Promise<Buffer> {
  if (config.mode === 'production') throw new Error('ENCRYPTION_KEY is required in production');
  try {
    const key = parseEncryptionKey((await readFile(config.keyFile, 'utf8')).trim());
    log.info({ msg: `ENCRYPTION_KEY not set: using the development key kept in ${config.keyFile}` });
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new Error(`ENCRYPTION_KEY not set and ${config.keyFile} is unreadable: ${(err as Error).message}`);
  }
  const key = randomBytes(32);
  await mkdir(dirname(config.keyFile), { recursive: true });
  try {
    await writeFile(config.keyFile, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    // Another process of this data directory made one first: use it.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return developmentKey(config, log);
    throw err;
  }
  log.warn({
    msg: `ENCRYPTION_KEY not set: generated a development key into ${config.keyFile} and kept it there; set ENCRYPTION_KEY in production`,
  });
  return key;
}

/** Waits until the queue holds nothing unwritten, or gives up after `ms` (and says so). */
async function drain(storage: Storage, ms: number, log: ServerLogger): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    let left = 0;
    for (const job of await storage.queue.pending()) left += job.data.records.length;
    if (left === 0) return;
    if (Date.now() > until) {
      log.error({ msg: `shutdown: ${left} events still unwritten after ${ms} ms; an embedded queue loses them now` });
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

/** In emulator mode, whether the emulator answers; with real Firebase, whether Google's key endpoint does. */
async function firebaseUp(emulatorHost: string | undefined, agent: Agent | undefined): Promise<boolean> {
  const url = emulatorHost
    ? `http://${emulatorHost}/`
    : 'https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com';
  // fetch takes no http.Agent: a benchmark's route to its stand-in goes through node:https.
  if (agent !== undefined && emulatorHost === undefined) return httpsUp(url, agent);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return res.status < 500;
  } catch {
    return false;
  }
}

function httpsUp(url: string, agent: Agent): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsGet(url, { agent, timeout: 1_000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}
