import type {
  DispatchPolicy,
  EngineEvent,
  EventBody,
  H3Cell,
  OrderId,
  RestaurantId,
  RiderId,
} from '../protocol/index.js';
import type { Clock, Stopwatch } from './clock.js';
import type { EngineConfig } from './config.js';
import { type DeadlineKind, Deadlines } from './deadlines.js';
import { orderMachine, type OrderMachineEvent, type OrderState } from './machines/order-machine.js';
import { restaurantMachine } from './machines/restaurant-machine.js';
import { riderMachine, type RiderMachineEvent, type RiderState } from './machines/rider-machine.js';
import { createStepper, stateKey } from './machines/step.js';
import type { OrderRecord, RestaurantRecord, RiderRecord } from './records.js';
import { RiderTable } from './rider-table.js';
import { Space } from './space.js';
import type { EngineLogger } from './ports/engine-logger.js';
import { type CandidateSource, IndexCandidates } from './dispatch/candidate-source.js';
import { RingSearch } from './dispatch/ring-search.js';
import { StackIndex } from './dispatch/stack-index.js';
import { StraightLineEta } from './eta.js';
import type { EtaModel } from './ports/eta-model.js';
import type { Batch } from './shard.js';

/** A successful match, reported to the engine's `onMatch` option. */
export interface MatchInfo {
  readonly orderId: OrderId;
  readonly riderId: RiderId;
  /**
   * Engine time from the order being dispatchable (entering, or back in, its
   * search) to the offer, µs; with external candidates, from the source's
   * answer (the `offer_from_candidates` command) to the offer; under the
   * batched policy, its own search, its share of the batch's assignment and
   * its offer (the wait for the window is not counted).
   */
  readonly micros: number;
  readonly candidates: number;
  /** The ring the search stopped at; -1 when the candidates came from an external source. */
  readonly ring: number;
  readonly distanceM: number;
}

export interface CoreOptions {
  readonly clock: Clock;
  readonly config: EngineConfig;
  readonly seed: number;
  readonly stopwatch: Stopwatch;
  readonly onMatch: ((m: MatchInfo) => void) | undefined;
  readonly logger: EngineLogger | undefined;
  readonly onDeadline: (kind: DeadlineKind, id: string) => void;
  /** The candidate source; the ring search of the engine's own index when absent. */
  readonly candidates?: (search: RingSearch) => CandidateSource;
  /** The travel-time model; {@link StraightLineEta} over the engine's settings when absent. */
  readonly eta?: EtaModel;
}

/**
 * The state every command works on: the actors, their shards and index, the
 * deadlines, the machines' step functions, and the buffer of events the
 * running command has emitted. Internal to engine/: command modules read and
 * change it; {@link Engine} owns it and delivers the buffered events.
 */
export class EngineCore {
  /** Replaced whole (never mutated) when an operator changes the dispatch settings. */
  config: EngineConfig;
  readonly clock: Clock;
  readonly stopwatch: Stopwatch;
  readonly onMatch: ((m: MatchInfo) => void) | undefined;
  readonly logger: EngineLogger | undefined;
  readonly seed: number;
  idCounter = 0;

  readonly orderStep = createStepper(orderMachine);
  readonly riderStep = createStepper(riderMachine);
  readonly restaurantStep = createStepper(restaurantMachine);

  readonly riders = new Map<RiderId, RiderRecord>();
  readonly riderTable = new RiderTable();
  readonly orders = new Map<OrderId, OrderRecord>();
  readonly restaurants = new Map<RestaurantId, RestaurantRecord>();
  readonly space: Space;
  readonly deadlines: Deadlines;
  readonly search: RingSearch;
  readonly candidates: CandidateSource;
  /** The one travel-time model: dispatch, tracking and the promise ask it. */
  readonly eta: EtaModel;

  /** Keys of drained shards: they take no new orders (engine/commands/admin.ts). */
  readonly drained = new Set<H3Cell>();
  /** Shards whose dispatch policy an operator set; the others follow `config.dispatchPolicy`. */
  readonly policies = new Map<H3Cell, DispatchPolicy>();
  /** Open batches of batched shards, by shard key (engine/dispatch/batch.ts). */
  readonly batches = new Map<H3Cell, Batch>();
  /** Riders who could take a stacked order, by their lead job's restaurant (dispatch/stacking.ts). */
  readonly stacks = new StackIndex();

  /** Events emitted since the engine last delivered; the running command's, in order. */
  buffer: EngineEvent[] = [];

  constructor(o: CoreOptions) {
    this.config = o.config;
    this.clock = o.clock;
    this.stopwatch = o.stopwatch;
    this.onMatch = o.onMatch;
    this.logger = o.logger;
    this.seed = o.seed;
    this.space = new Space(o.config);
    this.deadlines = new Deadlines(o.clock, o.onDeadline);
    this.eta = o.eta ?? new StraightLineEta(() => this.config);
    this.search = new RingSearch(
      () => this.config,
      this.space,
      this.eta,
      this.space,
      (id) => this.riders.get(id),
    );
    this.candidates = o.candidates ? o.candidates(this.search) : new IndexCandidates(this.search);
  }

  now(): number {
    return this.clock.now();
  }

  /** Appends an event of `rec` to the buffer, with the aggregate's next sequence number. */
  emit(aggregate: 'order' | 'rider' | 'restaurant', rec: { readonly id: string; seq: number }, body: EventBody): void {
    const head = { type: body.type, aggregate, id: rec.id, seq: ++rec.seq, at: this.clock.now() };
    this.buffer.push(Object.assign(head, body) as EngineEvent);
  }

  /** Steps the order's machine; false (and no change) when its state does not take `event`. */
  stepOrder(o: OrderRecord, event: OrderMachineEvent): boolean {
    const next = this.orderStep.step(o.snap, event);
    if (!next) return false;
    o.snap = next;
    o.state = stateKey(next.value) as OrderState;
    return true;
  }

  /** Steps the rider's machine; false (and no change) when its state does not take `event`. */
  stepRider(r: RiderRecord, event: RiderMachineEvent): boolean {
    const next = this.riderStep.step(r.snap, event);
    if (!next) return false;
    r.snap = next;
    r.state = stateKey(next.value) as RiderState;
    if (r.capacity > 1) this.stacks.sync(r, this.orders);
    return true;
  }
}
