import { cellToParent, gridDisk, gridRingUnsafe } from 'h3-js';
import {
  VEHICLE_TYPES,
  type DecisionTrace,
  type H3Cell,
  type RiderId,
  type RouteStop,
  type TraceCandidate,
} from '../../protocol/index.js';
import type { EngineConfig } from '../config.js';
import { bearingDeg, fastDistanceM, headingDelta } from '../geo.js';
import type { EtaModel } from '../ports/eta-model.js';
import type { OrderRecord, RiderRecord } from '../records.js';
import { Row, ROW } from '../cell-index.js';
import { Col } from '../rider-table.js';
import type { Shard } from '../shard.js';

/** The best rider for an order, and how the search went. */
export interface Match {
  readonly rider: RiderRecord;
  readonly distanceM: number;
  readonly etaS: number;
  readonly score: number;
  readonly candidates: number;
  readonly ring: number;
  /** A stacked offer's route (dispatch/stacking.ts): the rider's stops once it accepts. */
  readonly stops?: readonly RouteStop[];
}

/** Available riders per coarse cell, kept by the engine's Space. */
export interface AvailableCounts {
  readonly coarseResolution: number;
  availableIn(coarse: H3Cell): number;
}

/** A rider a search scored for an order. */
export interface Candidate {
  readonly rider: RiderRecord;
  readonly distanceM: number;
  readonly score: number;
}

/** The fairness bonus for time spent idle, seconds, capped. */
function idleBonusS(now: number, idleSince: number, w: EngineConfig['scoring']): number {
  return Math.min(Math.max(0, (now - idleSince) / 1000), w.idleCapS) * w.idleWeight;
}

/**
 * A floor of a rider's score ({@link RingSearch.score}) from the distance alone: the travel-time
 * model's floor, less the idle bonus, plus the acceptance penalty (`refusal` is RiderRecord's).
 * Summed in the same order as the score, so it is never above it.
 */
function scoreFloor(
  distanceM: number,
  minSPerM: number,
  now: number,
  idleSince: number,
  refusal: number,
  w: EngineConfig['scoring'],
): number {
  return distanceM * minSPerM - idleBonusS(now, idleSince, w) + refusal * w.acceptancePenaltyS;
}

/**
 * The cells of one ring around a pickup cell, and beside each the key of the shard that owns it:
 * a search looks the shard up by key, without first finding each cell's parent in a map of them all.
 */
interface Ring {
  readonly cells: readonly H3Cell[];
  readonly shardKeys: readonly H3Cell[];
}

/** Which shard owns a cell, by key: Space's. */
export interface ShardLookup {
  parentOf(cell: H3Cell): H3Cell;
  shardAt(key: H3Cell): Shard | undefined;
}

/** Candidates a decision trace keeps: the best few, not the whole search. */
export const TRACE_TOP = 5;

/**
 * Greedy candidate search and scoring over the shards' H3 indexes. Pure apart from its caches: it reads
 * shards' available-rider indexes and decides, the engine acts.
 */
export class RingSearch {
  /** The engine's settings as they are now: an operator may change them between two searches. */
  readonly #settings: () => EngineConfig;
  /** The key of the shard owning a cell (Space.parentOf), and the shard of a key, if made yet. */
  readonly #shards: ShardLookup;
  readonly #eta: EtaModel;
  /** Rings around pickup cells, computed as far out as a search has needed. */
  readonly #rings = new Map<H3Cell, Ring[]>();
  readonly #counts: AvailableCounts;
  /** The coarse cells a search around a pickup cell can reach, for the ring cap they were computed at. */
  readonly #reach = new Map<H3Cell, { readonly maxRing: number; readonly cells: readonly H3Cell[] }>();
  readonly #riderOf: (id: RiderId) => RiderRecord | undefined;
  /** The row keys (Row.KEY) of the riders who passed on the order being searched for; reused. */
  readonly #passedKeys: number[] = [];

  // The last search's best few candidates (best first) and what it passed over, in preallocated
  // slots: a search allocates nothing for its trace; only a decision that is kept builds one.
  readonly #topRider: (RiderRecord | undefined)[] = new Array<RiderRecord | undefined>(TRACE_TOP).fill(undefined);
  readonly #topDist = new Float64Array(TRACE_TOP);
  readonly #topScore = new Float64Array(TRACE_TOP);
  #topN = 0;
  #stale = 0;
  #passed = 0;
  #far = 0;
  #unavailable = 0;
  #considered = 0;
  #ring = -1;

  constructor(
    settings: () => EngineConfig,
    shards: ShardLookup,
    eta: EtaModel,
    counts: AvailableCounts,
    riderOf: (id: RiderId) => RiderRecord | undefined,
  ) {
    this.#riderOf = riderOf;
    this.#settings = settings;
    this.#shards = shards;
    this.#eta = eta;
    this.#counts = counts;
  }

