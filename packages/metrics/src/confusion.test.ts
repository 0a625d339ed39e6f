import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clusteringAccuracy, confusionMatrix } from './index.ts';

describe('confusionMatrix', () => {
  it('puts each class against its matched cluster; off-diagonal cells show merges', () => {
    // classes 0,1,2; cluster 7 holds class 0, cluster 3 holds class 1 and two of class 2, cluster 5 the rest
    const truth = Int32Array.from([0, 0, 0, 1, 1, 2, 2, 2, 2]);
    const pred = Int32Array.from([7, 7, 7, 3, 3, 3, 3, 5, 5]);
    const m = confusionMatrix(truth, pred);
    expect(m.rows).toBe(3);
    expect(m.cols).toBe(3);
    expect(Array.from(m.counts)).toEqual([3, 0, 0, 0, 2, 0, 0, 2, 2]);
    // dense pred ids: 3 → 0, 5 → 1, 7 → 2
    expect(Array.from(m.columnCluster)).toEqual([2, 0, 1]);
  });

  it('property: the trace over n is the clustering accuracy, and every point is counted once', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 200 }), (pairs) => {
        const truth = Int32Array.from(pairs, (p) => p[0]);
        const pred = Int32Array.from(pairs, (p) => p[1]);
        const m = confusionMatrix(truth, pred);
        let trace = 0;
        let total = 0;
        for (let r = 0; r < m.rows; r++) for (let c = 0; c < m.cols; c++) {
          total += m.counts[r * m.cols + c]!;
          if (r === c) trace += m.counts[r * m.cols + c]!;
        }
        expect(total).toBe(truth.length);
        expect(trace / truth.length).toBeCloseTo(clusteringAccuracy(truth, pred), 12);
      }),
      { numRuns: 200 },
    );
  });
});
