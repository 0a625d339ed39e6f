import fc from 'fast-check';
import { assignNearest } from '@cmbn/mbn';
import { describe, expect, it } from 'vitest';
import { softClusterTargets } from './soft-targets.ts';

describe('softClusterTargets', () => {
  it('rows are distributions whose argmax is the nearest centroid (MBN’s label)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.double({ min: 0.05, max: 4, noNaN: true }), fc.integer(), (n, k, dim, t, seed) => {
        let s = seed | 0;
        const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) | 0) >>> 8) / (1 << 24);
        const e = Float64Array.from({ length: n * dim }, rnd);
        const c = Float64Array.from({ length: k * dim }, rnd);
        const p = softClusterTargets(e, n, dim, c, k, t);
        const hard = assignNearest(e, n, dim, c, k);
        for (let i = 0; i < n; i++) {
          const row = Array.from(p.subarray(i * k, (i + 1) * k));
          expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
          expect(row[hard[i]!]).toBe(Math.max(...row));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('gets sharper as the temperature drops', () => {
    const e = Float64Array.from([0, 0]);
    const c = Float64Array.from([1, 0, 0, 2]);
    const warm = softClusterTargets(e, 1, 2, c, 2, 1);
    const cold = softClusterTargets(e, 1, 2, c, 2, 0.1);
    expect(cold[0]!).toBeGreaterThan(warm[0]!);
    expect(warm[0]!).toBeCloseTo(1 / (1 + Math.exp(-1)), 5);
    expect(() => softClusterTargets(e, 1, 2, c, 2, 0)).toThrow(/temperature/);
  });
});
