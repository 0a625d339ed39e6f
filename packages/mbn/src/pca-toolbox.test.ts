import { describe, expect, it } from 'vitest';
import { fitPcaOnCodes, projectCodes, type PcaModel, type SparseCode } from './pca.ts';
import { jacobiEigen } from './pca-linalg.ts';
import { fitOutputStep, toolboxComponents } from './pca-toolbox.ts';
import { streamFor } from './rng.ts';

/**
 * Tests of the toolbox output step (MBN.m's, see pca-toolbox.ts) against references computed here
 * densely in float64: the exact eigenvectors of XᵀX/n or of the covariance, from jacobiEigen, each
 * one checked by its residual ‖Mu − λu‖ so that the reference does not lean on the code under test.
 */

/**
 * A code with a known spectrum: V = G·r clusterings in G groups of r near-copies. Group g's base id
 * is its class's prototype id with probability q (else uniform; the class is i mod `classes`), and
 * each copy keeps the base id with probability 1 − eps (else draws a uniform one). Without the copy
 * noise X is the G-group code with every column repeated r times, whose rank is G(k − 1) + 1 (each
 * group's k columns sum to the ones vector: G − 1 dependencies), so XᵀX/n has exactly that many
 * nonzero eigenvalues; the copy noise adds eigenvalues of order eps/k. Choosing G(k − 1) + 1 = p puts
 * a clear gap right after the p-th eigenvalue, which the tests assert before relying on it.
 */
function groupedCode(n: number, G: number, r: number, k: number, classes: number, q: number, eps: number, seed: number): SparseCode {
  const rng = streamFor(seed, 1);
  const V = G * r;
  const proto = Array.from({ length: classes * G }, () => rng.nextInt(k));
  const ids = new Uint16Array(n * V);
  for (let i = 0; i < n; i++) {
    const cl = i % classes;
    for (let g = 0; g < G; g++) {
      const base = rng.nextFloat() < q ? proto[cl * G + g]! : rng.nextInt(k);
      for (let j = 0; j < r; j++) ids[i * V + g * r + j] = rng.nextFloat() < eps ? rng.nextInt(k) : base;
    }
  }
  return { n, V, k, ids };
}

/** The code with row i = i: every point has its own feature, so a fitted mean shows which rows were used. */
function identityCode(n: number): SparseCode {
  return { n, V: 1, k: n, ids: Uint16Array.from({ length: n }, (_, i) => i) };
}

function rowsOf(code: SparseCode, rows: ArrayLike<number>): SparseCode {
  const { V, k, ids } = code;
  const sub = new Uint16Array(rows.length * V);
  for (let i = 0; i < rows.length; i++) sub.set(ids.subarray(rows[i]! * V, (rows[i]! + 1) * V), i * V);
  return { n: rows.length, V, k, ids: sub };
}

/** XᵀX/n − μμᵀ (centre) or XᵀX/n, dense D×D, and the column means μ. */
function secondMoment(code: SparseCode, centre: boolean): { M: Float64Array; mean: Float64Array } {
  const { n, V, k, ids } = code;
  const D = V * k;
  const M = new Float64Array(D * D);
  const mean = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < V; a++) {
      const fa = a * k + ids[i * V + a]!;
      mean[fa]! += 1 / n;
      for (let b = 0; b < V; b++) M[fa * D + b * k + ids[i * V + b]!]! += 1 / n;
    }
  }
  if (centre) for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) M[a * D + b]! -= mean[a]! * mean[b]!;
  return { M, mean };
}

/** All eigenpairs of the symmetric D×D matrix M, descending; vectors as rows (D×D). Checks each residual. */
function eigenDescending(M: Float64Array, D: number): { values: Float64Array; vectors: Float64Array } {
  const A = Float64Array.from(M);
  const vals = new Float64Array(D);
  const vecs = new Float64Array(D * D);
  jacobiEigen(A, D, vals, vecs);
  const order = Array.from({ length: D }, (_, i) => i).sort((a, b) => vals[b]! - vals[a]!);
  const values = Float64Array.from(order, (o) => vals[o]!);
  const vectors = new Float64Array(D * D);
  order.forEach((o, r) => {
    for (let f = 0; f < D; f++) vectors[r * D + f] = vecs[f * D + o]!;
  });
  let worst = 0;
  for (let r = 0; r < D; r++) {
    let s = 0;
    for (let a = 0; a < D; a++) {
      let mu = 0;
      for (let b = 0; b < D; b++) mu += M[a * D + b]! * vectors[r * D + b]!;
      s += (mu - values[r]! * vectors[r * D + a]!) ** 2;
    }
    worst = Math.max(worst, Math.sqrt(s));
  }
  expect(worst).toBeLessThan(1e-12 * Math.max(1, Math.abs(values[0]!)));
  return { values, vectors };
}

