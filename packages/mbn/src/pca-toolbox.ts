import { sampleDistinct, sortedU32, streamFor } from './rng.ts';
import type { TOutputStep } from './params.ts';
import { checkCode, fitPcaOnCodes, type PcaModel, type SparseCode } from './pca.ts';
import { codeGram, jacobiEigen, orthonormalizeBlock } from './pca-linalg.ts';

/**
 * The output step of the author's MATLAB toolbox (MBN.m), reimplemented from its description:
 *
 * - N > 3000: EM-PCA (Roweis) on the top code with the mean subtraction commented out, i.e. on
 *   the uncentred data, 20 iterations from a uniform random D×p start, p = max(min(3c, 100), c).
 *   Each EM step maps span(C) to span(XᵀX·C) (E-step x = (CᵀC)⁻¹CᵀXᵀ, M-step C = Xᵀxᵀ(xxᵀ)⁻¹),
 *   so it is subspace iteration on the uncentred second moment; here each step is
 *   orthonormalised, which leaves the span unchanged and keeps it well conditioned. Its final
 *   step (empca_orth → truepca) orthonormalises C, takes the covariance of the projected data
 *   with MATLAB's cov (which centres), and orders the p directions by it. The first c are kept,
 *   and the embedding is X·W, uncentred (a constant shift, which k-means does not see).
 * - N ≤ 3000: linear-kernel kernel PCA on at most 2000 random points. With a linear kernel the
 *   centred kernel PCA projection of x is √m·(x − μ_S)·w_r for the centred principal directions
 *   w_r of the m-point subset S: centred PCA fitted on S, up to one uniform scale (which k-means
 *   does not see either), so that is what is fitted.
 *
 * Every draw comes from streamFor(seed, …), so the result is deterministic.
 */
export const TOOLBOX_EM_ITERATIONS = 20;
export const TOOLBOX_KPCA_MAX_POINTS = 3000;
export const TOOLBOX_KPCA_SUBSET = 2000;

/** The toolbox's EM-PCA width: max(min(3c, 100), c), capped at the code's dimension. */
export function toolboxComponents(c: number, D: number): number {
  return Math.min(D, Math.max(Math.min(3 * c, 100), c));
}

export function fitToolboxPca(code: SparseCode, c: number, seed: number): PcaModel {
  checkCode(code);
  const { n, V, k } = code;
  const D = V * k;
  if (!Number.isInteger(c) || c < 1 || c > D) throw new Error(`PCA dimension c = ${c} must be an integer in [1, D = ${D}]`);
  if (n <= TOOLBOX_KPCA_MAX_POINTS) return fitSubsetPca(code, c, seed);
  return fitEmPca(code, c, seed);
}

function fitSubsetPca(code: SparseCode, c: number, seed: number): PcaModel {
  const { n, V, k, ids } = code;
  if (n <= TOOLBOX_KPCA_SUBSET) return fitPcaOnCodes(code, c, seed);
  const rows = sortedU32(sampleDistinct(streamFor(seed, 0x4b50), n, TOOLBOX_KPCA_SUBSET));
  const sub = new Uint16Array(rows.length * V);
  rows.forEach((r, i) => sub.set(ids.subarray(r * V, (r + 1) * V), i * V));
  return fitPcaOnCodes({ n: rows.length, V, k, ids: sub }, c, seed);
}

function fitEmPca(code: SparseCode, c: number, seed: number): PcaModel {
  const { n, V, k } = code;
  const D = V * k;
  const p = toolboxComponents(c, D);
  const rng = streamFor(seed, 0xe3ca);
  // C: D×p feature-major, uniform [0, 1) like MATLAB's rand.
  let C = new Float64Array(D * p);
  for (let t = 0; t < C.length; t++) C[t] = rng.nextFloat();
  const P = new Float64Array(0);
  const S = new Float64Array(p * D);
  orthonormalizeBlock(C, D, p, 0, p, rng, P, S);
  const Y = new Float64Array(n * p);
  // C ← XᵀX·C: codeGram's Y = X·C from zero, then the scatter into a zeroed buffer; swap.
  const zero = new Float64Array(p);
  let next = new Float64Array(D * p);
  for (let it = 0; it < TOOLBOX_EM_ITERATIONS; it++) {
    next.fill(0);
    codeGram(code, C, p, zero, next, Y);
    [C, next] = [next, C];
    orthonormalizeBlock(C, D, p, 0, p, rng, P, S);
  }
  // truepca of the projected data: population covariance (centred), eigenvectors by decreasing value.
  project(code, C, p, Y);
  const mu = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) mu[j]! += Y[i * p + j]!;
  for (let j = 0; j < p; j++) mu[j] = mu[j]! / n;
  const cov = new Float64Array(p * p);
  for (let i = 0; i < n; i++) {
    const yo = i * p;
    for (let a = 0; a < p; a++) {
      const ya = Y[yo + a]! - mu[a]!;
      for (let b = a; b < p; b++) cov[a * p + b]! += ya * (Y[yo + b]! - mu[b]!);
    }
  }
  for (let a = 0; a < p; a++) {
    for (let b = a; b < p; b++) {
      cov[a * p + b] = cov[a * p + b]! / n;
      cov[b * p + a] = cov[a * p + b]!;
    }
  }
  const values = new Float64Array(p);
  const vectors = new Float64Array(p * p);
  jacobiEigen(cov, p, values, vectors);
  const order = Array.from({ length: p }, (_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
  const basis = new Float64Array(c * D);
  const eigenvalues = new Float64Array(c);
  for (let r = 0; r < c; r++) {
    const e = order[r]!;
    // w_r = C·e_r, sign fixed so its largest-|.| component (lowest index on ties) is positive.
    let bestAbs = -1;
    let sign = 1;
    for (let f = 0; f < D; f++) {
      let s = 0;
      for (let j = 0; j < p; j++) s += C[f * p + j]! * vectors[j * p + e]!;
      basis[r * D + f] = s;
      if (Math.abs(s) > bestAbs) {
        bestAbs = Math.abs(s);
        sign = s < 0 ? -1 : 1;
      }
    }
    if (sign < 0) for (let f = 0; f < D; f++) basis[r * D + f] = -basis[r * D + f]!;
    eigenvalues[r] = Math.max(0, values[e]!);
  }
  return { dim: D, c, mean: new Float64Array(D), basis, eigenvalues };
}

/** Y = X·C (n×p) for the one-hot code X and the feature-major D×p matrix C. */
function project(code: SparseCode, C: Float64Array, p: number, Y: Float64Array): void {
  const { n, V, k, ids } = code;
  Y.fill(0);
  for (let i = 0; i < n; i++) {
    const base = i * V;
    const yo = i * p;
    for (let v = 0; v < V; v++) {
      const o = (v * k + ids[base + v]!) * p;
      for (let j = 0; j < p; j++) Y[yo + j]! += C[o + j]!;
    }
  }
}

/** The embedding's linear map for the chosen output step; the one place that switch lives. */
export function fitOutputStep(code: SparseCode, step: TOutputStep, c: number, seed: number): PcaModel {
  if (step === 'toolbox') return fitToolboxPca(code, c, seed);
  return fitPcaOnCodes(code, c, seed, { centre: step === 'centred-pca' });
}
