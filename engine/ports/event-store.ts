import type { AggregateKind, EngineEvent, Result } from '../../protocol/index.js';
import type { OrderSnapshotRow, RestaurantSnapshotRow, RiderSnapshotRow } from '../snapshot.js';

/** An actor's snapshot row (what `Engine.toSnapshot()` holds for it). */
export type ActorRow = RestaurantSnapshotRow | RiderSnapshotRow | OrderSnapshotRow;

/**
 * What write-behind stores for one event: the event itself, the state of its
 * actor after it (at least as new as the event; null when the engine no longer
 * held the actor), and the engine's id counter at that moment.
 *
 * In a queued batch the state may be left out (`state` absent, not null): the
 * events one command emits for one actor share the state after the command,
 * and a batch carries it once, on the last of them; {@link withStates} gives it
 * back to the others. A store needs only each actor's newest state, so it may
 * take such records as they come.
 */
export interface EventRecord {
  readonly event: EngineEvent;
  readonly state?: ActorRow | null;
  readonly idCounter: number;
}

/**
 * The records of a batch with every left-out state given back: a record without one takes the
 * state of the next record of the same actor that has one. Returns `records` itself when none
 * is left out.
 */
export function withStates(records: readonly EventRecord[]): readonly EventRecord[] {
  const later = new Map<string, ActorRow | null>();
  let out: EventRecord[] | undefined;
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    const key = `${r.event.aggregate}/${r.event.id}`;
    if (r.state !== undefined) {
      later.set(key, r.state);
      continue;
    }
    const state = later.get(key);
    if (state === undefined) continue;
    out ??= records.slice();
    out[i] = { event: r.event, state, idCounter: r.idCounter };
  }
  return out ?? records;
}

/**
 * One job of the write-behind queue: the records of one group commit (or a
 * chunk of it), in emission order. Its job id is `b.` and the job id of its
 * first record's event, so it is as deterministic as the events it carries.
 */
export interface EventBatch {
  readonly records: readonly EventRecord[];
  /** Set when a partition's owner wrote the batch: its records land only under that fence. */
  readonly fence?: BatchFence;
}

/**
 * Which partition a batch belongs to and the fencing token of the tenure
 * that emitted it (engine/ports/fence.ts, docs/scale.md).
 */
export interface BatchFence {
  readonly partition: string;
  readonly token: number;
}

/** The latest stored state of the engine, the input of recovery. */
export interface StoredState {
  readonly restaurants: readonly RestaurantSnapshotRow[];
  readonly riders: readonly RiderSnapshotRow[];
  readonly orders: readonly OrderSnapshotRow[];
  readonly idCounter: number;
}

/**
 * What rebuilding one partition starts from: the rows its owners wrote last, and the rows no
 * owner has stamped (written by a single-process server), which the partition map assigns.
 */
export interface PartitionState extends StoredState {
  readonly unassigned: Omit<StoredState, 'idCounter'>;
}

/**
 * The event store port: an append-only log of engine events keyed by
 * (aggregate, id, seq), plus the latest state of each actor.
 *
 * Contract (test/contracts/event-store.contract.ts):
 * - `append` is idempotent: records already stored change nothing, whether in
 *   an earlier call or twice in one batch; it answers how many events were new.
 * - An actor's stored state only moves forward: a record whose state has a
 *   lower seq than the stored one leaves it as it is.
 * - `append` is all or nothing: it throws (code `DEPENDENCY_UNAVAILABLE` when
 *   the database is down) and stores nothing, or stores the whole batch.
 */
export interface EventStore {
  append(records: readonly EventRecord[]): Promise<{ readonly inserted: number }>;
  /**
   * `append` inside the fence of `fence.partition`, in one transaction: the records are stored
   * and the partition's token raised to `fence.token`, or, when a higher token is stored
   * already (a newer owner claimed the partition), `FENCED` and nothing is stored.
   */
  appendFenced(fence: BatchFence, records: readonly EventRecord[]): Promise<Result<{ readonly inserted: number }>>;
  /** The events of one actor with seq > `afterSeq`, in seq order. */
  readAggregate(aggregate: AggregateKind, id: string, afterSeq?: number): Promise<EngineEvent[]>;
  /**
   * Up to `limit` events stored after log position `after` (0: from the start),
   * in store order, and the position to pass next time.
   */
  readSince(after: number, limit: number): Promise<{ readonly events: EngineEvent[]; readonly position: number }>;
  /**
   * Every restaurant and rider, every live order, and orders that ended at or
   * after `endedSince` (engine ms; older ones are past retention).
   */
  loadState(endedSince: number): Promise<StoredState>;
  /**
   * As `loadState`, for one partition: the actors whose latest state was written by a batch
   * fenced with `partition`, and apart those written unfenced.
   */
  loadPartition(partition: string, endedSince: number): Promise<PartitionState>;
  close(): Promise<void>;
}
