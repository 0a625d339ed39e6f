import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fitPcaOnCodes, fitPcaOnCodesDetailed, projectCodes, type PcaModel, type SparseCode } from './pca.ts';
import { jacobiEigen } from './pca-linalg.ts';
import { fitToolboxPca } from './pca-toolbox.ts';
import { streamFor } from './rng.ts';

/** a code with planted structure: `classes` prototypes, each id copied from the prototype with probability p */
function plantedCode(n: number, V: number, k: number, classes: number, p: number, seed: number): SparseCode {
  const r = streamFor(seed, 5);
  const proto = Uint16Array.from({ length: classes * V }, () => r.nextInt(k));
  const ids = new Uint16Array(n * V);
  for (let i = 0; i < n; i++) {
    const cl = i % classes;
    for (let v = 0; v < V; v++) ids[i * V + v] = r.nextFloat() < p ? proto[cl * V + v]! : r.nextInt(k);
  }
  return { n, V, k, ids };
}

function denseX(code: SparseCode): Float64Array {
  const D = code.V * code.k;
  const X = new Float64Array(code.n * D);
  for (let i = 0; i < code.n; i++) for (let v = 0; v < code.V; v++) X[i * D + v * code.k + code.ids[i * code.V + v]!] = 1;
  return X;
}

/** exact PCA: dense covariance (population), Jacobi, descending, largest-|.| component positive */
function exactPca(code: SparseCode): { values: number[]; vectors: Float64Array[]; mean: Float64Array } {
  const D = code.V * code.k;
  const { n } = code;
  const X = denseX(code);
  const mean = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let f = 0; f < D; f++) mean[f]! += X[i * D + f]! / n;
  const C = new Float64Array(D * D);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < D; a++) {
      const xa = X[i * D + a]! - mean[a]!;
      for (let b = 0; b < D; b++) C[a * D + b]! += (xa * (X[i * D + b]! - mean[b]!)) / n;
    }
  }
  const vals = new Float64Array(D);
  const vecs = new Float64Array(D * D);
  jacobiEigen(C, D, vals, vecs);
  const order = Array.from({ length: D }, (_, i) => i).sort((a, b) => vals[b]! - vals[a]!);
  const vectors = order.map((o) => {
    const u = Float64Array.from({ length: D }, (_, f) => vecs[f * D + o]!);
    let best = 0;
    for (let f = 1; f < D; f++) if (Math.abs(u[f]!) > Math.abs(u[best]!)) best = f;
    if (u[best]! < 0) for (let f = 0; f < D; f++) u[f] = -u[f]!;
    return u;
  });
  return { values: order.map((o) => vals[o]!), vectors, mean };
}

function row(m: PcaModel, r: number): Float64Array {
  return m.basis.subarray(r * m.dim, (r + 1) * m.dim);
}