/**
 * √(Σᵢ sin²θᵢ) over the principal angles between span(A) and span(B) (orthonormal rows, a ≤ b of
 * them, each D long): the Frobenius norm of A − (ABᵀ)B, computed directly rather than as 1 − cos²
 * so that small angles keep full precision. For a = b it is ‖P_A − P_B‖_F / √2.
 */
function subspaceDistance(A: Float64Array, a: number, B: Float64Array, b: number, D: number): number {
  let s = 0;
  const coef = new Float64Array(b);
  for (let i = 0; i < a; i++) {
    for (let j = 0; j < b; j++) {
      let d = 0;
      for (let f = 0; f < D; f++) d += A[i * D + f]! * B[j * D + f]!;
      coef[j] = d;
    }
    for (let f = 0; f < D; f++) {
      let x = A[i * D + f]!;
      for (let j = 0; j < b; j++) x -= coef[j]! * B[j * D + f]!;
      s += x * x;
    }
  }
  return Math.sqrt(s);
}

/** The checks every toolbox model passes: c unit, orthogonal rows, each with its largest-|.| entry positive. */
function expectBasisShape(m: PcaModel, c: number, D: number): void {
  expect(m.dim).toBe(D);
  expect(m.c).toBe(c);
  expect(m.basis.length).toBe(c * D);
  expect(m.eigenvalues.length).toBe(c);
  for (let r = 0; r < c; r++) {
    for (let s = r; s < c; s++) {
      let d = 0;
      for (let f = 0; f < D; f++) d += m.basis[r * D + f]! * m.basis[s * D + f]!;
      expect(Math.abs(d - (r === s ? 1 : 0))).toBeLessThan(1e-12);
    }
    let best = 0;
    for (let f = 1; f < D; f++) if (Math.abs(m.basis[r * D + f]!) > Math.abs(m.basis[r * D + best]!)) best = f;
    expect(m.basis[r * D + best]!).toBeGreaterThan(0);
    if (r > 0) expect(m.eigenvalues[r]!).toBeLessThanOrEqual(m.eigenvalues[r - 1]!);
  }
}

describe('toolboxComponents', () => {
  it('is max(min(3c, 100), c), capped at D', () => {
    const D = 10_000;
    const cases: [number, number][] = [[1, 3], [2, 6], [10, 30], [33, 99], [34, 100], [50, 100], [99, 100], [100, 100], [101, 101], [150, 150]];
    for (const [c, p] of cases) expect(toolboxComponents(c, D), `c = ${c}`).toBe(p);
    expect(toolboxComponents(10, 20)).toBe(20);
    expect(toolboxComponents(5, 5)).toBe(5);
  });
});

