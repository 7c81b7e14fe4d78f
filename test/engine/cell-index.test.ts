import fc from 'fast-check';
import t from 'tap';
import { CellIndex, ROW, Row, type Indexable } from '../../engine/cell-index.js';
import type { H3Cell } from '../../protocol/index.js';

/** An entry whose row is its number in every column, so a row that moved with the wrong entry shows. */
class Entry implements Indexable {
  indexCell: H3Cell | null = null;
  indexSlot = -1;
  indexRows: Float64Array | null = null;
  constructor(readonly n: number) {}
  writeRow(rows: Float64Array, at: number): void {
    for (let k = 0; k < ROW; k++) rows[at + k] = this.n * 10 + k;
  }
}

const CELLS = ['a', 'b', 'c'] as H3Cell[];

t.test('every entry sits at its slot with its own row, through any adds and removes', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 })), { maxLength: 300 }),
      (steps) => {
        const index = new CellIndex<Entry>();
        const entries = Array.from({ length: 41 }, (_, n) => new Entry(n));
        for (const [n, c] of steps) {
          const e = entries[n]!;
          // An indexed entry leaves; one not indexed joins cell c.
          if (e.indexCell === null) index.add(CELLS[c]!, e);
          else index.remove(e);
        }
        let held = 0;
        for (const [cell, bucket] of index.entries()) {
          if (bucket.items.length === 0) return false;
          for (let i = 0; i < bucket.items.length; i++) {
            const e = bucket.items[i]!;
            if (e.indexCell !== cell || e.indexSlot !== i || e.indexRows !== bucket.rows) return false;
            for (let k = 0; k < ROW; k++) if (bucket.rows[i * ROW + k] !== e.n * 10 + k) return false;
            held++;
          }
        }
        const indexed = entries.filter((e) => e.indexCell !== null);
        return (
          held === index.size &&
          indexed.length === index.size &&
          entries.every((e) => (e.indexCell === null) === (e.indexRows === null && e.indexSlot === -1))
        );
      },
    ),
    { numRuns: 500 },
  );
  t.pass();
});

t.test('a bucket grows its rows and keeps them', async (t) => {
  const index = new CellIndex<Entry>();
  const entries = Array.from({ length: 100 }, (_, n) => new Entry(n));
  for (const e of entries) index.add(CELLS[0]!, e);
  const bucket = index.bucket(CELLS[0]!)!;
  t.equal(bucket.items.length, 100);
  t.ok(bucket.rows.length >= 100 * ROW);
  t.equal(bucket.rows[99 * ROW + Row.LAT], 990);
  t.equal(bucket.rows[0 * ROW + Row.REFUSAL], Row.REFUSAL);
  for (const e of entries) index.remove(e);
  t.equal(index.bucket(CELLS[0]!), undefined, 'an emptied cell is dropped');
  t.equal(index.size, 0);
});
