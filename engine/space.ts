import { cellToParent } from 'h3-js';
import type { H3Cell } from '../protocol/index.js';
import type { EngineConfig } from './config.js';
import { CellShape } from './cell-shape.js';
import { cellOf } from './geo.js';
import type { RiderRecord } from './records.js';
import { Shard } from './shard.js';

/** Index cells whose shapes are kept; past this many the cache starts again (riders keep their own). */
const MAX_SHAPES = 65_536;

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
  /** Shapes of the index cells riders are in (engine/cell-shape.ts). */
  readonly #shapes = new Map<H3Cell, CellShape>();

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

  /** The shard whose key is `key` (a cell at the shard resolution), if it was made. */
  shardAt(key: H3Cell): Shard | undefined {
    return this.shards.get(key);
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

  /**
   * The rider left the disc inside its cell (placeRider tested it): unless it is still inside the
   * cell's outline, find its cell, and its shard if that changed.
   */
  relocate(r: RiderRecord): void {
    if (r.shape?.outlineHolds(r.lat, r.lng)) return;
    const cell = cellOf(r.lat, r.lng, this.#config.indexResolution);
    if (cell === r.cell) return;
    const shape = this.#shapeOf(cell);
    r.cell = cell;
    r.shape = shape;
    r.discLat = shape.lat;
    r.discLng = shape.lng;
    r.discR = shape.discR;
    const shard = this.shardFor(cell);
    if (shard.key !== r.shardKey) {
      if (r.shardKey !== null) this.shards.get(r.shardKey)?.riders.delete(r.id);
      shard.riders.set(r.id, r);
      r.shardKey = shard.key;
    }
    this.syncIndex(r);
  }

  /** The shape of an index cell, made once and shared by the riders in it (a bounded cache). */
  #shapeOf(cell: H3Cell): CellShape {
    let s = this.#shapes.get(cell);
    if (s === undefined) {
      if (this.#shapes.size >= MAX_SHAPES) this.#shapes.clear();
      s = new CellShape(cell);
      this.#shapes.set(cell, s);
    }
    return s;
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