describe('toolbox output step, N ≤ 3000: centred PCA on at most 2000 random points', () => {
  const c = 3;
  // 4 classes: 3 centred class directions well above the rest (asserted below), so the 3-subspace is well defined
  const planted = (n: number) => groupedCode(n, 6, 2, 6, 4, 0.6, 0.1, 7);

  /** The dense centred PCA of `code`, compared with `model`: mean, eigenvalues and the c-subspace. */
  function expectCentredPcaOf(model: PcaModel, code: SparseCode): void {
    const D = code.V * code.k;
    const { M, mean } = secondMoment(code, true);
    const ex = eigenDescending(M, D);
    expect(ex.values[c]! / ex.values[c - 1]!).toBeLessThan(0.7);
    for (let f = 0; f < D; f++) expect(Math.abs(model.mean[f]! - mean[f]!)).toBeLessThan(1e-14);
    for (let r = 0; r < c; r++) expect(Math.abs(model.eigenvalues[r]! - ex.values[r]!)).toBeLessThan(1e-10);
    // the Krylov fit stops at a relative Ritz residual of 1e-9; over a relative gap ≥ 0.3 that moves the subspace ≲ 1e-8
    expect(subspaceDistance(model.basis, c, ex.vectors, c, D)).toBeLessThan(1e-6);
  }

  it('at N ≤ 2000 is the centred PCA of all the points', () => {
    const code = planted(1500);
    const model = fitOutputStep(code, 'toolbox', c, 5);
    expectBasisShape(model, c, code.V * code.k);
    expect(model).toEqual(fitPcaOnCodes(code, c, 5, { centre: true }));
    expectCentredPcaOf(model, code);
  });

  it('at 2000 < N ≤ 3000 fits exactly 2000 random points, chosen by (seed, N) alone', () => {
    for (const n of [2001, 2500, 3000]) {
      const model = fitOutputStep(identityCode(n), 'toolbox', 1, 5);
      // the mean is the subset's: 1/2000 on the chosen rows' features, 0 elsewhere
      const chosen = [...model.mean.keys()].filter((f) => model.mean[f]! !== 0);
      expect(chosen.length, `n = ${n}`).toBe(2000);
      for (const f of chosen) expect(model.mean[f]).toBe(1 / 2000);
      // random, not a prefix: some chosen rows lie past row 2000
      expect(chosen[chosen.length - 1]!).toBeGreaterThanOrEqual(2000);
    }
    const rowsFor = (seed: number) => {
      const m = fitOutputStep(identityCode(2500), 'toolbox', 1, seed).mean;
      return [...m.keys()].filter((f) => m[f]! !== 0);
    };
    const s5 = rowsFor(5);
    expect(rowsFor(5)).toEqual(s5);
    expect(rowsFor(6)).not.toEqual(s5);

    // The draw depends on (seed, N) only, so the identity code names the rows any 2500-point code is fitted on.
    const code = planted(2500);
    const model = fitOutputStep(code, 'toolbox', c, 5);
    expectBasisShape(model, c, code.V * code.k);
    const subset = rowsOf(code, s5);
    expect(model).toEqual(fitPcaOnCodes(subset, c, 5));
    expectCentredPcaOf(model, subset);
    // and it is not the PCA of all 2500 points
    const all = secondMoment(code, true).mean;
    expect(Math.max(...model.mean.map((x, f) => Math.abs(x - all[f]!)))).toBeGreaterThan(1e-3);
    // kernel PCA's embedding √m·(x − μ_S)·w is this one times √m: centred on the subset
    const Z = projectCodes(subset, model);
    for (let r = 0; r < c; r++) {
      let s = 0;
      for (let i = 0; i < subset.n; i++) s += Z[i * c + r]!;
      expect(Math.abs(s / subset.n)).toBeLessThan(1e-12);
    }
  });

  it('switches to EM-PCA (uncentred, zero mean) above 3000 points', () => {
    expect(fitOutputStep(identityCode(3000), 'toolbox', 1, 5).mean.some((x) => x !== 0)).toBe(true);
    expect(fitOutputStep(identityCode(3001), 'toolbox', 1, 5).mean.every((x) => x === 0)).toBe(true);
  });
});