const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('fitPcaOnCodes', () => {
  it('agrees with an exact dense PCA (eigenvalues, vectors, subspace)', () => {
    // D = 160 > Krylov width (6·13 = 78), so the restarted iteration is really exercised
    for (const [code, c] of [
      [plantedCode(400, 20, 8, 5, 0.4, 1), 4],
      [plantedCode(300, 20, 8, 3, 0.3, 2), 6],
      [plantedCode(250, 12, 15, 1, 0, 3), 5], // pure noise: no planted structure at all
    ] as const) {
      const fit = fitPcaOnCodesDetailed(code, c, 42);
      const model = fit.model;
      const ex = exactPca(code);
      expect(model.dim).toBe(code.V * code.k);
      expect(model.c).toBe(c);
      for (let f = 0; f < model.dim; f++) expect(model.mean[f]).toBeCloseTo(ex.mean[f]!, 14);
      for (let r = 0; r < c; r++) expect(Math.abs(model.eigenvalues[r]! - ex.values[r]!)).toBeLessThan(1e-10);
      // subspace: ‖P − Pexact‖_F² = 2c − 2‖UᵀE‖_F²
      let overlap = 0;
      for (let r = 0; r < c; r++) for (let s = 0; s < c; s++) overlap += dot(row(model, r), ex.vectors[s]!) ** 2;
      expect(Math.sqrt(Math.max(0, 2 * c - 2 * overlap))).toBeLessThan(1e-6);
      // individual vectors where the eigenvalue is well separated from its neighbours
      for (let r = 0; r < c; r++) {
        const gap = Math.min(r > 0 ? ex.values[r - 1]! - ex.values[r]! : Infinity, ex.values[r]! - ex.values[r + 1]!);
        if (gap < 1e-3 * ex.values[0]!) continue;
        const u = row(model, r);
        const e = ex.vectors[r]!;
        let diff = 0;
        for (let f = 0; f < model.dim; f++) diff = Math.max(diff, Math.abs(u[f]! - e[f]!));
        expect(diff).toBeLessThan(1e-6);
      }
    }
  });

  it('returns an orthonormal basis with the sign convention and descending eigenvalues', () => {
    const model = fitPcaOnCodes(plantedCode(500, 30, 10, 6, 0.5, 4), 8, 1);
    for (let r = 0; r < 8; r++) {
      for (let s = 0; s < 8; s++) expect(dot(row(model, r), row(model, s))).toBeCloseTo(r === s ? 1 : 0, 12);
      const u = row(model, r);
      let best = 0;
      for (let f = 1; f < model.dim; f++) if (Math.abs(u[f]!) > Math.abs(u[best]!)) best = f;
      expect(u[best]!).toBeGreaterThan(0);
      if (r > 0) expect(model.eigenvalues[r]!).toBeLessThanOrEqual(model.eigenvalues[r - 1]!);
    }
  });

  it('is deterministic, and the seed does not change the converged answer beyond tolerance', () => {
    const code = plantedCode(300, 25, 9, 4, 0.5, 6);
    const a = fitPcaOnCodes(code, 3, 7);
    expect(fitPcaOnCodes(code, 3, 7)).toEqual(a);
    const b = fitPcaOnCodes(code, 3, 8);
    for (let i = 0; i < a.basis.length; i++) expect(Math.abs(a.basis[i]! - b.basis[i]!)).toBeLessThan(1e-6);
  });

  it('handles c = D and rank-deficient codes (zero trailing eigenvalues)', () => {
    // V = 2, k = 3: D = 6, centred rank ≤ V·(k−1) = 4
    const code = plantedCode(50, 2, 3, 2, 0.5, 9);
    const model = fitPcaOnCodes(code, 6, 0);
    const ex = exactPca(code);
    for (let r = 0; r < 6; r++) expect(model.eigenvalues[r]!).toBeCloseTo(Math.max(0, ex.values[r]!), 12);
    expect(model.eigenvalues[4]).toBeLessThan(1e-12);
    for (let r = 0; r < 6; r++) for (let s = 0; s < 6; s++) expect(dot(row(model, r), row(model, s))).toBeCloseTo(r === s ? 1 : 0, 12);
    // a constant code (every row identical) has a zero covariance
    const flat = fitPcaOnCodes({ n: 4, V: 3, k: 2, ids: new Uint16Array(12) }, 2, 0);
    for (const e of flat.eigenvalues) expect(e).toBeLessThan(1e-12);
  });

  it('rejects c outside [1, D] and malformed codes', () => {
    const code = plantedCode(10, 2, 3, 2, 0.5, 1);
    expect(() => fitPcaOnCodes(code, 7, 0)).toThrow(/\[1, D = 6\]/);
    expect(() => fitPcaOnCodes(code, 0, 0)).toThrow(/PCA dimension/);
    expect(() => fitPcaOnCodes({ n: 2, V: 2, k: 3, ids: Uint16Array.from([0, 1, 2, 3]) }, 1, 0)).toThrow(/not < k/);
    expect(() => fitPcaOnCodes({ n: 2, V: 2, k: 3, ids: new Uint16Array(3) }, 1, 0)).toThrow(/expected n·V/);
  });
});

