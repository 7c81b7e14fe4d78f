import { cellToParent } from 'h3-js';
import type { H3Cell } from '../protocol/index.js';
import type { EngineConfig } from './config.js';
import { cellDisc, cellOf } from './geo.js';
import type { RiderRecord } from './records.js';
import { Shard } from './shard.js';

/**
 * The city as shards: which shard owns a cell, and the upkeep of each shard's
 * index of available riders. Records name their shard by its key (a cell),
 * never by reference, so what crosses a shard boundary is data.
 */
export class Space {
  readonly #config: EngineConfig;
  readonly shards = new Map<H3Cell, Shard>();
  readonly #parents = new Map<H3Cell, H3Cell>();
  /**
   * Available riders per coarse cell (two resolutions above the index, about 5 km² by default):
   * how many a search could still meet near a pickup (dispatch/ring-search.ts), without walking
   * the index cell by cell.
   */
  readonly #counts = new Map<H3Cell, number>();
  readonly #coarseOf = new Map<H3Cell, H3Cell>();

  constructor(config: EngineConfig) {
    this.#config = config;
  }

  /** The key of the shard that owns `cell` (its parent at the shard resolution). */
  parentOf(cell: H3Cell): H3Cell {
    let p = this.#parents.get(cell);
    if (p === undefined) {
      p = cellToParent(cell, this.#config.shardResolution) as H3Cell;
      this.#parents.set(cell, p);
    }
    return p;
  }

  /** The resolution of the available counts: two above the index, never coarser than the shards. */
  get coarseResolution(): number {
    return Math.max(this.#config.shardResolution, this.#config.indexResolution - 2);
  }

  /** The coarse cell of an index cell, for the available counts. */
  coarseOf(cell: H3Cell): H3Cell {
    let p = this.#coarseOf.get(cell);
    if (p === undefined) {
      p = cellToParent(cell, this.coarseResolution) as H3Cell;
      this.#coarseOf.set(cell, p);
    }
    return p;
  }

  /** Available riders in the coarse cell `coarse`. */
  availableIn(coarse: H3Cell): number {
    return this.#counts.get(coarse) ?? 0;
  }

  /** Every coarse cell with available riders and their count, for invariant checks. */
  counts(): IterableIterator<[H3Cell, number]> {
    return this.#counts.entries();
  }

  /** The shard owning `cell`, if it exists yet. */
  shardOfCell(cell: H3Cell): Shard | undefined {
    return this.shards.get(this.parentOf(cell));
  }

  /** The shard owning `cell`, made on first need. */
  shardFor(cell: H3Cell): Shard {
    const key = this.parentOf(cell);
    let s = this.shards.get(key);
    if (s === undefined) {
      s = new Shard(key);
      this.shards.set(key, s);
    }
    return s;
  }

  /** The rider left the disc inside its cell: find its cell, and its shard if that changed. */
  relocate(r: RiderRecord): void {
    const cell = cellOf(r.lat, r.lng, this.#config.indexResolution);
    if (cell === r.cell) return;
    const disc = cellDisc(cell);
    r.cell = cell;
    r.discLat = disc.lat;
    r.discLng = disc.lng;
    r.discR = disc.radiusM;
    const shard = this.shardFor(cell);
    if (shard.key !== r.shardKey) {
      if (r.shardKey !== null) this.shards.get(r.shardKey)?.riders.delete(r.id);
      shard.riders.set(r.id, r);
      r.shardKey = shard.key;
    }
    this.syncIndex(r);
  }

  /** A rider is in its shard's available index exactly when idle, connected, positioned and not handed over. */
  syncIndex(r: RiderRecord): void {
    const want =
      r.state === 'online.idle' &&
      r.snap.context.graceUntil === 0 &&
      r.cell !== null &&
      r.shardKey !== null &&
      r.away === null;
    if (r.indexCell !== null && (!want || r.indexCell !== r.cell)) {
      this.shards.get(r.indexedIn!)!.available.remove(r);
      r.indexedIn = null;
      const n = this.#counts.get(r.countedIn!)! - 1;
      if (n === 0) this.#counts.delete(r.countedIn!);
      else this.#counts.set(r.countedIn!, n);
      r.countedIn = null;
    }
    if (want && r.indexCell === null) {
      this.shards.get(r.shardKey!)!.available.add(r.cell!, r);
      r.indexedIn = r.shardKey;
      r.countedIn = this.coarseOf(r.cell!);
      this.#counts.set(r.countedIn, (this.#counts.get(r.countedIn) ?? 0) + 1);
    }
  }
}