describe('toolbox output step, N > 3000: EM-PCA on the uncentred code', () => {
  /*
   * Tolerance. Each EM step maps span(C) to span(XᵀX·C), subspace iteration, which shrinks the tangent
   * of the angle to the exact top-p subspace by λ_{p+1}/λ_p per step. The tests assert that ratio is
   * below 0.2 on their codes, so after the 20 steps the error is ≲ 0.2^20·tan θ₀ ≈ 1e-14·tan θ₀ from a
   * random start, plus float64 rounding (measured: ≲ 1e-12 here); 1e-9 leaves room for tan θ₀ up to 1e4.
   * The wrong variants miss by far more: a centred iteration, or p = c (which keeps the mean-like top
   * direction), by O(1) (checked below on the references); a p inside the flat bulk between c and the
   * gap converges at (λ_{p+1}/λ_c)^20 ≈ 0.54^20 ≈ 4e-6 on the second code.
   */
  const TOL = 1e-9;

  it('at c ≥ 100 (p = c) spans the exact top-p subspace of the uncentred XᵀX/n', () => {
    // G(k − 1) + 1 = 11·9 + 1 = 100: the gap sits after the 100th eigenvalue; D = 330
    const code = groupedCode(3200, 11, 3, 10, 1, 0, 0.1, 1);
    const D = code.V * code.k;
    const c = 100;
    expect(toolboxComponents(c, D)).toBe(c);
    const model = fitOutputStep(code, 'toolbox', c, 3);
    expectBasisShape(model, c, D);
    expect(model.mean.every((x) => x === 0)).toBe(true);

    const unc = eigenDescending(secondMoment(code, false).M, D);
    expect(unc.values[c]! / unc.values[c - 1]!).toBeLessThan(0.2);
    expect(subspaceDistance(model.basis, c, unc.vectors, c, D)).toBeLessThan(TOL);
    // the centred top-100 subspace differs (it trades the mean-like direction for a noise one): centring would fail
    const cen = eigenDescending(secondMoment(code, true).M, D);
    expect(subspaceDistance(cen.vectors, c, unc.vectors, c, D)).toBeGreaterThan(0.5);
  });

  it('keeps the c directions of largest centred variance inside the exact top-p uncentred subspace (c = 10, p = 30)', () => {
    // G(k − 1) + 1 = 29 + 1 = 30 = p; 11 classes give 10 centred class directions; D = 174
    const code = groupedCode(3200, 29, 3, 2, 11, 0.8, 0.05, 3);
    const { n, V, k, ids } = code;
    const D = V * k;
    const c = 10;
    const p = toolboxComponents(c, D);
    expect(p).toBe(30);
    const model = fitOutputStep(code, 'toolbox', c, 3);
    expectBasisShape(model, c, D);
    expect(model.mean.every((x) => x === 0)).toBe(true);

    // reference: E = exact top-p eigenvectors of XᵀX/n; the population covariance of X·Eᵀ; its top c
    const unc = eigenDescending(secondMoment(code, false).M, D);
    expect(unc.values[p]! / unc.values[p - 1]!).toBeLessThan(0.2);
    const Y = new Float64Array(n * p);
    for (let i = 0; i < n; i++) {
      for (let v = 0; v < V; v++) {
        const f = v * k + ids[i * V + v]!;
        for (let j = 0; j < p; j++) Y[i * p + j]! += unc.vectors[j * D + f]!;
      }
    }
    const mu = new Float64Array(p);
    for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mu[j]! += Y[i * p + j]! / n;
    const cov = new Float64Array(p * p);
    for (let i = 0; i < n; i++) {
      for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) cov[a * p + b]! += ((Y[i * p + a]! - mu[a]!) * (Y[i * p + b]! - mu[b]!)) / n;
    }
    const inner = eigenDescending(cov, p);
    expect(inner.values[c]! / inner.values[c - 1]!).toBeLessThan(0.7);
    const ref = new Float64Array(c * D);
    for (let r = 0; r < c; r++) for (let j = 0; j < p; j++) for (let f = 0; f < D; f++) ref[r * D + f]! += inner.vectors[r * p + j]! * unc.vectors[j * D + f]!;

    // every kept direction lies in the exact top-p subspace, and they are its top c by centred variance
    expect(subspaceDistance(model.basis, c, unc.vectors, p, D)).toBeLessThan(TOL);
    expect(subspaceDistance(model.basis, c, ref, c, D)).toBeLessThan(TOL);
    for (let r = 0; r < c; r++) expect(Math.abs(model.eigenvalues[r]! - inner.values[r]!)).toBeLessThan(TOL * inner.values[0]!);
    // the eigenvalues are the centred variances of the (uncentred) embedding, whose coordinates are uncorrelated
    const Z = projectCodes(code, model);
    const zm = new Float64Array(c);
    for (let i = 0; i < n; i++) for (let r = 0; r < c; r++) zm[r]! += Z[i * c + r]! / n;
    for (let a = 0; a < c; a++) {
      for (let b = a; b < c; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += (Z[i * c + a]! - zm[a]!) * (Z[i * c + b]! - zm[b]!);
        expect(Math.abs(s / n - (a === b ? model.eigenvalues[a]! : 0))).toBeLessThan(TOL * model.eigenvalues[0]!);
      }
    }
    // p = c would keep the top c uncentred directions, the mean-like one among them: far from the reference
    expect(subspaceDistance(unc.vectors, c, ref, c, D)).toBeGreaterThan(0.5);
  });

  it('is deterministic for a seed', () => {
    const code = groupedCode(3100, 5, 2, 4, 3, 0.7, 0.1, 9);
    expect(fitOutputStep(code, 'toolbox', 2, 4)).toEqual(fitOutputStep(code, 'toolbox', 2, 4));
  });
});
