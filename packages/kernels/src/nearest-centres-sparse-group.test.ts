import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The JS implementation; sparse-group-native.test.ts holds the C++ one to it.
import { assignSparseGroupJs as assignSparseGroup, buildSparseGroupIndexJs as buildSparseGroupIndex, sparseGroupSize } from './nearest-centres-sparse-group.ts';
import { SPARSE_CASE as S, bruteForceSparse, randomSparseGroup as randomGroup, sparseTieGroup, sparseTies } from './test-helpers.ts';

/** Column g of a group's output must equal brute force for clustering g alone. */
function expectGroupMatchesBruteForce(seed: number, n: number, Vp: number, kp: number, k: number, G: number, a: number): void {
  const { codes, clusterings } = randomGroup(seed, n, Vp, kp, k, G, a);
  const stride = G + 2;
  const out = new Uint16Array(n * stride).fill(9999);
  const idx = buildSparseGroupIndex(Vp, kp, clusterings, k);
  assignSparseGroup(idx, codes, n, out, stride, 1);
  clusterings.forEach((c, g) => {
    const want = bruteForceSparse(codes, n, Vp, kp, c.keptFeatures, c.centreCodes, k);
    for (let i = 0; i < n; i++) expect(out[i * stride + 1 + g]).toBe(want[i]);
  });
  for (let i = 0; i < n; i++) {
    expect(out[i * stride]).toBe(9999);
    expect(out[i * stride + stride - 1]).toBe(9999);
  }
}

describe('assignSparseGroup', () => {
  const cases: Array<[seed: number, n: number, Vp: number, kp: number, k: number, G: number, a: number]> = [
    [1, 300, 20, 3, 40, 5, 0.5], // long lists, many ties: the k-scan branch
    [2, 300, 40, 60, 15, 7, 0.5], // moderate lists: the scan branch
    [8, 300, 10, 200, 100, 5, 0.5], // short lists (entries ≪ G·k): the replay branch
    [9, 300, 6, 400, 200, 3, 0.9], // replay with duplicates of centre rows among the points
    [3, 200, 10, 2, 1, 3, 0.5], // k = 1
    [4, 200, 1, 4, 3, 4, 1], // Vp = 1
    [5, 200, 30, 10, 25, 3, 0], // nothing kept: centre 0 everywhere
    [6, 700, 12, 40, 9, 1, 0.7], // G = 1, many point blocks with a partial last one
    [7, 400, 50, 30, 300, 2, 0.5], // G·k large → one-point blocks
  ];
  for (const [seed, n, Vp, kp, k, G, a] of cases) {
    it(`equals brute force per clustering: n=${n} Vp=${Vp} kp=${kp} k=${k} G=${G} a=${a}`, () => {
      expectGroupMatchesBruteForce(seed, n, Vp, kp, k, G, a);
    });
  }

  it('breaks ties to the lowest centre in each clustering of the group', () => {
    // Point codes (1, 2, 3). Clustering 0: centres 0..2 share one feature each → 0 wins.
    // Clustering 1: centre 2 shares two → 2 wins; clustering 2: nothing kept → 0.
    const { Vp, kp, point } = sparseTies();
    const idx = buildSparseGroupIndex(Vp, kp, sparseTieGroup(), 3);
    const out = new Uint16Array(3);
    assignSparseGroup(idx, point, 1, out, 3, 0);
    expect(Array.from(out)).toEqual([0, 2, 0]);
  });

  it('rejects codes out of range and a too-short output', () => {
    const { codes, clusterings } = randomGroup(9, 10, 4, 5, 3, 2, 0.5);
    const idx = buildSparseGroupIndex(4, 5, clusterings, 3);
    expect(() => assignSparseGroup(idx, codes, 10, new Uint16Array(19), 2, 0)).toThrow(RangeError);
    const bad = codes.slice();
    bad[7] = 5;
    expect(() => assignSparseGroup(idx, bad, 10, new Uint16Array(20), 2, 0)).toThrow(RangeError);
    expect(() => buildSparseGroupIndex(4, 5, [{ keptFeatures: Uint32Array.from([20]), centreCodes: clusterings[0]!.centreCodes }], 3)).toThrow(RangeError);
  });

  it('group size keeps a block of scores within budget and never exceeds the width', () => {
    expect(sparseGroupSize(714, 25)).toBe(25);
    expect(sparseGroupSize(22, 7)).toBe(7);
    expect(sparseGroupSize(65535, 25)).toBe(1);
    expect(sparseGroupSize(5000, 400)).toBe(13);
  });

  it('property: every column equals brute force', () => {
    fc.assert(
      fc.property(
        S.seed, S.n, S.Vp, S.kp, S.k, S.G, S.a,
        (seed, n, Vp, kp, k, G, a) => expectGroupMatchesBruteForce(seed, n, Vp, kp, k, G, a),
      ),
      { numRuns: 200 },
    );
  });
});
