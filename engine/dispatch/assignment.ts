/**
 * Minimum-cost assignment (the linear assignment problem) for batched
 * dispatch: the shortest-augmenting-path form of the Hungarian method with
 * potentials (Jonker and Volgenant's, as in Kuhn–Munkres with Dijkstra), in
 * O(n² m) for n rows and m ≥ n columns, allocation only of its work arrays.
 */

/**
 * The cost of a pair that may not be made (a rider who is no candidate for an
 * order). Far above any real cost times any batch size, so the solver first
 * makes as many real pairs as it can and then the cheapest such set; a pair
 * at this cost is reported as unassigned.
 */
export const FORBIDDEN = 1e9;

/**
 * For each of `rows` rows, the column it is assigned, or -1: the set of pairs
 * of least total cost among those with the most pairs that are not
 * {@link FORBIDDEN}. `cost[r * cols + c]` is the cost of row r in column c,
 * finite (use FORBIDDEN for "never"). Either side may be the larger; ties go
 * to lower indexes deterministically.
 */
export function assign(rows: number, cols: number, cost: ArrayLike<number>): Int32Array {
  const out = new Int32Array(rows).fill(-1);
  if (rows === 0 || cols === 0) return out;
  if (rows <= cols) {
    const colOf = solve(rows, cols, (r, c) => cost[r * cols + c]!);
    for (let r = 0; r < rows; r++) if (cost[r * cols + colOf[r]!]! < FORBIDDEN) out[r] = colOf[r]!;
    return out;
  }
  // More rows than columns: solve the transpose, columns as rows.
  const rowOf = solve(cols, rows, (c, r) => cost[r * cols + c]!);
  for (let c = 0; c < cols; c++) {
    const r = rowOf[c]!;
    if (cost[r * cols + c]! < FORBIDDEN) out[r] = c;
  }
  return out;
}

/** Every row of an n × m matrix (n ≤ m) to a distinct column, least total cost; answers each row's column. */
function solve(n: number, m: number, a: (row: number, col: number) => number): Int32Array {
  // 1-based, column 0 is the virtual start of each augmenting path.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const rowOfCol = new Int32Array(m + 1); // 0: free
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    rowOfCol[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = rowOfCol[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = a(i0 - 1, j - 1) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          const r = rowOfCol[j]!;
          u[r] = u[r]! + delta;
          v[j] = v[j]! - delta;
        } else {
          minv[j] = minv[j]! - delta;
        }
      }
      j0 = j1;
    } while (rowOfCol[j0] !== 0);
    do {
      const j1 = way[j0]!;
      rowOfCol[j0] = rowOfCol[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const colOfRow = new Int32Array(n);
  for (let j = 1; j <= m; j++) if (rowOfCol[j] !== 0) colOfRow[rowOfCol[j]! - 1] = j - 1;
  return colOfRow;
}
