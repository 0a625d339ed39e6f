import { codeGram, gramAtB, jacobiEigen, multiplyBy, orthonormalizeBlock, permuteColumns, sortDescending } from './pca-linalg.ts';
import { streamFor } from './rng.ts';

/**
 * PCA of a layer's sparse one-hot code without ever forming the n×D matrix.
 *
 * Row i of X has a one at feature v*k + ids[i*V+v] for each v (D = V·k). The covariance
 * C = XᵀX/n − μμᵀ (population normalisation, μ = column means) is applied implicitly:
 * C·Q = Xᵀ(X·Q − 1·(μᵀQ))/n, i.e. two passes over the n·V nonzeros per block product,
 * O(n·V·b) time with block size b = min(c + 10, D).
 *
 * The top c directions come from a randomized, restarted block Krylov method (block
 * Lanczos with full re-orthogonalisation): starting from a random D×b block (drawn from
 * streamFor(seed, 0xC0DE)), each cycle builds the orthonormal basis K of
 * [Q, CQ, …, C^(q−1)Q] (Gram–Schmidt, twice), solves the Rayleigh–Ritz problem KᵀCK with a
 * small symmetric Jacobi eigensolver and restarts from the top-b Ritz vectors, until the
 * top-c Ritz pairs have residual ‖Cu − λu‖ ≤ tol·λ₁ or maxIter cycles. (Plain subspace
 * iteration needed > 100 iterations on codes whose c-th eigenvalue sits in the noise bulk;
 * the Krylov basis gets there in ~8 cycles of q ≈ 6 block products.)
 * Everything runs in a fixed order in float64, and each basis vector's largest-|.|
 * component (lowest index on ties) is made positive, so the result is deterministic.
 */
export interface SparseCode {
  n: number;
  V: number;
  k: number;
  ids: Uint16Array;
}

export interface PcaModel {
  /** input dimension D = V·k */
  dim: number;
  c: number;
  /** column means of the one-hot code (D) */
  mean: Float64Array;
  /** c×D row-major; unit, mutually orthogonal rows, by decreasing eigenvalue */
  basis: Float64Array;
  /** the c largest eigenvalues of XᵀX/n − μμᵀ, descending, clamped at 0 */
  eigenvalues: Float64Array;
}

export interface PcaOptions {
  /** maximum restart cycles (default 100); each costs q ≈ 6 block products with C */
  maxIter?: number;
  /** relative Ritz residual at which to stop (default 1e-9) */
  tol?: number;
  /** extra block columns beyond c (default 10) */
  oversample?: number;
  /**
   * Subtract the column means (default true). false fits the top-c eigenvectors of the
   * uncentred second moment XᵀX/n and stores a zero mean, so the projection is uncentred too.
   */
  centre?: boolean;
}

export interface PcaFit {
  model: PcaModel;
  iterations: number;
  /** max over the c Ritz pairs of ‖Cu − λu‖ / λ₁ at the last iteration */
  residual: number;
}

export function checkCode(code: SparseCode): void {
  const { n, V, k, ids } = code;
  for (const [name, x] of [['n', n], ['V', V], ['k', k]] as const) {
    if (!Number.isInteger(x) || x < 1) throw new Error(`code.${name} must be a positive integer (got ${x})`);
  }
  if (ids.length !== n * V) throw new Error(`code.ids has ${ids.length} entries, expected n·V = ${n * V}`);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i]! >= k) throw new Error(`code.ids[${i}] = ${ids[i]} is not < k = ${k}`);
  }
}

/**
 * Fits the top-c principal directions. Requires 1 ≤ c ≤ D (throws otherwise). If c exceeds
 * the rank of the centred code (≤ min(n − 1, V·(k − 1))), the trailing eigenvalues are 0
 * and their directions are an arbitrary (but deterministic) orthonormal completion.
 */
export function fitPcaOnCodes(code: SparseCode, c: number, seed: number, opts: PcaOptions = {}): PcaModel {
  return fitPcaOnCodesDetailed(code, c, seed, opts).model;
}

