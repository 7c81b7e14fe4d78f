import type { H3Cell } from '../protocol/index.js';

/** What the index needs of an entry: where it sits, so removal is O(1). */
export interface Indexable {
  indexCell: H3Cell | null;
  indexSlot: number;
}

/**
 * Available riders bucketed by H3 cell. Each bucket is a dense array with
 * swap-remove, so moving a rider between cells costs two array writes.
 */
export class CellIndex<T extends Indexable> {
  readonly #cells = new Map<H3Cell, T[]>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Riders in `cell`; the array is live, do not keep it. */
  get(cell: H3Cell): readonly T[] | undefined {
    return this.#cells.get(cell);
  }

  add(cell: H3Cell, item: T): void {
    let bucket = this.#cells.get(cell);
    if (bucket === undefined) {
      bucket = [];
      this.#cells.set(cell, bucket);
    }
    item.indexCell = cell;
    item.indexSlot = bucket.length;
    bucket.push(item);
    this.#size++;
  }

  remove(item: T): void {
    const cell = item.indexCell;
    if (cell === null) return;
    const bucket = this.#cells.get(cell)!;
    const last = bucket.pop()!;
    if (last !== item) {
      bucket[item.indexSlot] = last;
      last.indexSlot = item.indexSlot;
    }
    if (bucket.length === 0) this.#cells.delete(cell);
    item.indexCell = null;
    item.indexSlot = -1;
    this.#size--;
  }

  /** Every (cell, bucket), for invariant checks. */
  entries(): IterableIterator<[H3Cell, T[]]> {
    return this.#cells.entries();
  }
}
