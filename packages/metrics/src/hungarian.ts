/**
 * Minimum-cost assignment (Kuhn–Munkres with potentials, O(r²·c) for r ≤ c).
 * `cost` is rows×cols row-major. Rectangular matrices are fine: every row of the smaller
 * side is matched. Returns, for each row, the assigned column, or -1 when rows > cols and
 * the row is left unmatched.
 */
export function hungarian(cost: Float64Array, rows: number, cols: number): Int32Array {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new Error(`hungarian: bad shape ${rows}×${cols}`);
  }
  if (cost.length !== rows * cols) {
    throw new Error(`hungarian: cost has ${cost.length} entries, expected ${rows}×${cols}=${rows * cols}`);
  }
  for (let i = 0; i < cost.length; i++) {
    if (!Number.isFinite(cost[i]!)) throw new Error(`hungarian: cost[${i}] is not finite`);
  }
  const result = new Int32Array(rows).fill(-1);
  if (rows === 0 || cols === 0) return result;
  if (rows <= cols) {
    const colOf = solve(cost, rows, cols, false);
    result.set(colOf);
  } else {
    // Solve the transpose (cols ≤ rows) and invert the matching.
    const rowOfCol = solve(cost, cols, rows, true);
    for (let j = 0; j < cols; j++) result[rowOfCol[j]!] = j;
  }
  return result;
}

/**
 * e-maxx formulation: n ≤ m, 1-based potentials u (rows) and v (cols), p[j] = row matched
 * to column j. When `transposed`, a(i, j) reads cost[j*n + i] (the caller's matrix is m×n).
 */
function solve(cost: Float64Array, n: number, m: number, transposed: boolean): Int32Array {
  const a = (i: number, j: number): number => (transposed ? cost[j * n + i]! : cost[i * m + j]!);
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
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
          u[p[j]!]! += delta;
          v[j]! -= delta;
        } else {
          minv[j]! -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const out = new Int32Array(n).fill(-1);
  for (let j = 1; j <= m; j++) if (p[j]! !== 0) out[p[j]! - 1] = j - 1;
  return out;
}