export function fitPcaOnCodesDetailed(code: SparseCode, c: number, seed: number, opts: PcaOptions = {}): PcaFit {
  checkCode(code);
  const { n, V, k, ids } = code;
  const D = V * k;
  if (!Number.isInteger(c) || c < 1 || c > D) {
    throw new Error(`PCA dimension c = ${c} must be an integer in [1, D = ${D}] (D = V·k = ${V}·${k})`);
  }
  const maxIter = opts.maxIter ?? 100;
  const tol = opts.tol ?? 1e-9;
  const b = Math.min(c + (opts.oversample ?? 10), D);
  // Krylov depth: blocks Q, CQ, …, C^(q−1)Q, capped so the Rayleigh–Ritz problem stays small
  const q = Math.max(2, Math.min(6, Math.floor(120 / b)));
  const m = Math.min(q * b, D);
  const rng = streamFor(seed, 0xc0de);

  const mean = new Float64Array(D);
  if (opts.centre !== false) {
    for (let i = 0; i < n; i++) {
      const base = i * V;
      for (let v = 0; v < V; v++) mean[v * k + ids[base + v]!]! += 1;
    }
    for (let f = 0; f < D; f++) mean[f] = mean[f]! / n;
  }

  // K, CK: D×m, feature-major (one nonzero touches a contiguous run of a row); Y, mq, Qb, Z: scratch
  const K = new Float64Array(D * m);
  const CK = new Float64Array(D * m);
  const Y = new Float64Array(n * b);
  const mq = new Float64Array(b);
  const init = new Float64Array(b);
  const Qb = new Float64Array(D * b);
  const Z = new Float64Array(D * b);
  const P = new Float64Array(m * b);
  const S = new Float64Array(b * D);
  for (let f = 0; f < D; f++) for (let j = 0; j < b; j++) K[f * m + j] = 2 * rng.nextFloat() - 1;
  orthonormalizeBlock(K, D, m, 0, b, rng, P, S);

  const T = new Float64Array(m * m);
  const W = new Float64Array(m * m);
  const lambda = new Float64Array(m);
  const order = new Int32Array(m);
  let iterations = 0;
  let residual = Infinity;
  for (;;) {
    iterations++;
    // grow the block Krylov basis from the current start block K[:, 0:b]
    let col = 0;
    let w = b;
    for (;;) {
      applyCovariance(code, mean, K, CK, m, col, w, Y, mq, init, Qb, Z);
      const next = col + w;
      if (next >= m) break;
      const w2 = Math.min(b, m - next);
      for (let f = 0; f < D; f++) {
        const o = f * m;
        for (let j = 0; j < w2; j++) K[o + next + j] = CK[o + col + j]!;
      }
      orthonormalizeBlock(K, D, m, next, w2, rng, P, S);
      col = next;
      w = w2;
    }
    // Rayleigh–Ritz: T = Kᵀ(CK), symmetrised against rounding
    gramAtB(K, CK, D, m, T);
    for (let i = 0; i < m; i++) {
      for (let j = i + 1; j < m; j++) {
        const s = (T[i * m + j]! + T[j * m + i]!) / 2;
        T[i * m + j] = s;
        T[j * m + i] = s;
      }
    }
    jacobiEigen(T, m, lambda, W);
    sortDescending(lambda, order);
    const sortedW = permuteColumns(W, m, order, b);
    const sortedL = Float64Array.from(order.subarray(0, b), (o) => lambda[o]!);
    // Ritz vectors U = K·W (top b) and their images C·U = CK·W (C is linear)
    const U = multiplyBy(K, D, m, sortedW, b);
    const CU = multiplyBy(CK, D, m, sortedW, b);
    const scale = Math.max(sortedL[0]!, 0);
    residual = 0;
    for (let r = 0; r < c; r++) {
      let s = 0;
      for (let f = 0; f < D; f++) {
        const d = CU[f * b + r]! - sortedL[r]! * U[f * b + r]!;
        s += d * d;
      }
      residual = Math.max(residual, scale > 0 ? Math.sqrt(s) / scale : Math.sqrt(s));
    }
    if (residual <= tol || iterations >= maxIter || m === D) {
      return { model: finish(D, c, b, mean, U, sortedL), iterations, residual };
    }
    // thick restart from the top-b Ritz vectors (orthonormal up to rounding; re-orthonormalise)
    for (let f = 0; f < D; f++) for (let j = 0; j < b; j++) K[f * m + j] = U[f * b + j]!;
    orthonormalizeBlock(K, D, m, 0, b, rng, P, S);
  }
}

