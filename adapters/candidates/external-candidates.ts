import type { CandidateRequest, CommandBatch, Engine, RiderId } from '../../engine/index.js';
import type { CandidateStore } from './candidate-store.js';

export interface ExternalCandidatesOptions {
  /** Candidates asked for per order, beyond the riders the order excludes. */
  readonly k: number;
  readonly logger?: { error(message: string, detail?: unknown): void };
  /** Called with each lookup's wall time in µs (the benchmark's histogram). */
  readonly onLookup?: (micros: number) => void;
  /** Microsecond timer for `onLookup`. */
  readonly nowMicros?: () => number;
}

/** The bridge between an engine in external candidates mode and a {@link CandidateStore}. */
export interface ExternalCandidates {
  /** Pass as the engine's `externalCandidates` option. */
  readonly request: (req: CandidateRequest) => void;
  /** Starts mirroring the engine's available riders into the store. */
  attach(engine: Engine): void;
  /** Call after every applied position (the rider gateway's `onPosition`). */
  readonly onPosition: (riderId: RiderId, lat: number, lng: number) => void;
  readonly stats: {
    requests: number;
    answered: number;
    offered: number;
    empty: number;
    refused: number;
    lookupErrors: number;
  };
  detach(): void;
}

/**
 * Replaces only candidate finding: the store holds exactly the riders the
 * engine holds available (mirrored from its events and from every applied
 * position), and each request of the engine becomes one nearest-k lookup whose
 * answer goes back through `engine.offerFromCandidates`, so scoring, offers
 * and everything downstream stay the engine's.
 */
export function externalCandidates(store: CandidateStore, o: ExternalCandidatesOptions): ExternalCandidates {
  let engine: Engine | null = null;
  let unsubscribe: (() => void) | null = null;
  /** Riders the store holds, so a rider leaving is removed once, not on every event. */
  const inStore = new Set<string>();
  const stats = { requests: 0, answered: 0, offered: 0, empty: 0, refused: 0, lookupErrors: 0 };
  const now = o.nowMicros ?? (() => performance.now() * 1000);

  const sync = (e: Engine, id: RiderId): void => {
    if (e.isRiderAvailable(id)) {
      const v = e.getRider(id);
      if (v.ok && v.value.position) {
        store.put(id, v.value.position.lat, v.value.position.lng);
        inStore.add(id);
      }
    } else if (inStore.delete(id)) {
      store.remove(id);
    }
  };

  /** Listeners hear a command's events once it has finished, so availability is read after the whole command. */
  const onBatch = (b: CommandBatch): void => {
    if (engine === null) return;
    for (const ev of b.events) if (ev.aggregate === 'rider') sync(engine, ev.id);
  };

  return {
    stats,
    request(req) {
      stats.requests++;
      const t0 = now();
      // Asked inside an engine command: the answer comes later, as a command of its own.
      store.nearest(req.pickup.lat, req.pickup.lng, req.maxDistanceM, o.k + req.exclude.length).then(
        (ids) => {
          o.onLookup?.(now() - t0);
          stats.answered++;
          if (engine === null) return;
          const res = engine.offerFromCandidates(req.orderId, ids);
          if (!res.ok)
            stats.refused++; // the order moved on (cancelled, say) while the lookup ran
          else if (res.value === null) stats.empty++;
          else stats.offered++;
        },
        (err: unknown) => {
          stats.lookupErrors++;
          // The engine's retry deadline asks again.
          o.logger?.error(`candidate lookup for order ${req.orderId} failed`, err);
        },
      );
    },
    attach(e) {
      engine = e;
      unsubscribe = e.subscribeBatches(onBatch);
    },
    onPosition(id, lat, lng) {
      if (engine === null || !engine.isRiderAvailable(id)) return;
      store.put(id, lat, lng);
      inStore.add(id);
    },
    detach() {
      unsubscribe?.();
      engine = null;
    },
  };
}
