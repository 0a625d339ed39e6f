import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hungarian } from './hungarian.ts';

function permutations(n: number, k: number): number[][] {
  // all injective maps from k items into 0..n-1
  if (k === 0) return [[]];
  const out: number[][] = [];
  for (const prefix of permutations(n, k - 1)) {
    for (let j = 0; j < n; j++) if (!prefix.includes(j)) out.push([...prefix, j]);
  }
  return out;
}

/** brute-force min cost over all injective matchings of the smaller side */
function bruteForce(cost: Float64Array, rows: number, cols: number): number {
  let best = Infinity;
  if (rows <= cols) {
    for (const p of permutations(cols, rows)) {
      let s = 0;
      for (let i = 0; i < rows; i++) s += cost[i * cols + p[i]!]!;
      best = Math.min(best, s);
    }
  } else {
    for (const p of permutations(rows, cols)) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += cost[p[j]! * cols + j]!;
      best = Math.min(best, s);
    }
  }
  return best;
}

function assignmentCost(cost: Float64Array, cols: number, a: Int32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) if (a[i]! >= 0) s += cost[i * cols + a[i]!]!;
  return s;
}

function checkValid(a: Int32Array, rows: number, cols: number): void {
  const seen = new Set<number>();
  let matched = 0;
  for (let i = 0; i < rows; i++) {
    const c = a[i]!;
    if (c < 0) continue;
    expect(c).toBeLessThan(cols);
    expect(seen.has(c)).toBe(false);
    seen.add(c);
    matched++;
  }
  expect(matched).toBe(Math.min(rows, cols));
}

describe('hungarian', () => {
  it('solves a hand-checked 3×3 case', () => {
    // rows: [4 1 3] [2 0 5] [3 2 2]; best = 1 (r0→c1) + 2 (r1→c0) + 2 (r2→c2) = 5
    const cost = Float64Array.from([4, 1, 3, 2, 0, 5, 3, 2, 2]);
    const a = hungarian(cost, 3, 3);
    expect(Array.from(a)).toEqual([1, 0, 2]);
    expect(assignmentCost(cost, 3, a)).toBe(5);
  });

  it('handles rectangular matrices in both orientations', () => {
    // 2×3: [1 9 9] [9 9 2] → r0→c0, r1→c2
    expect(Array.from(hungarian(Float64Array.from([1, 9, 9, 9, 9, 2]), 2, 3))).toEqual([0, 2]);
    // 3×2 (transpose): r0→c0, r2→c1, r1 unmatched
    expect(Array.from(hungarian(Float64Array.from([1, 9, 9, 9, 9, 2]), 3, 2))).toEqual([0, -1, 1]);
  });

  it('handles empty and degenerate shapes, and rejects bad input', () => {
    expect(hungarian(new Float64Array(0), 0, 3).length).toBe(0);
    expect(Array.from(hungarian(new Float64Array(0), 2, 0))).toEqual([-1, -1]);
    expect(() => hungarian(new Float64Array(3), 2, 2)).toThrow(/expected 2×2/);
    expect(() => hungarian(Float64Array.from([NaN]), 1, 1)).toThrow(/not finite/);
  });

  it('matches brute force on random small matrices', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 25, maxLength: 25 }),
        (rows, cols, vals) => {
          const cost = Float64Array.from(vals.slice(0, rows * cols));
          const a = hungarian(cost, rows, cols);
          checkValid(a, rows, cols);
          expect(assignmentCost(cost, cols, a)).toBe(bruteForce(cost, rows, cols));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('matches brute force on random real-valued matrices', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 36, maxLength: 36 }),
        (n, vals) => {
          const cost = Float64Array.from(vals.slice(0, n * n));
          const a = hungarian(cost, n, n);
          checkValid(a, n, n);
          expect(assignmentCost(cost, n, a)).toBeCloseTo(bruteForce(cost, n, n), 9);
        },
      ),
      { numRuns: 100 },
    );
  });
});