function finish(D: number, c: number, b: number, mean: Float64Array, U: Float64Array, lambda: Float64Array): PcaModel {
  const basis = new Float64Array(c * D);
  const eigenvalues = new Float64Array(c);
  for (let r = 0; r < c; r++) {
    let norm = 0;
    let best = 0;
    let bestAbs = -1;
    for (let f = 0; f < D; f++) {
      const x = U[f * b + r]!;
      norm += x * x;
      if (Math.abs(x) > bestAbs) {
        bestAbs = Math.abs(x);
        best = f;
      }
    }
    const s = (U[best * b + r]! < 0 ? -1 : 1) / Math.sqrt(norm);
    for (let f = 0; f < D; f++) basis[r * D + f] = s * U[f * b + r]!;
    eigenvalues[r] = Math.max(0, lambda[r]!);
  }
  return { dim: D, c, mean, basis, eigenvalues };
}

/**
 * CK[:, col:col+w] = C·K[:, col:col+w] = Xᵀ(X·B − 1·μᵀB)/n for the block B of K (both D×m,
 * feature-major), with Y (n×≥w), mq (≥w), init (≥w) and Qb, Z (D×≥w) as scratch.
 */
function applyCovariance(
  code: SparseCode,
  mean: Float64Array,
  K: Float64Array,
  CK: Float64Array,
  m: number,
  col: number,
  w: number,
  Y: Float64Array,
  mq: Float64Array,
  init: Float64Array,
  Qb: Float64Array,
  Z: Float64Array,
): void {
  const { V, k } = code;
  const D = V * k;
  // gather the block into contiguous D×w scratch (Qb) so the scattered row reads stay compact
  for (let f = 0; f < D; f++) {
    const o = f * m + col;
    const qo = f * w;
    for (let j = 0; j < w; j++) Qb[qo + j] = K[o + j]!;
  }
  mq.fill(0);
  for (let f = 0; f < D; f++) {
    const mu = mean[f]!;
    if (mu === 0) continue;
    const qo = f * w;
    for (let j = 0; j < w; j++) mq[j]! += mu * Qb[qo + j]!;
  }
  for (let j = 0; j < w; j++) init[j] = -mq[j]!;
  Z.fill(0, 0, D * w);
  codeGram(code, Qb, w, init, Z, Y);
  const inv = 1 / code.n;
  for (let f = 0; f < D; f++) {
    const o = f * m + col;
    const qo = f * w;
    for (let j = 0; j < w; j++) CK[o + j] = Z[qo + j]! * inv;
  }
}

/**
 * n×c embedding (x − μ)·basis_r, computed as Σ_v basis_r[f_iv] (v ascending) minus the
 * precomputed μ·basis_r (f ascending). The order is fixed, so the same code row always
 * gives bit-identical coordinates, in training and in prediction.
 */
export function projectCodes(code: SparseCode, pca: PcaModel, out?: Float64Array): Float64Array {
  checkCode(code);
  const { n, V, k, ids } = code;
  const { dim: D, c, basis, mean } = pca;
  if (V * k !== D) throw new Error(`projectCodes: code has D = V·k = ${V * k} features, PCA expects ${D}`);
  const res = out ?? new Float64Array(n * c);
  if (res.length < n * c) throw new Error(`projectCodes: out has ${res.length} entries, need ${n * c}`);
  const meanProj = new Float64Array(c);
  const basisT = new Float64Array(D * c);
  for (let r = 0; r < c; r++) {
    let s = 0;
    for (let f = 0; f < D; f++) {
      const x = basis[r * D + f]!;
      s += mean[f]! * x;
      basisT[f * c + r] = x;
    }
    meanProj[r] = s;
  }
  for (let i = 0; i < n; i++) {
    const o = i * c;
    const base = i * V;
    for (let r = 0; r < c; r++) res[o + r] = 0;
    for (let v = 0; v < V; v++) {
      const bo = (v * k + ids[base + v]!) * c;
      for (let r = 0; r < c; r++) res[o + r]! += basisT[bo + r]!;
    }
    for (let r = 0; r < c; r++) res[o + r]! -= meanProj[r]!;
  }
  return res;
}
