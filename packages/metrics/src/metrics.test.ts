import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ari, clusteringAccuracy, clusteringMetrics, labelAgreement, agreementByScore, nmi } from './index.ts';

const L = (xs: number[]): Int32Array => Int32Array.from(xs);

describe('hand-computed cases', () => {
  it('a relabelled perfect clustering scores 1 everywhere', () => {
    const m = clusteringMetrics(L([0, 0, 1, 1, 2, 2]), L([1, 1, 0, 0, 2, 2]));
    expect(m.acc).toBe(1);
    expect(m.nmi).toBeCloseTo(1, 15);
    expect(m.ari).toBe(1);
  });

  it('scikit-learn docs example truth [0,0,0,1,1,1] pred [0,0,1,1,2,2]', () => {
    const truth = L([0, 0, 0, 1, 1, 1]);
    const pred = L([0, 0, 1, 1, 2, 2]);
    // contingency (rows truth, cols pred): [[2,1,0],[0,1,2]], n = 6
    // ACC: best map p0→t0 (2) and p2→t1 (2); p1 left unmatched → 4/6
    expect(clusteringAccuracy(truth, pred)).toBeCloseTo(4 / 6, 15);
    // ARI: Σ C(nij,2) = 1+1 = 2; Σ C(ai,2) = 3+3 = 6; Σ C(bj,2) = 1+1+1 = 3; C(6,2) = 15
    // E = 6·3/15 = 1.2; max = (6+3)/2 = 4.5; ARI = (2−1.2)/(4.5−1.2) = 0.8/3.3 = 0.242424…
    expect(ari(truth, pred)).toBeCloseTo(0.8 / 3.3, 14);
    expect(ari(truth, pred)).toBeCloseTo(0.24242424, 8);
    // MI = 2·(2/6)·ln(6·2/(3·2)) + 2·(1/6)·ln(6·1/(3·2)) = (2/3)·ln 2 = 0.462098…
    // H(t) = ln 2, H(p) = ln 3; NMI = (2/3)ln2 / ((ln2 + ln3)/2) = 0.515803…
    // (0.51663 quoted in the task brief does not match this arithmetic; not checked against sklearn here)
    const expected = ((2 / 3) * Math.LN2) / ((Math.LN2 + Math.log(3)) / 2);
    expect(nmi(truth, pred)).toBeCloseTo(expected, 14);
    expect(nmi(truth, pred)).toBeCloseTo(0.5158037429, 9);
  });

  it('sklearn ARI doc example [0,0,1,1] vs [0,0,1,2] = 0.5714…', () => {
    // Σ C(nij,2) = 1; Σ C(ai,2) = 2; Σ C(bj,2) = 1; C(4,2) = 6; E = 2/6; max = 1.5
    // ARI = (1 − 1/3)/(1.5 − 1/3) = (2/3)/(7/6) = 4/7
    expect(ari(L([0, 0, 1, 1]), L([0, 0, 1, 2]))).toBeCloseTo(4 / 7, 14);
  });

  it('independent labelings: NMI 0, ARI negative', () => {
    // truth [0,0,1,1] pred [0,1,0,1]: every cell 1 → MI = Σ ¼·ln(4·1/(2·2)) = 0
    // ARI: Σ C(nij,2)=0; ΣA=2; ΣB=2; E=4/6; max=2 → (0−2/3)/(2−2/3) = −0.5
    expect(nmi(L([0, 0, 1, 1]), L([0, 1, 0, 1]))).toBe(0);
    expect(ari(L([0, 0, 1, 1]), L([0, 1, 0, 1]))).toBeCloseTo(-0.5, 14);
    expect(clusteringAccuracy(L([0, 0, 1, 1]), L([0, 1, 0, 1]))).toBe(0.5);
  });

  it('degenerate labelings', () => {
    expect(clusteringMetrics(L([3, 3, 3]), L([7, 7, 7]))).toEqual({ acc: 1, nmi: 1, ari: 1 });
    expect(clusteringMetrics(L([5]), L([9]))).toEqual({ acc: 1, nmi: 1, ari: 1 });
    // one cluster vs several classes: MI = 0
    expect(nmi(L([0, 1, 2]), L([0, 0, 0]))).toBe(0);
    expect(ari(L([0, 1, 2]), L([0, 1, 2]))).toBe(1); // all singletons
    expect(clusteringAccuracy(L([0, 1, 2]), L([0, 0, 0]))).toBeCloseTo(1 / 3, 15);
  });

  it('arbitrary non-negative label values are remapped', () => {
    const a = clusteringMetrics(L([10, 10, 500, 500, 7]), L([3, 3, 100000, 1, 1]));
    const b = clusteringMetrics(L([1, 1, 2, 2, 0]), L([1, 1, 2, 0, 0]));
    expect(a).toEqual(b);
  });

  it('rejects bad input', () => {
    expect(() => nmi(L([0, 1]), L([0]))).toThrow(/differ in length/);
    expect(() => ari(L([]), L([]))).toThrow(/empty/);
    expect(() => clusteringAccuracy(L([0, -1]), L([0, 0]))).toThrow(/non-negative/);
  });
});

