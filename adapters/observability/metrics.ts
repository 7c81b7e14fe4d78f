/**
 * The server's Prometheus metrics (prom-client), one registry per process
 * (never the library's global one, so two servers in one test process do not
 * mix). Counts come from the places that already count: engine events through
 * `engine.subscribeBatches` (the engine stays pure and unaware), the routes'
 * own stats objects read at scrape time (the position hot path only bumps an
 * integer it bumped before), and a few gauges read from the engine, the queue
 * and the pool when Prometheus asks.
 *
 * Labels carry route templates, states, outcomes and codes: never an id.
 */
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type LabelValues,
} from 'prom-client';
import type { Engine, MatchInfo } from '../../engine/index.js';
import { CancelReason, type EngineEvent } from '../../protocol/index.js';

/** Cancellation reasons as label values: the engine's own; anything else (free text) is `other`. */
const REASONS = new Set<string>(Object.values(CancelReason));

/** What the rider route counts (adapters/ws/rider-gateway.ts `RiderRouteStats`). */
export interface RiderStatsView {
  readonly connections: number;
  readonly opened: number;
  readonly positions: number;
  readonly stalePositions: number;
  readonly rateLimited: number;
  readonly invalidFrames: number;
  readonly droppedFrames: number;
  readonly controlFrames: number;
  readonly closes: Readonly<Record<number, number>>;
}

/** What the stream routes count, per path. */
export interface StreamPathStatsView {
  readonly connections: number;
  readonly opened: number;
  readonly messages: number;
  readonly closes: Readonly<Record<number, number>>;
}
export interface StreamStatsView {
  readonly published: number;
  readonly locations: number;
  readonly fed: number;
  readonly paths: Readonly<Record<string, StreamPathStatsView>>;
}

export interface PushStatsView {
  readonly sent: number;
  readonly dropped: number;
  readonly retried: number;
  readonly failed: number;
}

/** The identity cache's counters (adapters/identity/caching-identity.ts). */
export interface IdentityCacheView {
  readonly stats: {
    readonly hits: number;
    readonly misses: number;
    readonly bypassed: number;
    readonly evicted: number;
  };
  readonly entries: number;
}