describe('projectCodes', () => {
  it('equals the dense (x − mean)·basis', () => {
    const code = plantedCode(200, 15, 7, 3, 0.5, 11);
    const model = fitPcaOnCodes(code, 4, 3);
    const Z = projectCodes(code, model);
    const X = denseX(code);
    const D = model.dim;
    for (let i = 0; i < code.n; i++) {
      for (let r = 0; r < 4; r++) {
        let s = 0;
        for (let f = 0; f < D; f++) s += (X[i * D + f]! - model.mean[f]!) * model.basis[r * D + f]!;
        expect(Math.abs(Z[i * 4 + r]! - s)).toBeLessThan(1e-9);
      }
    }
  });

  it('is bit-identical for the same row whether projected alone or in a batch', () => {
    const code = plantedCode(100, 10, 5, 2, 0.5, 12);
    const model = fitPcaOnCodes(code, 3, 1);
    const all = projectCodes(code, model);
    for (const i of [0, 17, 99]) {
      const one = projectCodes({ n: 1, V: 10, k: 5, ids: code.ids.slice(i * 10, i * 10 + 10) }, model, new Float64Array(3));
      expect(Array.from(one)).toEqual(Array.from(all.subarray(i * 3, i * 3 + 3)));
    }
  });

  it('rejects a code of the wrong width', () => {
    const model = fitPcaOnCodes(plantedCode(20, 3, 4, 2, 0.5, 1), 2, 0);
    expect(() => projectCodes(plantedCode(5, 4, 3, 1, 0, 1), model)).not.toThrow(); // 4·3 = 12 = 3·4
    expect(() => projectCodes(plantedCode(5, 3, 5, 1, 0, 1), model)).toThrow(/expects 12/);
  });
});

describe('output-step bits (kept by the speed-ups of codeGram, orthonormalizeBlock and gramAtB)', () => {
  // Hashes of mean, basis and eigenvalues from the sources before those speed-ups (git abcac90).
  // n > 3000 takes the toolbox's EM-PCA path; c = 30 gives b = 40, past the unrolled widths.
  const n = 3200;
  const V = 12;
  const k = 7;
  const rng = streamFor(21, 5);
  const ids = new Uint16Array(n * V);
  const protos = Array.from({ length: 4 }, () => Array.from({ length: V }, () => rng.nextInt(k)));
  for (let i = 0; i < n; i++) for (let v = 0; v < V; v++) ids[i * V + v] = rng.nextFloat() < 0.7 ? protos[i % 4]![v]! : rng.nextInt(k);
  const code: SparseCode = { n, V, k, ids };
  const hash = (m: PcaModel) =>
    createHash('sha256').update(new Uint8Array(m.mean.buffer)).update(new Uint8Array(m.basis.buffer)).update(new Uint8Array(m.eigenvalues.buffer)).digest('hex');

  it('centred, uncentred (c = 5 and 30) and toolbox PCA give the same bits as before', () => {
    expect(hash(fitPcaOnCodes(code, 5, 3))).toBe('31498b6b55e42677c85e1f392108636fdc369bc9b68a1416cf331ade04886cbf');
    expect(hash(fitPcaOnCodes(code, 5, 3, { centre: false }))).toBe('216c565550ca8204ca53736f0dac98a7327eeaee9e6320c27033589a359f5fc3');
    expect(hash(fitPcaOnCodes(code, 30, 3))).toBe('7ce87b40f9f70094eae3635e2da2975b168cc2725718451dba39a04781f370f1');
    expect(hash(fitToolboxPca(code, 5, 3))).toBe('8d16f5876cc07ab05a66069e54d7298db457c0214ffd8dbf3719affc88c14d35');
  });
});
