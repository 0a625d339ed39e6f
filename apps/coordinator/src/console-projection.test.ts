import { describe, expect, it } from 'vitest';
import { clusteringAccuracy } from '@cmbn/metrics';
import { confusionMatrix, project2d, symmetricEigen } from './console-projection.ts';

/** A small deterministic generator (the test needs no particular stream, only a fixed one). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('symmetricEigen', () => {
  it('diagonalises a random symmetric matrix: A·v = λ·v, orthonormal vectors, descending values', () => {
    const c = 7;
    const r = lcg(3);
    const a = new Float64Array(c * c);
    for (let i = 0; i < c; i++) for (let j = i; j < c; j++) a[i * c + j] = a[j * c + i] = r() * 2 - 1;
    const copy = Float64Array.from(a);
    const { values, vectors } = symmetricEigen(a, c);
    for (let e = 0; e < c; e++) {
      for (let i = 0; i < c; i++) {
        let av = 0;
        for (let j = 0; j < c; j++) av += copy[i * c + j]! * vectors[e * c + j]!;
        expect(av).toBeCloseTo(values[e]! * vectors[e * c + i]!, 10);
      }
      for (let f = 0; f < c; f++) {
        let dot = 0;
        for (let j = 0; j < c; j++) dot += vectors[e * c + j]! * vectors[f * c + j]!;
        expect(dot).toBeCloseTo(e === f ? 1 : 0, 10);
      }
      if (e > 0) expect(values[e]!).toBeLessThanOrEqual(values[e - 1]!);
    }
  });
});

describe('project2d', () => {
  it('finds the two directions of largest variance of a known embedding', () => {
    // Variance 100 along (1,1,0,0)/√2, 9 along e3, 0.01 elsewhere.
    const n = 4000;
    const c = 4;
    const r = lcg(9);
    const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
    const emb = new Float64Array(n * c);
    const big = new Float64Array(n);
    const mid = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      big[i] = 10 * gauss();
      mid[i] = 3 * gauss();
      emb[i * c] = big[i]! / Math.SQRT2 + 0.1 * gauss() + 5;
      emb[i * c + 1] = big[i]! / Math.SQRT2 + 0.1 * gauss() - 2;
      emb[i * c + 2] = mid[i]!;
      emb[i * c + 3] = 0.1 * gauss();
    }
    const p = project2d(emb, n, c);
    let cx = 0;
    let cy = 0;
    for (let i = 0; i < n; i++) {
      cx += p.x[i]! * big[i]!;
      cy += p.y[i]! * mid[i]!;
    }
    // x follows the big direction, y the middle one (up to sign), and they carry ~100/109 and ~9/109 of the variance.
    expect(Math.abs(cx) / n).toBeGreaterThan(95);
    expect(Math.abs(cy) / n).toBeGreaterThan(8);
    expect(p.explained[0]).toBeGreaterThan(0.9);
    expect(p.explained[1]).toBeGreaterThan(0.07);
    expect(p.explained[0] + p.explained[1]).toBeLessThanOrEqual(1 + 1e-12);
    // Deterministic, bit for bit.
    const again = project2d(emb, n, c);
    expect(Buffer.from(again.x.buffer).equals(Buffer.from(p.x.buffer))).toBe(true);
    expect(() => project2d(emb, n, 3)).toThrow(/expected 4000×3/);
  });

  it('handles a one-component embedding (y is 0)', () => {
    const p = project2d(Float64Array.from([1, 2, 3, 4]), 4, 1);
    expect(Array.from(p.y)).toEqual([0, 0, 0, 0]);
    expect(Math.abs(p.x[3]! - p.x[0]!)).toBeCloseTo(3, 6);
    expect(p.explained).toEqual([1, 0]);
  });
});

describe('confusionMatrix', () => {
  it('puts the Hungarian match on the diagonal: its trace / n is ACC', () => {
    const truth = Int32Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2, 2]);
    const pred = Int32Array.from([5, 5, 7, 7, 7, 7, 3, 3, 3, 9]);
    const m = confusionMatrix(truth, pred);
    expect(m.classes).toEqual([0, 1, 2]);
    expect(m.clusters).toEqual([5, 7, 3, 9]);
    expect(m.counts).toEqual([
      [2, 1, 0, 0],
      [0, 3, 0, 0],
      [0, 0, 3, 1],
    ]);
    const trace = m.counts.reduce((s, row, i) => s + row[i]!, 0);
    expect(trace / truth.length).toBe(clusteringAccuracy(truth, pred));
    expect(m.counts.flat().reduce((s, v) => s + v, 0)).toBe(truth.length);
  });
});