  /**
   * Widens ring by ring around the pickup cell until `minCandidates` riders are
   * found or the ring cap is reached, scoring each candidate; neighbouring
   * shards' riders count. Riders who passed on this order, riders with stale
   * positions and riders beyond the pickup radius are skipped.
   */
  findBest(order: OrderRecord, now: number): Match | undefined {
    const cfg = this.#settings();
    const passed = order.snap.context.passed;
    const { lat: pLat, lng: pLng } = order.pickup;
    let best: RiderRecord | undefined;
    let bestScore = Infinity;
    let bestDist = 0;
    let count = 0;
    let ring = 0;
    // Available riders the search has not met yet in the coarse cells its rings reach: once all are
    // met, the outer rings hold no one, and a search short of `minCandidates` stops instead of
    // walking them. Riders in those coarse cells but beyond the last ring keep it walking to the cap.
    let unmet = this.#reachable(order.pickupCell, cfg);
    const minSPerM = this.#eta.minSecondsPerMetre?.(now) ?? 0;
    const w = cfg.scoring;
    // Who passed on this order, by row key, so telling them apart does not read every rider's record.
    const passedKeys = this.#passedKeys;
    passedKeys.length = 0;
    for (const id of passed) {
      const r = this.#riderOf(id);
      if (r !== undefined) passedKeys.push(r.base);
    }
    this.#resetTrace();
    for (; ring <= cfg.maxRing; ring++) {
      const { cells, shardKeys } = this.#ringAt(order.pickupCell, ring);
      for (let c = 0; c < cells.length; c++) {
        const cell = cells[c]!;
        const bucket = this.#shards.shardAt(shardKeys[c]!)?.available.bucket(cell);
        if (bucket === undefined) continue;
        // The cell's rows, in slot order: a rider is scored from its row; its record is read only on a tie.
        const riders = bucket.items;
        const rows = bucket.rows;
        unmet -= riders.length;
        for (let i = 0, o = 0; i < riders.length; i++, o += ROW) {
          if (now - rows[o + Row.POS_AT]! > cfg.positionStaleMs) {
            this.#stale++;
            continue;
          }
          if (passedKeys.length > 0 && passedKeys.includes(rows[o + Row.KEY]!)) {
            this.#passed++;
            continue;
          }
          const d = fastDistanceM(rows[o + Row.LAT]!, rows[o + Row.LNG]!, pLat, pLng);
          if (d > cfg.maxPickupDistanceM) {
            this.#far++;
            continue;
          }
          count++;
          const cutoff = this.cutoff();
          // The first floor #scoreRow would work out: above the cutoff it cannot matter.
          if (scoreFloor(d, minSPerM, now, rows[o + Row.IDLE_SINCE]!, rows[o + Row.REFUSAL]!, w) > cutoff) continue;
          const s = this.#scoreRow(rows, o, d, pLat, pLng, now, cutoff, minSPerM);
          const r = riders[i]!;
          this.#keep(r, d, s);
          if (s < bestScore || (s === bestScore && best !== undefined && r.id < best.id)) {
            best = r;
            bestScore = s;
            bestDist = d;
          }
        }
      }
      if (count >= cfg.minCandidates || unmet <= 0) break;
    }
    this.#considered = count;
    this.#ring = Math.min(ring, cfg.maxRing);
    if (best === undefined) return undefined;
    return {
      rider: best,
      distanceM: bestDist,
      etaS: this.etaS(best, pLat, pLng, now),
      score: bestScore,
      candidates: count,
      ring: Math.min(ring, cfg.maxRing),
    };
  }

