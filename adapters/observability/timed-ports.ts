/**
 * The server's parts seen through a {@link StageTimer}: the same objects,
 * each method that makes a stage run through the timer. Built by the
 * composition root only when a profiler is given, so a server without one
 * calls the parts themselves.
 */
import type { Engine } from '../../engine/index.js';
import type { EventStore } from '../../engine/ports/event-store.js';
import type { IdentityVerifier } from '../../engine/ports/identity.js';
import type { BatchHandler, ConsumeOptions, JobQueue } from '../../engine/ports/job-queue.js';
import type { CatalogStore } from '../postgres/catalog-store.js';
import type { MoneyStore } from '../postgres/money-store.js';
import type { EventSource } from '../persistence/write-behind.js';
import type { StageTimer } from './stage-profiler.js';

/** How one method is timed; undefined: not at all. */
type Timing = { readonly stage: string; readonly how: 'sync' | 'io' | 'chain' } | undefined;

/**
 * `target` with its methods timed as `timing` says. Methods are called on the
 * target itself (private fields and getters keep working) and wrapped once each.
 */
export function timedMethods<T extends object>(target: T, st: StageTimer, timing: (method: string) => Timing): T {
  const cache = new Map<string, unknown>();
  return new Proxy(target, {
    get(t, prop) {
      const v: unknown = Reflect.get(t, prop, t);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      let w = cache.get(prop);
      if (w === undefined) {
        const f = v as (...a: unknown[]) => unknown;
        const how = timing(prop);
        w =
          how === undefined
            ? f.bind(t)
            : how.how === 'sync'
              ? (...a: unknown[]) => st.sync(how.stage, () => f.apply(t, a))
              : (...a: unknown[]) => st[how.how](how.stage, () => f.apply(t, a) as Promise<unknown>);
        cache.set(prop, w);
      }
      return w;
    },
  });
}

/** The position hot path is the positions stage's; listeners and handles are not commands. */
const NOT_COMMANDS = new Set([
  'updateRiderPosition',
  'updateRiderPositionOf',
  'riderHandle',
  'subscribe',
  'subscribeBatches',
  'stop',
]);

/** The engine as the edges call it: each command or query counted under `engine`, timed from this side. */
export const timedEngine = (engine: Engine, st: StageTimer): Engine =>
  timedMethods(engine, st, (m) => (NOT_COMMANDS.has(m) ? undefined : { stage: 'engine', how: 'sync' }));

/** Statements run inside a caller's transaction: the transaction is what is timed. (`storedReply` is a read.) */
const IN_TRANSACTION = /^(insert|store[A-Z]|update|replace|set[A-Z]|ensure|resubmit)/;

/**
 * The catalog: reads under `catalog_reads`; the order row (the autocommitted
 * or transactional write, and the status catch-up with the read that answers
 * a status change, one statement) under `order_row`.
 */
export const timedCatalog = (catalog: CatalogStore, st: StageTimer): CatalogStore =>
  timedMethods(catalog, st, (m) =>
    m === 'autocommit' || m === 'transaction' || m === 'setOrderStatuses' || m === 'catchUpAndRead'
      ? { stage: 'order_row', how: 'io' }
      : IN_TRANSACTION.test(m) || m === 'ping'
        ? undefined
        : { stage: 'catalog_reads', how: 'io' },
  );

/** The payment reads of the REST handlers, under `catalog_reads` with the catalog's; the rest is not timed. */
const MONEY_READS = new Set(['getPayment', 'openPaymentOf', 'refundsOf']);

/** The money store as the REST handlers call it: its reads timed as the catalog's. */
export const timedMoney = (money: MoneyStore, st: StageTimer): MoneyStore =>
  timedMethods(money, st, (m) => (MONEY_READS.has(m) ? { stage: 'catalog_reads', how: 'io' } : undefined));

/** Token verification: a chain of microtasks once the keys are cached. */
export const timedIdentity = (identity: IdentityVerifier, st: StageTimer): IdentityVerifier => ({
  verify: (token, opts) => st.chain('identity', () => identity.verify(token, opts)),
});

/**
 * A queue whose adds (and settles of held jobs) are a stage (`bullmq_add` for write-behind, `push_feed` for pushes) and
 * whose consumers' batch handlers another (the in-process workers).
 */
export function timedQueue<T>(queue: JobQueue<T>, st: StageTimer, add: string, consume: string): JobQueue<T> {
  const q = timedMethods(queue, st, (m) => (m === 'enqueue' || m === 'settle' ? { stage: add, how: 'io' } : undefined));
  return new Proxy(q, {
    get(target, prop) {
      if (prop !== 'consume') return Reflect.get(target, prop, target) as unknown;
      return (handler: BatchHandler<T>, opts?: ConsumeOptions) =>
        queue.consume((batch) => st.io(consume, () => handler(batch)), opts);
    },
  });
}

/** The event store as the write-behind worker uses it: each batch's statement. */
export const timedStore = (store: EventStore, st: StageTimer): EventStore =>
  timedMethods(store, st, (m) =>
    m === 'append' || m === 'appendFenced' ? { stage: 'write_behind_statement', how: 'io' } : undefined,
  );

/** What write-behind reads of the engine, with its per-command records counted under `durability`. */
export const timedSource = (source: EventSource, st: StageTimer): EventSource => ({
  subscribeBatches: (listener) => source.subscribeBatches((batch) => st.sync('durability', () => listener(batch))),
  snapshotRow: (aggregate, id) => source.snapshotRow(aggregate, id),
  get idCounter() {
    return source.idCounter;
  },
});

/** What the composition root hands the edges and the persistence path. */
export interface ServerParts {
  readonly engine: Engine;
  readonly catalog: CatalogStore;
  readonly money: MoneyStore;
  readonly identity: IdentityVerifier;
  /** The write-behind barrier the edges wait on before answering. */
  readonly durable: () => Promise<void>;
}

/**
 * The edges' parts, timed when a profiler is given; without one, `parts`
 * itself, so that a server that does not profile calls its parts directly.
 */
export function timedParts(parts: ServerParts, st?: StageTimer): ServerParts {
  if (st === undefined) return parts;
  return {
    engine: timedEngine(parts.engine, st),
    catalog: timedCatalog(parts.catalog, st),
    money: timedMoney(parts.money, st),
    identity: timedIdentity(parts.identity, st),
    durable: () => st.io('durability', parts.durable),
  };
}