export interface PoolView {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** Refunds and payments not yet at an end, read from Postgres when scraped. */
export interface MoneyOpen {
  readonly refundsOpen: number;
  readonly refundOldestOpenS: number;
  readonly paymentsOpen: number;
}

const SCRAPE_READ_MS = 1_000;

interface Sources {
  engine?: Engine;
  rider?: RiderStatsView;
  stream?: StreamStatsView;
  push?: PushStatsView;
  identityCache?: IdentityCacheView;
  pool?: PoolView & { readonly options: { readonly max?: number } };
  queueDepth?: () => Promise<number>;
  money?: () => Promise<MoneyOpen>;
  readiness?: () => { readonly ready: boolean; readonly reasons: readonly string[] };
}

/** A counter whose value is read from a stats object when scraped, one series per entry. */
function readCounter<L extends string>(
  registry: Registry,
  cfg: Omit<CounterConfiguration<L>, 'collect' | 'registers'>,
  read: () => Iterable<readonly [LabelValues<L>, number]> | undefined,
): Counter<L> {
  return new Counter<L>({
    ...cfg,
    registers: [registry],
    collect() {
      const rows = read();
      if (!rows) return;
      this.reset();
      for (const [labels, v] of rows) this.inc(labels, v);
    },
  });
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
  Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #http: Counter<'method' | 'route' | 'status'>;
  readonly #httpSeconds: Histogram<'method' | 'route' | 'status'>;
  readonly #match: Histogram;
  readonly #offers: Counter<'outcome'>;
  readonly #ordersPlaced: Counter;
  readonly #ordersEnded: Counter<'outcome' | 'by' | 'reason'>;
  readonly #payments: Counter<'outcome'>;
  readonly #lag: Histogram;
  readonly #written: Counter;
  readonly #lastWrite: Gauge;
  readonly #refundRounds: Counter<'outcome'>;
  readonly #deps: Gauge<'dependency'>;
  readonly #ready: Gauge;
  readonly #recovering: Gauge;
  #unsubscribe: (() => void) | undefined;
  /** What the gauges read when scraped; set by the `watch...` methods. */
  readonly #src: Sources = {};

  constructor(o: { readonly defaultMetrics?: boolean; readonly service?: string } = {}) {
    const r = this.registry;
    if (o.service) r.setDefaultLabels({ service: o.service });
    // Event-loop lag, GC, heap, handles, CPU: prom-client's defaults.
    if (o.defaultMetrics !== false) collectDefaultMetrics({ register: r });

    this.#http = new Counter({
      name: 'http_requests_total',
      help: 'REST requests answered, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      registers: [r],
    });
    this.#httpSeconds = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'REST request latency from arrival to the answer, by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [r],
    });
    this.#match = new Histogram({
      name: 'dispatch_match_latency_seconds',
      help: 'engine time from an order becoming dispatchable (or its candidates arriving) to its offer',
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5, 30, 120],
      registers: [r],
    });
    this.#offers = new Counter({
      name: 'dispatch_offers_total',
      help: 'offers to riders: sent, accepted, declined, expired, withdrawn',
      labelNames: ['outcome'],
      registers: [r],
    });
    this.#ordersPlaced = new Counter({ name: 'dispatch_orders_placed_total', help: 'orders placed', registers: [r] });
    this.#ordersEnded = new Counter({
      name: 'dispatch_orders_ended_total',
      help: 'orders that ended: delivered, or cancelled by customer, restaurant, admin or system, and why',
      labelNames: ['outcome', 'by', 'reason'],
      registers: [r],
    });
    this.#payments = new Counter({
      name: 'dispatch_payments_total',
      help: 'payments as the engine saw them: confirmed, failed, expired; and refund_due (a paid order cancelled)',
      labelNames: ['outcome'],
      registers: [r],
    });
    this.#lag = new Histogram({
      name: 'dispatch_write_behind_lag_seconds',
      help: 'time from an engine event to its row in Postgres, per written batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [r],
    });
    this.#written = new Counter({
      name: 'dispatch_write_behind_events_written_total',
      help: 'engine events written behind to Postgres by this process (a redelivered batch counts again)',
      registers: [r],
    });
    this.#lastWrite = new Gauge({
      name: 'dispatch_write_behind_last_write_timestamp_seconds',
      help: 'when this process last wrote a batch behind (unix seconds; 0: never)',
      registers: [r],
    });
    this.#refundRounds = new Counter({
      name: 'dispatch_refund_relay_total',
      help: 'refunds the relay handled: sent (accepted by the gateway), retried, rejected (flagged for an operator)',
      labelNames: ['outcome'],
      registers: [r],
    });
    this.#deps = new Gauge({
      name: 'dispatch_dependency_up',
      help: 'whether the last health check reached each dependency (1) or not (0)',
      labelNames: ['dependency'],
      registers: [r],
    });
    const readiness = () => this.#src.readiness?.();
    this.#ready = new Gauge({
      name: 'dispatch_ready',
      help: 'whether /readyz answers ready (1)',
      registers: [r],
      collect() {
        const now = readiness();
        if (now) this.set(now.ready ? 1 : 0);
      },
    });
    this.#recovering = new Gauge({
      name: 'dispatch_recovering',
      help: 'whether the server is rebuilding its state from storage or re-sending events Redis refused (1)',
      registers: [r],
      collect() {
        const now = readiness();
        if (now) this.set(now.reasons.some((x) => x.startsWith('recovering')) ? 1 : 0);
      },
    });
    this.#ready.set(0);
    this.#recovering.set(1);

    const src = this.#src;
    const engine = () => src.engine;
    new Gauge({
      name: 'dispatch_actors',
      help: 'riders, orders and restaurants in memory, by shard (H3 cell) and state',
      labelNames: ['shard', 'kind', 'state'],
      registers: [r],
      collect() {
        const e = engine();
        if (!e) return;
        this.reset();
        for (const [key, shard] of e.internals.shards) {
          for (const [kind, actors] of [
            ['rider', shard.riders],
            ['order', shard.orders],
            ['restaurant', shard.restaurants],
          ] as const) {
            const by = new Map<string, number>();
            for (const a of actors.values()) by.set(a.state, (by.get(a.state) ?? 0) + 1);
            for (const [state, n] of by) this.set({ shard: key, kind, state }, n);
          }
        }
      },
    });
    new Gauge({
      name: 'dispatch_orders',
      help: 'orders in memory by state (finished ones stay for the retention time)',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const e = engine();
        if (!e) return;
        this.reset();
        const by = new Map<string, number>();
        for (const o of e.internals.orders.values()) by.set(o.state, (by.get(o.state) ?? 0) + 1);
        for (const [state, n] of by) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'dispatch_deadlines_armed',
      help: 'deadlines armed in the engine (offer expiries, restaurant timeouts, grace periods...)',
      registers: [r],
      collect() {
        const e = engine();
        if (e) this.set(e.stats().deadlines);
      },
    });
    new Gauge({
      name: 'dispatch_write_behind_queue_depth',
      help: 'write-behind jobs (batches of events) waiting in the queue or being written',
      registers: [r],
      async collect() {
        const depth = src.queueDepth
          ? await within(
              src.queueDepth().catch(() => undefined),
              SCRAPE_READ_MS,
            )
          : 0;
        if (depth !== undefined) this.set(depth);
      },
    });
    new Gauge({
      name: 'dispatch_pg_pool_connections',
      help: 'Postgres pool connections: total, idle, and clients waiting for one',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const p = src.pool;
        if (!p) return;
        this.set({ state: 'total' }, p.totalCount);
        this.set({ state: 'idle' }, p.idleCount);
        this.set({ state: 'waiting' }, p.waitingCount);
      },
    });
    new Gauge({
      name: 'dispatch_pg_pool_max',
      help: 'Postgres pool size (DATABASE_MAX_CONNECTIONS)',
      registers: [r],
      collect() {
        if (src.pool) this.set(src.pool.options.max ?? 10);
      },
    });
    const money = new Map<string, number>();
    const readMoney = async () => {
      const m = src.money
        ? await within(
            src.money().catch(() => undefined),
            SCRAPE_READ_MS,
          )
        : undefined;
      if (!m) return;
      money.set('refunds', m.refundsOpen);
      money.set('payments', m.paymentsOpen);
      money.set('oldest', m.refundOldestOpenS);
    };
    new Gauge({
      name: 'dispatch_refunds_open',
      help: 'refunds requested or pending at the gateway (not yet processed or failed)',
      registers: [r],
      async collect() {
        await readMoney();
        if (money.has('refunds')) this.set(money.get('refunds')!);
      },
    });
    new Gauge({
      name: 'dispatch_refund_oldest_open_age_seconds',
      help: 'age of the oldest refund not yet processed or failed (0: none)',
      registers: [r],
      collect() {
        if (money.has('oldest')) this.set(money.get('oldest')!);
      },
    });
    new Gauge({
      name: 'dispatch_payments_open',
      help: 'payments created or pending (not yet captured, failed or expired)',
      registers: [r],
      collect() {
        if (money.has('payments')) this.set(money.get('payments')!);
      },
    });

    // Rider and stream routes: their own counters, read at scrape.
    const rider = () => src.rider;
    const stream = () => src.stream;
    new Gauge({
      name: 'dispatch_ws_connections',
      help: 'open WebSocket connections by route',
      labelNames: ['route'],
      registers: [r],
      collect() {
        const rs = rider();
        if (rs) this.set({ route: '/v1/rider' }, rs.connections);
        const ss = stream();
        if (ss) for (const [route, p] of Object.entries(ss.paths)) this.set({ route }, p.connections);
      },
    });
    readCounter(
      r,
      { name: 'dispatch_ws_opened_total', help: 'WebSocket connections opened by route', labelNames: ['route'] },
      () => {
        const rows: [LabelValues<'route'>, number][] = [];
        const rs = rider();
        if (rs) rows.push([{ route: '/v1/rider' }, rs.opened]);
        const ss = stream();
        if (ss) for (const [route, p] of Object.entries(ss.paths)) rows.push([{ route }, p.opened]);
        return rows;
      },
    );
    readCounter(
      r,
      {
        name: 'dispatch_ws_closed_total',
        help: 'WebSocket connections closed, by route and close code',
        labelNames: ['route', 'code'],
      },
      () => {
        const rows: [LabelValues<'route' | 'code'>, number][] = [];
        const rs = rider();
        if (rs) for (const [code, n] of Object.entries(rs.closes)) rows.push([{ route: '/v1/rider', code }, n]);
        const ss = stream();
        if (ss)
          for (const [route, p] of Object.entries(ss.paths))
            for (const [code, n] of Object.entries(p.closes)) rows.push([{ route, code }, n]);
        return rows;
      },
    );
    readCounter(
      r,
      {
        name: 'dispatch_ws_frames_total',
        help: 'WebSocket frames by route, direction and outcome',
        labelNames: ['route', 'direction', 'outcome'],
      },
      () => {
        const rows: [LabelValues<'route' | 'direction' | 'outcome'>, number][] = [];
        const rs = rider();
        if (rs) {
          const route = '/v1/rider';
          rows.push([{ route, direction: 'in', outcome: 'position' }, rs.positions]);
          rows.push([{ route, direction: 'in', outcome: 'control' }, rs.controlFrames]);
          rows.push([{ route, direction: 'in', outcome: 'rate_limited' }, rs.rateLimited]);
          rows.push([{ route, direction: 'in', outcome: 'invalid' }, rs.invalidFrames]);
          rows.push([{ route, direction: 'out', outcome: 'dropped' }, rs.droppedFrames]);
        }
        const ss = stream();
        if (ss) {
          for (const [route, p] of Object.entries(ss.paths))
            rows.push([{ route, direction: 'in', outcome: 'message' }, p.messages]);
          const route = '/v1/stream,/ws';
          rows.push([{ route, direction: 'out', outcome: 'order_update' }, ss.published]);
          rows.push([{ route, direction: 'out', outcome: 'location' }, ss.locations]);
          rows.push([{ route, direction: 'out', outcome: 'feed' }, ss.fed]);
        }
        return rows;
      },
    );
    readCounter(
      r,
      {
        name: 'dispatch_positions_ingested_total',
        help: 'rider positions over /v1/rider: applied (used for matching) or stale (kept for the trail only)',
        labelNames: ['outcome'],
      },
      () => {
        const rs = rider();
        if (!rs) return undefined;
        return [
          [{ outcome: 'applied' }, rs.positions - rs.stalePositions],
          [{ outcome: 'stale' }, rs.stalePositions],
        ];
      },
    );
    readCounter(
      r,
      {
        name: 'dispatch_push_total',
        help: 'push notifications: sent, dropped (token gone), retried, failed',
        labelNames: ['outcome'],
      },
      () => {
        const p = src.push;
        if (!p) return undefined;
        return [
          [{ outcome: 'sent' }, p.sent],
          [{ outcome: 'dropped' }, p.dropped],
          [{ outcome: 'retried' }, p.retried],
          [{ outcome: 'failed' }, p.failed],
        ];
      },
    );
    readCounter(
      r,
      {
        name: 'dispatch_identity_cache_total',
        help: 'token verifications by the identity cache: hit, miss (verified, then kept), bypassed (revocation checked), evicted',
        labelNames: ['outcome'],
      },
      () => {
        const c = src.identityCache;
        if (!c) return undefined;
        return [
          [{ outcome: 'hit' }, c.stats.hits],
          [{ outcome: 'miss' }, c.stats.misses],
          [{ outcome: 'bypassed' }, c.stats.bypassed],
          [{ outcome: 'evicted' }, c.stats.evicted],
        ];
      },
    );
    new Gauge({
      name: 'dispatch_identity_cache_entries',
      help: 'verified principals held by the identity cache',
      registers: [r],
      collect() {
        const c = src.identityCache;
        if (c) this.set(c.entries);
      },
    });
    // Every outcome shows from the start, at 0, so rates and alerts have a series to work on.
    for (const outcome of ['sent', 'accepted', 'declined', 'expired', 'withdrawn']) this.#offers.inc({ outcome }, 0);
    for (const outcome of ['sent', 'retried', 'rejected']) this.#refundRounds.inc({ outcome }, 0);
    for (const outcome of ['confirmed', 'failed', 'expired', 'refund_due']) this.#payments.inc({ outcome }, 0);
    this.#lastWrite.set(0);
  }

  /** One answered REST request; `route` is the template (`/orders/{order_id}`), never the path. */
  request(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.#http.inc(labels);
    this.#httpSeconds.observe(labels, seconds);
  }

  /** The engine's match callback (`EngineOptions.onMatch`). */
  readonly onMatch = (m: MatchInfo): void => {
    this.#match.observe(m.micros / 1e6);
  };

  /** Counts offers and order outcomes from the engine's events; gauges read its actors when scraped. */
  watchEngine(engine: Engine): void {
    this.#unsubscribe?.();
    this.#src.engine = engine;
    this.#unsubscribe = engine.subscribeBatches((batch) => {
      for (const e of batch.events) this.#event(e);
    });
  }

  #event(e: EngineEvent): void {
    switch (e.type) {
      case 'order_offered':
        this.#offers.inc({ outcome: 'sent' });
        return;
      case 'order_assigned':
        this.#offers.inc({ outcome: 'accepted' });
        return;
      case 'order_offer_ended':
        this.#offers.inc({ outcome: e.outcome });
        return;
      case 'order_placed':
        this.#ordersPlaced.inc();
        return;
      case 'order_delivered':
        this.#ordersEnded.inc({ outcome: 'delivered', by: 'rider', reason: 'delivered' });
        return;
      case 'order_payment_confirmed':
        this.#payments.inc({ outcome: 'confirmed' });
        return;
      case 'order_cancelled':
        this.#ordersEnded.inc({ outcome: 'cancelled', by: e.by, reason: REASONS.has(e.reason) ? e.reason : 'other' });
        if (e.reason === CancelReason.PAYMENT_FAILED) this.#payments.inc({ outcome: 'failed' });
        else if (e.reason === CancelReason.PAYMENT_EXPIRED) this.#payments.inc({ outcome: 'expired' });
        if (e.refundDue) this.#payments.inc({ outcome: 'refund_due' });
        return;
      default:
    }
  }

  watchRider(stats: RiderStatsView): void {
    this.#src.rider = stats;
  }
  watchStream(stats: StreamStatsView): void {
    this.#src.stream = stats;
  }
  watchPush(stats: PushStatsView): void {
    this.#src.push = stats;
  }
  watchIdentityCache(cache: IdentityCacheView): void {
    this.#src.identityCache = cache;
  }
  watchPool(pool: PoolView & { readonly options: { readonly max?: number } }): void {
    this.#src.pool = pool;
  }
  watchQueue(depth: () => Promise<number>): void {
    this.#src.queueDepth = depth;
  }
  watchMoney(read: () => Promise<MoneyOpen>): void {
    this.#src.money = read;
  }

  /** Records written behind (the writer's `afterStore`): lag from each batch's oldest event. */
  written(records: readonly { readonly event: { readonly at: number } }[], now: number): void {
    if (records.length === 0) return;
    let oldest = records[0]!.event.at;
    for (const r of records) if (r.event.at < oldest) oldest = r.event.at;
    this.#lag.observe(Math.max(0, now - oldest) / 1000);
    this.#written.inc(records.length);
    this.#lastWrite.set(now / 1000);
  }

  refundRound(r: { readonly sent: number; readonly retried: number; readonly rejected: number }): void {
    if (r.sent) this.#refundRounds.inc({ outcome: 'sent' }, r.sent);
    if (r.retried) this.#refundRounds.inc({ outcome: 'retried' }, r.retried);
    if (r.rejected) this.#refundRounds.inc({ outcome: 'rejected' }, r.rejected);
  }

  /** The last health round's dependencies. */
  dependencies(services: Readonly<Record<string, boolean>>): void {
    for (const [dependency, up] of Object.entries(services)) this.#deps.set({ dependency }, up ? 1 : 0);
  }

  /** Readiness as /readyz answers it, read at scrape time. */
  watchReadiness(read: () => { readonly ready: boolean; readonly reasons: readonly string[] }): void {
    this.#src.readiness = read;
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }
}