  /**
   * The best of riders named by a candidate source outside the engine (the
   * benchmark's Redis GEO and PostGIS baselines): the same rules and the same
   * score as {@link findBest} (available, fresh, not passed on this order,
   * within the pickup radius; lower score, then lower id), over exactly these
   * riders instead of a ring search. `ring` is reported as -1.
   */
  bestAmong(order: OrderRecord, riders: readonly RiderRecord[], now: number): Match | undefined {
    const cfg = this.#settings();
    const passed = order.snap.context.passed;
    const { lat: pLat, lng: pLng } = order.pickup;
    let best: RiderRecord | undefined;
    let bestScore = Infinity;
    let bestDist = 0;
    let count = 0;
    const minSPerM = this.#eta.minSecondsPerMetre?.(now) ?? 0;
    this.#resetTrace();
    for (let i = 0; i < riders.length; i++) {
      const r = riders[i]!;
      // In the available index exactly when idle, connected and positioned (Space.syncIndex).
      if (r.indexCell === null) {
        this.#unavailable++;
        continue;
      }
      const t = r.table.data;
      if (now - t[r.base + Col.POS_AT]! > cfg.positionStaleMs) {
        this.#stale++;
        continue;
      }
      if (passed.length > 0 && passed.includes(r.id)) {
        this.#passed++;
        continue;
      }
      const d = fastDistanceM(t[r.base + Col.LAT]!, t[r.base + Col.LNG]!, pLat, pLng);
      if (d > cfg.maxPickupDistanceM) {
        this.#far++;
        continue;
      }
      count++;
      // Indexed (above), so its search row is current.
      const s = this.#scoreRow(r.indexRows!, r.indexSlot * ROW, d, pLat, pLng, now, this.cutoff(), minSPerM);
      this.#keep(r, d, s);
      if (s < bestScore || (s === bestScore && best !== undefined && r.id < best.id)) {
        best = r;
        bestScore = s;
        bestDist = d;
      }
    }
    this.#considered = count;
    this.#ring = -1;
    if (best === undefined) return undefined;
    return {
      rider: best,
      distanceM: bestDist,
      etaS: this.etaS(best, pLat, pLng, now),
      score: bestScore,
      candidates: count,
      ring: -1,
    };
  }

  /**
   * Computes the first `rings` rings around a pickup cell ahead of time (at
   * restaurant registration), so a match does not pay for H3 calls and their
   * allocations. Farther rings are still computed on first need.
   */
  warm(center: H3Cell, rings: number): void {
    this.#ringAt(center, Math.min(rings, this.#settings().maxRing));
    this.#reachable(center, this.#settings());
  }

  /** Seconds from where `r` is to (pLat, pLng) by the engine's travel-time model. */
  etaS(r: RiderRecord, pLat: number, pLng: number, now: number): number {
    return this.#eta.travelS(r.lat, r.lng, pLat, pLng, r.vehicle, now);
  }

