import fc from 'fast-check';
import t from 'tap';
import { assign, FORBIDDEN } from '../../engine/dispatch/assignment.js';

/** Most real pairs, then least total cost, over every partial one-to-one assignment. */
function bruteForce(rows: number, cols: number, cost: number[]): { pairs: number; total: number } {
  let best = { pairs: 0, total: 0 };
  const usedCol = new Array<boolean>(cols).fill(false);
  const walk = (r: number, pairs: number, total: number): void => {
    if (r === rows) {
      if (pairs > best.pairs || (pairs === best.pairs && total < best.total)) best = { pairs, total };
      return;
    }
    walk(r + 1, pairs, total);
    for (let c = 0; c < cols; c++) {
      const x = cost[r * cols + c]!;
      if (usedCol[c] || x >= FORBIDDEN) continue;
      usedCol[c] = true;
      walk(r + 1, pairs + 1, total + x);
      usedCol[c] = false;
    }
  };
  walk(0, 0, 0);
  return best;
}

function score(rows: number, cols: number, cost: number[], colOf: Int32Array): { pairs: number; total: number } {
  let pairs = 0;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    if (colOf[r] === -1) continue;
    pairs++;
    total += cost[r * cols + colOf[r]!]!;
  }
  return { pairs, total };
}

const matrix = fc
  .record({ rows: fc.integer({ min: 0, max: 6 }), cols: fc.integer({ min: 0, max: 6 }) })
  .chain(({ rows, cols }) =>
    fc.record({
      rows: fc.constant(rows),
      cols: fc.constant(cols),
      cost: fc.array(
        fc.oneof(
          { weight: 3, arbitrary: fc.integer({ min: -200, max: 3_000 }) },
          { weight: 1, arbitrary: fc.constant(FORBIDDEN) },
        ),
        { minLength: rows * cols, maxLength: rows * cols },
      ),
    }),
  );

t.test('the same optimum as brute force: most real pairs, then least cost', (t) => {
  fc.assert(
    fc.property(matrix, ({ rows, cols, cost }) => {
      const colOf = assign(rows, cols, cost);
      // A valid assignment: one column per row at most, never a forbidden pair.
      const seen = new Set<number>();
      for (let r = 0; r < rows; r++) {
        const c = colOf[r]!;
        if (c === -1) continue;
        if (c < 0 || c >= cols || seen.has(c) || cost[r * cols + c]! >= FORBIDDEN) return false;
        seen.add(c);
      }
      const got = score(rows, cols, cost, colOf);
      const want = bruteForce(rows, cols, cost);
      return got.pairs === want.pairs && got.total === want.total;
    }),
    { numRuns: 2_000, seed: 18 },
  );
  t.end();
});

t.test('a greedy choice is not the optimum: the solver gives the near rider to the order that needs it', (t) => {
  // Order 0 is 100 s from rider 0 and 120 s from rider 1; order 1 is 110 s from rider 0 and 900 s from rider 1.
  // Greedy in arrival order pairs 0-0 and 1-1 (1,000 s); the optimum pairs 0-1 and 1-0 (230 s).
  const colOf = assign(2, 2, [100, 120, 110, 900]);
  t.same([...colOf], [1, 0]);
  t.end();
});

t.test('edges: empty sides, all forbidden, more orders than riders', (t) => {
  t.same([...assign(0, 3, [])], []);
  t.same([...assign(2, 0, [])], [-1, -1]);
  t.same([...assign(2, 2, [FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN])], [-1, -1]);
  t.same([...assign(3, 1, [50, 10, 30])], [-1, 0, -1]);
  t.end();
});
