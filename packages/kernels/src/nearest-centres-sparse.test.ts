import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignSparse, nearestCentresSparse, type SparseStats } from './nearest-centres-sparse.ts';
import { buildSparseCentreIndex } from './sparse-centre-index.ts';
import { SPARSE_CASE as S, bruteForceSparse, randomSparseGroup, sparseTies } from './test-helpers.ts';

interface Case {
  n: number;
  Vp: number;
  kp: number;
  k: number;
  codes: Uint16Array;
  centreCodes: Uint16Array;
  kept: Uint32Array;
}

/** Random case; small kp makes many matches and many ties, centres are drawn from the points as in MBN. */
function randomCase(seed: number, n: number, Vp: number, kp: number, k: number, a: number): Case {
  const { codes, clusterings } = randomSparseGroup(seed, n, Vp, kp, k, 1, a);
  const { centreCodes, keptFeatures } = clusterings[0]!;
  return { n, Vp, kp, k, codes, centreCodes, kept: keptFeatures };
}

function run(c: Case, stats?: SparseStats): Uint16Array {
  const out = new Uint16Array(c.n);
  nearestCentresSparse(c.codes, c.n, c.Vp, c.kp, c.kept, c.centreCodes, c.k, out, 1, 0, stats);
  return out;
}

describe('buildSparseCentreIndex', () => {
  it('lists, for each kept feature, exactly the centres having it, ascending', () => {
    const c = randomCase(1, 50, 6, 5, 12, 0.6);
    const idx = buildSparseCentreIndex(c.Vp, c.kp, c.kept, c.centreCodes, c.k);
    const kept = new Set(c.kept);
    for (let f = 0; f < c.Vp * c.kp; f++) {
      const u = Math.floor(f / c.kp);
      const want: number[] = [];
      if (kept.has(f)) for (let j = 0; j < c.k; j++) if (u * c.kp + c.centreCodes[j * c.Vp + u]! === f) want.push(j);
      expect(Array.from(idx.centres.subarray(idx.offsets[f]!, idx.offsets[f + 1]!))).toEqual(want);
    }
  });

  it('rejects out-of-range codes and features', () => {
    expect(() => buildSparseCentreIndex(2, 3, new Uint32Array([6]), new Uint16Array(2), 1)).toThrow(RangeError);
    expect(() => buildSparseCentreIndex(2, 3, new Uint32Array([0]), new Uint16Array([0, 3]), 1)).toThrow(RangeError);
  });
});

describe('nearestCentresSparse', () => {
  const cases: Array<[seed: number, n: number, Vp: number, kp: number, k: number, a: number]> = [
    [2, 300, 20, 3, 40, 0.5], // many ties
    [3, 300, 40, 30, 15, 0.5],
    [4, 200, 10, 2, 1, 0.5], // k = 1
    [5, 200, 1, 4, 3, 1], // Vp = 1
    [6, 200, 30, 10, 25, 0], // nothing kept: every score 0 → centre 0
    [7, 500, 100, 50, 60, 1],
  ];
  for (const [seed, n, Vp, kp, k, a] of cases) {
    it(`matches brute force: n=${n} Vp=${Vp} kp=${kp} k=${k} a=${a}`, () => {
      const c = randomCase(seed, n, Vp, kp, k, a);
      const stats: SparseStats = { accumulations: 0 };
      expect(run(c, stats)).toEqual(bruteForceSparse(c.codes, n, Vp, kp, c.kept, c.centreCodes, k));
      if (a === 0) expect(stats.accumulations).toBe(0);
    });
  }

  it('ties go to the lowest centre index', () => {
    // Centres 0..2 share one kept feature each with the point; 3 duplicates 1; 4 shares two.
    const { Vp, kp, all: kept, point, oneEach } = sparseTies();
    const centreCodes = Uint16Array.from([...oneEach, /**/ 0, 2, 0]);
    const out = new Uint16Array(1);
    nearestCentresSparse(point, 1, Vp, kp, kept, centreCodes, 4, out, 1, 0);
    expect(out[0]).toBe(0);
    const withBest = Uint16Array.from([...centreCodes, 0, 2, 3, 0, 2, 3]);
    nearestCentresSparse(point, 1, Vp, kp, kept, withBest, 6, out, 1, 0);
    expect(out[0]).toBe(4);
    // An unkept feature does not count: drop feature 1*4+2 and centre 2 (feature 2*4+3) ties with 0.
    const partial = kept.filter((f) => f !== 6 && f !== 1);
    nearestCentresSparse(point, 1, Vp, kp, partial, withBest, 6, out, 1, 0);
    expect(out[0]).toBe(2);
  });

  it('honours outStride/outOffset across several point blocks', () => {
    const c = randomCase(8, 700, 12, 5, 9, 0.7); // k = 9 → 64-point blocks, last one partial
    const idx = buildSparseCentreIndex(c.Vp, c.kp, c.kept, c.centreCodes, c.k);
    const out = new Uint16Array(c.n * 4).fill(7777);
    assignSparse(idx, c.codes, c.n, out, 4, 3);
    const want = bruteForceSparse(c.codes, c.n, c.Vp, c.kp, c.kept, c.centreCodes, c.k);
    for (let i = 0; i < c.n; i++) {
      expect(out[i * 4 + 3]).toBe(want[i]);
      expect(out[i * 4]).toBe(7777);
    }
  });

  it('property: equals brute force, and a point that is a centre scores its full kept overlap', () => {
    fc.assert(
      fc.property(
        S.seed, S.n, S.Vp, S.kp, S.k, S.a,
        (seed, n, Vp, kp, k, a) => {
          const c = randomCase(seed, n, Vp, kp, k, a);
          const got = run(c);
          expect(got).toEqual(bruteForceSparse(c.codes, n, Vp, kp, c.kept, c.centreCodes, k));
          // Determinism: running on a permuted order of rows gives the same per-row answers.
          const perm = Array.from({ length: n }, (_, i) => n - 1 - i);
          const rev = new Uint16Array(n * Vp);
          perm.forEach((p, i) => rev.set(c.codes.subarray(p * Vp, p * Vp + Vp), i * Vp));
          const got2 = run({ ...c, codes: rev });
          perm.forEach((p, i) => expect(got2[i]).toBe(got[p]));
        },
      ),
      { numRuns: 200 },
    );
  });
});
