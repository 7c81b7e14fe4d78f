import type { LatLng, OrderId } from '../../protocol/index.js';
import type { EngineLogger } from '../ports/engine-logger.js';
import type { OrderRecord } from '../records.js';
import type { Match, RingSearch } from './ring-search.js';

/**
 * What an external candidate source is asked for when an order needs a rider
 * and the engine runs with the `externalCandidates` option.
 */
export interface CandidateRequest {
  readonly orderId: OrderId;
  readonly pickup: LatLng;
  /** Riders who passed on this order (declined, let it expire, went offline with it): never offered it again. */
  readonly exclude: readonly string[];
  /** Candidates farther than this are ignored (`EngineConfig.maxPickupDistanceM`). */
  readonly maxDistanceM: number;
  /** Engine time of the request, epoch ms. */
  readonly at: number;
}

/**
 * Where dispatch finds riders for an order: a source that answers at once
 * (the best match, or `undefined` when there is none), or one asked now that
 * answers later with an `offer_from_candidates` command, while dispatch keeps
 * the order's retry armed in case no answer comes.
 */
export type CandidateSource =
  | { readonly answersLater: false; find(order: OrderRecord, now: number): Match | undefined }
  | { readonly answersLater: true; ask(order: OrderRecord, now: number): void };

/** The default: a ring search of the engine's own H3 index of available riders. */
export class IndexCandidates {
  readonly answersLater = false;
  readonly #search: RingSearch;

  constructor(search: RingSearch) {
    this.#search = search;
  }

  find(order: OrderRecord, now: number): Match | undefined {
    return this.#search.findBest(order, now);
  }
}

/**
 * External candidates mode, for baselines that replace only how candidates are
 * found (the benchmark's Redis GEO and PostGIS). The request goes out inside
 * a command, so the source must answer later, never re-entrantly.
 */
export class ExternalCandidates {
  readonly answersLater = true;
  readonly #ask: (request: CandidateRequest) => void;
  readonly #maxDistanceM: () => number;
  readonly #logger: EngineLogger | undefined;

  constructor(ask: (request: CandidateRequest) => void, maxDistanceM: () => number, logger: EngineLogger | undefined) {
    this.#ask = ask;
    this.#maxDistanceM = maxDistanceM;
    this.#logger = logger;
  }

  ask(order: OrderRecord, now: number): void {
    try {
      this.#ask({
        orderId: order.id,
        pickup: order.pickup,
        exclude: order.snap.context.passed,
        maxDistanceM: this.#maxDistanceM(),
        at: now,
      });
    } catch (err) {
      this.#logger?.error(`external candidate request for order ${order.id} failed`, err);
    }
  }
}