  /**
   * The score of the rider whose search row starts at `o` in `rows` (engine/cell-index.ts), which
   * holds everything the score reads: a search does not follow a pointer to the rider's record and
   * another to its table row, each a likely cache miss, for every rider it scores.
   *
   * Lower is better, in seconds: pickup ETA, plus a penalty for riders who
   * rarely accept and for moving riders heading away, minus a fairness bonus
   * for time spent idle.
   *
   * A search passes `cutoff`, the score the rider must beat to matter, and
   * `minSPerM`, the travel-time model's floor in seconds per metre: once a
   * floor of the score exceeds `cutoff` the rest is not worked out (first the
   * ETA, from the distance alone; then the heading penalty, never negative and
   * the one term that needs trigonometry), and the answer is that floor, still
   * above `cutoff` but not the whole score.
   */
  #scoreRow(
    rows: Float64Array,
    o: number,
    distanceM: number,
    pLat: number,
    pLng: number,
    now: number,
    cutoff: number,
    minSPerM: number,
  ): number {
    const lat = rows[o + Row.LAT]!;
    const lng = rows[o + Row.LNG]!;
    const idleSince = rows[o + Row.IDLE_SINCE]!;
    const refusal = rows[o + Row.REFUSAL]!;
    const speed = rows[o + Row.SPEED]!;
    const heading = rows[o + Row.HEADING]!;
    const w = this.#settings().scoring;
    const floor = scoreFloor(distanceM, minSPerM, now, idleSince, refusal, w);
    if (floor > cutoff) return floor;
    let s = this.#eta.travelS(lat, lng, pLat, pLng, VEHICLE_TYPES[rows[o + Row.VEHICLE]!] ?? null, now);
    s -= idleBonusS(now, idleSince, w);
    s += refusal * w.acceptancePenaltyS;
    if (s > cutoff) return s;
    if (speed > 1 && heading >= 0 && distanceM > 100) {
      s += (headingDelta(heading, bearingDeg(lat, lng, pLat, pLng)) / 180) * w.headingPenaltyS;
    }
    return s;
  }

  /**
   * The trace of the last {@link findBest} or {@link bestAmong}: call it right
   * after the search, before another. `chosen` null means no rider was found.
   */
  lastTrace(order: OrderRecord, now: number, chosen: RiderRecord | null): DecisionTrace {
    const candidates: TraceCandidate[] = [];
    for (let i = 0; i < this.#topN; i++)
      candidates.push(this.terms(this.#topRider[i]!, this.#topDist[i]!, order, now, this.#topScore[i]));
    return {
      why: chosen === null ? 'none' : 'best_score',
      chosen: chosen?.id ?? null,
      ring: this.#ring,
      considered: this.#considered,
      skipped: { stale: this.#stale, passedBefore: this.#passed, tooFar: this.#far, unavailable: this.#unavailable },
      candidates,
    };
  }

  /**
   * The best few riders of the last search (those its trace keeps), best first:
   * a batch's candidates for that order. Call right after the search.
   */
  lastTop(): Candidate[] {
    const out: Candidate[] = [];
    for (let i = 0; i < this.#topN; i++)
      out.push({ rider: this.#topRider[i]!, distanceM: this.#topDist[i]!, score: this.#topScore[i]! });
    return out;
  }

  /** Each term of a rider's score for `order`, as the search adds them up (#scoreRow). */
  terms(r: RiderRecord, distanceM: number, order: OrderRecord, now: number, score?: number): TraceCandidate {
    const w = this.#settings().scoring;
    const { lat: pLat, lng: pLng } = order.pickup;
    // An operator may force an offer on a rider who has sent no position yet.
    const etaS = r.posAt > 0 ? this.etaS(r, pLat, pLng, now) : 0;
    const idleS = idleBonusS(now, r.idleSince, w);
    const acceptancePenaltyS = r.refusal * w.acceptancePenaltyS;
    const headingPenaltyS =
      r.speed > 1 && r.heading >= 0 && distanceM > 100
        ? (headingDelta(r.heading, bearingDeg(r.lat, r.lng, pLat, pLng)) / 180) * w.headingPenaltyS
        : 0;
    return {
      riderId: r.id,
      distanceM: Math.round(distanceM),
      etaS,
      idleBonusS: idleS,
      acceptancePenaltyS,
      headingPenaltyS,
      score: score ?? etaS - idleS + acceptancePenaltyS + headingPenaltyS,
    };
  }

  #resetTrace(): void {
    for (let i = 0; i < this.#topN; i++) this.#topRider[i] = undefined;
    this.#topN = 0;
    this.#stale = 0;
    this.#passed = 0;
    this.#far = 0;
    this.#unavailable = 0;
    this.#considered = 0;
  }

  /**
   * A score above this can enter neither the best few nor be the best (the best is among them): the
   * worst kept once the few are full. The search passes over a rider whose row puts a floor of its
   * score above it, and scoring may stop short above it. (Tests replace it with Infinity to score
   * every rider in full.)
   */
  cutoff(): number {
    return this.#topN === TRACE_TOP ? this.#topScore[TRACE_TOP - 1]! : Infinity;
  }

  /** Keeps `r` among the best few by (score, id), best first; no allocation. */
  #keep(r: RiderRecord, d: number, s: number): void {
    const top = this.#topRider;
    let n = this.#topN;
    if (n === TRACE_TOP) {
      const worst = this.#topScore[n - 1]!;
      if (s > worst || (s === worst && r.id > top[n - 1]!.id)) return;
      n--;
    }
    let i = n;
    while (i > 0) {
      const ps = this.#topScore[i - 1]!;
      if (ps < s || (ps === s && top[i - 1]!.id < r.id)) break;
      top[i] = top[i - 1];
      this.#topScore[i] = ps;
      this.#topDist[i] = this.#topDist[i - 1]!;
      i--;
    }
    top[i] = r;
    this.#topScore[i] = s;
    this.#topDist[i] = d;
    this.#topN = n + 1;
  }

  /** How many riders are available in the coarse cells that the disc of `maxRing` rings around `center` touches. */
  #reachable(center: H3Cell, cfg: EngineConfig): number {
    let reach = this.#reach.get(center);
    if (reach === undefined || reach.maxRing !== cfg.maxRing) {
      const res = this.#counts.coarseResolution;
      const cells = new Set<H3Cell>();
      for (const cell of gridDisk(center, cfg.maxRing)) cells.add(cellToParent(cell, res) as H3Cell);
      reach = { maxRing: cfg.maxRing, cells: [...cells] };
      this.#reach.set(center, reach);
    }
    let n = 0;
    for (const cell of reach.cells) n += this.#counts.availableIn(cell);
    return n;
  }

  #ringAt(center: H3Cell, k: number): Ring {
    let rings = this.#rings.get(center);
    if (rings === undefined) {
      rings = [{ cells: [center], shardKeys: [this.#shards.parentOf(center)] }];
      this.#rings.set(center, rings);
    }
    while (rings.length <= k) {
      const n = rings.length;
      let ring: H3Cell[];
      try {
        ring = gridRingUnsafe(center, n) as H3Cell[];
      } catch {
        // Near a pentagon the fast ring fails: take the disk minus the inner disk.
        const inner = new Set(gridDisk(center, n - 1));
        ring = gridDisk(center, n).filter((c) => !inner.has(c)) as H3Cell[];
      }
      rings.push({ cells: ring, shardKeys: ring.map((c) => this.#shards.parentOf(c)) });
    }
    return rings[k]!;
  }
}
