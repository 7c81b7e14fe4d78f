import type { H3Cell } from '../protocol/index.js';

/**
 * What a search reads of each entry before it decides the entry could matter, packed per cell in
 * slot order: a search then reads one cell's riders from consecutive memory instead of following a
 * pointer per rider to its record and its table row (dispatch/ring-search.ts).
 */
export const Row = {
  LAT: 0,
  LNG: 1,
  /** Device time of the last applied position, epoch ms. */
  POS_AT: 2,
  IDLE_SINCE: 3,
  /** How often it turns offers down, Laplace-smoothed (RiderRecord.refusal). */
  REFUSAL: 4,
  /** A number only this entry has (a rider's table offset), to tell it from others without its record. */
  KEY: 5,
  /** Speed (m/s) and heading (degrees) of the last fix, NaN when unknown. */
  SPEED: 6,
  HEADING: 7,
  /** Its vehicle as an index into VEHICLE_TYPES, -1 when not known. */
  VEHICLE: 8,
} as const;

export const ROW = 9;

/** What the index needs of an entry: where it sits, so removal is O(1), and what its row holds. */
export interface Indexable {
  indexCell: H3Cell | null;
  indexSlot: number;
  /**
   * The rows of the bucket holding the entry (its own at `indexSlot * ROW`), null when not indexed:
   * how the entry keeps its row current without a lookup.
   */
  indexRows: Float64Array | null;
  /** Writes the entry's row at `at` in `rows`. */
  writeRow(rows: Float64Array, at: number): void;
}

/** The entries of one cell and their rows, slot `i` at `rows[i * ROW]`. */
export class CellBucket<T extends Indexable> {
  readonly items: T[] = [];
  /** Replaced when the bucket grows; the index then hands the new array to every entry (`indexRows`). */
  rows = new Float64Array(ROW * 4);
}

/**
 * Available riders bucketed by H3 cell. Each bucket is a dense array with
 * swap-remove, so moving a rider between cells costs two array writes, and
 * beside it the riders' rows in the same order.
 */
export class CellIndex<T extends Indexable> {
  readonly #cells = new Map<H3Cell, CellBucket<T>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Riders in `cell`; the array is live, do not keep it. */
  get(cell: H3Cell): readonly T[] | undefined {
    return this.#cells.get(cell)?.items;
  }

  /** Riders in `cell` with their rows; live, do not keep it. */
  bucket(cell: H3Cell): CellBucket<T> | undefined {
    return this.#cells.get(cell);
  }

  add(cell: H3Cell, item: T): void {
    let bucket = this.#cells.get(cell);
    if (bucket === undefined) {
      bucket = new CellBucket<T>();
      this.#cells.set(cell, bucket);
    }
    const slot = bucket.items.length;
    if ((slot + 1) * ROW > bucket.rows.length) {
      const rows = new Float64Array(bucket.rows.length * 2);
      rows.set(bucket.rows);
      bucket.rows = rows;
      for (const held of bucket.items) held.indexRows = rows;
    }
    item.indexCell = cell;
    item.indexSlot = slot;
    item.indexRows = bucket.rows;
    bucket.items.push(item);
    item.writeRow(bucket.rows, slot * ROW);
    this.#size++;
  }

  remove(item: T): void {
    const cell = item.indexCell;
    if (cell === null) return;
    const bucket = this.#cells.get(cell)!;
    const last = bucket.items.pop()!;
    if (last !== item) {
      const slot = item.indexSlot;
      bucket.items[slot] = last;
      last.indexSlot = slot;
      bucket.rows.copyWithin(slot * ROW, bucket.items.length * ROW, (bucket.items.length + 1) * ROW);
    }
    if (bucket.items.length === 0) this.#cells.delete(cell);
    item.indexCell = null;
    item.indexSlot = -1;
    item.indexRows = null;
    this.#size--;
  }

  /** Every (cell, bucket), for invariant checks. */
  entries(): IterableIterator<[H3Cell, CellBucket<T>]> {
    return this.#cells.entries();
  }
}