const labelPair = fc
  .integer({ min: 1, max: 40 })
  .chain((n) =>
    fc.tuple(
      fc.array(fc.integer({ min: 0, max: 5 }), { minLength: n, maxLength: n }),
      fc.array(fc.integer({ min: 0, max: 7 }), { minLength: n, maxLength: n }),
    ),
  );

describe('properties', () => {
  it('bounds: ACC ∈ (0,1], NMI ∈ [0,1], ARI ≤ 1 (and ≥ −1)', () => {
    fc.assert(
      fc.property(labelPair, ([t, p]) => {
        const m = clusteringMetrics(L(t), L(p));
        expect(m.acc).toBeGreaterThan(0);
        expect(m.acc).toBeLessThanOrEqual(1);
        expect(m.nmi).toBeGreaterThanOrEqual(0);
        expect(m.nmi).toBeLessThanOrEqual(1);
        expect(m.ari).toBeLessThanOrEqual(1 + 1e-12);
        expect(m.ari).toBeGreaterThanOrEqual(-1);
      }),
      { numRuns: 300 },
    );
  });

  it('NMI, ARI and ACC are symmetric', () => {
    fc.assert(
      fc.property(labelPair, ([t, p]) => {
        expect(nmi(L(p), L(t))).toBeCloseTo(nmi(L(t), L(p)), 12);
        expect(ari(L(p), L(t))).toBeCloseTo(ari(L(t), L(p)), 12);
        expect(clusteringAccuracy(L(p), L(t))).toBe(clusteringAccuracy(L(t), L(p)));
      }),
      { numRuns: 200 },
    );
  });

  it('invariant under relabelling either side', () => {
    fc.assert(
      fc.property(labelPair, fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 8, maxLength: 8 }), ([t, p], perm) => {
        // an injective relabelling: label x → x·1001 + perm[x] (distinct for distinct x)
        const relabel = (xs: number[]) => L(xs.map((x) => x * 1001 + perm[x]!));
        const a = clusteringMetrics(L(t), L(p));
        const b = clusteringMetrics(relabel(t), relabel(p));
        expect(b.acc).toBe(a.acc);
        expect(b.nmi).toBeCloseTo(a.nmi, 12);
        expect(b.ari).toBeCloseTo(a.ari, 12);
      }),
      { numRuns: 200 },
    );
  });

  it('identical partitions score 1', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 50 }), (t) => {
        const m = clusteringMetrics(L(t), L(t.map((x) => 6 - x)));
        expect(m.acc).toBe(1);
        expect(m.nmi).toBeCloseTo(1, 12);
        expect(m.ari).toBe(1);
      }),
    );
  });
});

describe('labelAgreement', () => {
  it('is the share of equal labels, 0 for none, and refuses label arrays of different lengths', () => {
    expect(labelAgreement(Int32Array.from([0, 1, 2, 2]), Int32Array.from([0, 1, 1, 2]))).toBe(0.75);
    expect(labelAgreement(new Int32Array(0), new Int32Array(0))).toBe(0);
    expect(() => labelAgreement(new Int32Array(3), new Int32Array(2))).toThrow(/3 labels against 2/);
  });
});

describe('agreementByScore', () => {
  it('splits the points by score into equal-count bins and counts agreement in each', () => {
    // scores out of order: bin 1 holds the three lowest (indices 4, 1, 3), bin 2 the other two.
    const a = Int32Array.from([0, 1, 2, 3, 4]);
    const b = Int32Array.from([0, 9, 2, 9, 9]);
    const score = Float64Array.from([0.9, 0.2, 0.8, 0.3, 0.1]);
    expect(agreementByScore(a, b, score, 2)).toEqual([
      { upTo: 0.3, points: 3, agreement: 0, disagreements: 3 },
      { upTo: 0.9, points: 2, agreement: 1, disagreements: 0 },
    ]);
    const one = agreementByScore(a, b, score, 1);
    expect(one).toEqual([{ upTo: 0.9, points: 5, agreement: 0.4, disagreements: 3 }]);
    expect(one[0]!.agreement).toBe(labelAgreement(a, b));
  });

  it('keeps tied scores in index order and refuses NaN scores, bad bin counts and mismatched lengths', () => {
    const a = Int32Array.from([0, 0, 0, 0]);
    const b = Int32Array.from([1, 0, 0, 0]);
    expect(agreementByScore(a, b, new Float64Array(4), 4).map((g) => g.agreement)).toEqual([0, 1, 1, 1]);
    expect(() => agreementByScore(a, b, Float64Array.from([0, NaN, 0, 0]), 2)).toThrow(/score\[1\] is NaN/);
    expect(() => agreementByScore(a, b, new Float64Array(4), 5)).toThrow(/bins must be an integer in 1\.\.4/);
    expect(() => agreementByScore(a, b, new Float64Array(4), 0)).toThrow(/bins/);
    expect(() => agreementByScore(a, new Int32Array(3), new Float64Array(4), 2)).toThrow(/4 labels against 3, 4 scores/);
  });
});
