import { streamFor, type Rng } from './rng.ts';

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

  // K, CK: D×m, feature-major (one nonzero touches a contiguous run of a row); Y: n×b scratch
  const K = new Float64Array(D * m);
  const CK = new Float64Array(D * m);
  const Y = new Float64Array(n * b);
  const mq = new Float64Array(b);
  const Qb = new Float64Array(D * b);
  const P = new Float64Array(m * b);
  for (let f = 0; f < D; f++) for (let j = 0; j < b; j++) K[f * m + j] = 2 * rng.nextFloat() - 1;
  orthonormalizeBlock(K, D, m, 0, b, rng, P);

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
      applyCovariance(code, mean, K, CK, m, col, w, Y, mq, Qb);
      const next = col + w;
      if (next >= m) break;
      const w2 = Math.min(b, m - next);
      for (let f = 0; f < D; f++) {
        const o = f * m;
        for (let j = 0; j < w2; j++) K[o + next + j] = CK[o + col + j]!;
      }
      orthonormalizeBlock(K, D, m, next, w2, rng, P);
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
    orthonormalizeBlock(K, D, m, 0, b, rng, P);
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
 * feature-major), with Y (n×≥w), mq (≥w) and Qb (D×≥w) as scratch.
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
  Qb: Float64Array,
): void {
  const { n, V, k, ids } = code;
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
  for (let i = 0; i < n; i++) {
    const base = i * V;
    const yo = i * w;
    for (let j = 0; j < w; j++) Y[yo + j] = -mq[j]!;
    for (let v = 0; v < V; v++) {
      const qo = (v * k + ids[base + v]!) * w;
      for (let j = 0; j < w; j++) Y[yo + j]! += Qb[qo + j]!;
    }
  }
  Qb.fill(0, 0, D * w);
  for (let i = 0; i < n; i++) {
    const base = i * V;
    const yo = i * w;
    for (let v = 0; v < V; v++) {
      const zo = (v * k + ids[base + v]!) * w;
      for (let j = 0; j < w; j++) Qb[zo + j]! += Y[yo + j]!;
    }
  }
  const inv = 1 / n;
  for (let f = 0; f < D; f++) {
    const o = f * m + col;
    const qo = f * w;
    for (let j = 0; j < w; j++) CK[o + j] = Qb[qo + j]! * inv;
  }
}

/** T = AᵀB for D×b matrices A, B (row-major) */
function gramAtB(A: Float64Array, B: Float64Array, D: number, b: number, T: Float64Array): void {
  T.fill(0);
  for (let f = 0; f < D; f++) {
    const o = f * b;
    for (let i = 0; i < b; i++) {
      const a = A[o + i]!;
      if (a === 0) continue;
      const to = i * b;
      for (let j = 0; j < b; j++) T[to + j]! += a * B[o + j]!;
    }
  }
}

/** A (D×b) · W (b×w) → D×w */
function multiplyBy(A: Float64Array, D: number, b: number, W: Float64Array, w: number): Float64Array {
  const out = new Float64Array(D * w);
  for (let f = 0; f < D; f++) {
    const ao = f * b;
    const oo = f * w;
    for (let i = 0; i < b; i++) {
      const a = A[ao + i]!;
      if (a === 0) continue;
      const wo = i * w;
      for (let j = 0; j < w; j++) out[oo + j]! += a * W[wo + j]!;
    }
  }
  return out;
}

/**
 * Orthonormalises columns [from, from+w) of the D×stride matrix A in place against the
 * (orthonormal) columns [0, from) and each other: block classical Gram–Schmidt against the
 * earlier columns (row-wise passes, cache friendly) plus modified Gram–Schmidt inside the
 * block, all done twice ("twice is enough"). A column numerically in the span of the
 * earlier ones (rank deficiency, an exhausted Krylov space) is replaced by a fresh random
 * vector from `rng` and orthogonalised column by column. P (≥ from·w) is scratch.
 */
export function orthonormalizeBlock(
  A: Float64Array,
  D: number,
  stride: number,
  from: number,
  w: number,
  rng: Rng,
  P: Float64Array = new Float64Array(from * w),
): void {
  const norm0 = new Float64Array(w);
  for (let j = 0; j < w; j++) norm0[j] = columnNorm(A, D, stride, from + j);
  for (let pass = 0; pass < 2; pass++) {
    if (from > 0) {
      P.fill(0, 0, from * w);
      for (let f = 0; f < D; f++) {
        const o = f * stride;
        for (let i = 0; i < from; i++) {
          const a = A[o + i]!;
          if (a === 0) continue;
          const po = i * w;
          for (let j = 0; j < w; j++) P[po + j]! += a * A[o + from + j]!;
        }
      }
      for (let f = 0; f < D; f++) {
        const o = f * stride;
        for (let i = 0; i < from; i++) {
          const a = A[o + i]!;
          if (a === 0) continue;
          const po = i * w;
          for (let j = 0; j < w; j++) A[o + from + j]! -= a * P[po + j]!;
        }
      }
    }
    for (let j = 0; j < w; j++) {
      const cj = from + j;
      // columns from..cj−1 are already unit in this pass
      for (let i = 0; i < j; i++) projectOut(A, D, stride, from + i, cj);
      let norm = columnNorm(A, D, stride, cj);
      for (let attempt = 0; !(norm0[j]! > 0 && norm > 1e-10 * norm0[j]!); attempt++) {
        if (attempt > 50) throw new Error(`orthonormalizeBlock: cannot complete a basis of ${cj + 1} columns in dimension ${D}`);
        for (let f = 0; f < D; f++) A[f * stride + cj] = 2 * rng.nextFloat() - 1;
        norm0[j] = columnNorm(A, D, stride, cj);
        for (let again = 0; again < 2; again++) for (let i = 0; i < cj; i++) projectOut(A, D, stride, i, cj);
        norm = columnNorm(A, D, stride, cj);
      }
      const inv = 1 / norm;
      for (let f = 0; f < D; f++) A[f * stride + cj] = A[f * stride + cj]! * inv;
      norm0[j] = 1;
    }
  }
}

/** column t −= (column sᵀ column t)·column s (column s assumed unit or zero) */
function projectOut(A: Float64Array, D: number, stride: number, s: number, t: number): void {
  let dot = 0;
  for (let f = 0; f < D; f++) dot += A[f * stride + s]! * A[f * stride + t]!;
  if (dot === 0) return;
  for (let f = 0; f < D; f++) A[f * stride + t]! -= dot * A[f * stride + s]!;
}

function columnNorm(A: Float64Array, D: number, stride: number, j: number): number {
  let s = 0;
  for (let f = 0; f < D; f++) s += A[f * stride + j]! * A[f * stride + j]!;
  return Math.sqrt(s);
}

/**
 * Cyclic Jacobi eigen-decomposition of the symmetric m×m matrix A (row-major, destroyed).
 * Writes eigenvalues to `values` (unsorted) and eigenvectors as the columns of `vectors`.
 */
export function jacobiEigen(A: Float64Array, m: number, values: Float64Array, vectors: Float64Array): void {
  vectors.fill(0);
  for (let i = 0; i < m; i++) vectors[i * m + i] = 1;
  let total = 0;
  for (let i = 0; i < m * m; i++) total += A[i]! * A[i]!;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < m; p++) for (let q = p + 1; q < m; q++) off += A[p * m + q]! * A[p * m + q]!;
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < m - 1; p++) {
      for (let q = p + 1; q < m; q++) {
        const apq = A[p * m + q]!;
        if (apq === 0) continue;
        const app = A[p * m + p]!;
        const aqq = A[q * m + q]!;
        // rotation angle that zeroes A[p][q] (Golub & Van Loan, sym.schur2)
        const tau = (aqq - app) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const cs = 1 / Math.sqrt(1 + t * t);
        const sn = t * cs;
        for (let r = 0; r < m; r++) {
          const arp = A[r * m + p]!;
          const arq = A[r * m + q]!;
          A[r * m + p] = cs * arp - sn * arq;
          A[r * m + q] = sn * arp + cs * arq;
        }
        for (let r = 0; r < m; r++) {
          const apr = A[p * m + r]!;
          const aqr = A[q * m + r]!;
          A[p * m + r] = cs * apr - sn * aqr;
          A[q * m + r] = sn * apr + cs * aqr;
        }
        for (let r = 0; r < m; r++) {
          const vrp = vectors[r * m + p]!;
          const vrq = vectors[r * m + q]!;
          vectors[r * m + p] = cs * vrp - sn * vrq;
          vectors[r * m + q] = sn * vrp + cs * vrq;
        }
      }
    }
  }
  for (let i = 0; i < m; i++) values[i] = A[i * m + i]!;
}

/** indices sorting `values` descending, ties by lower index */
function sortDescending(values: Float64Array, order: Int32Array): void {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  order.set(idx);
}

/** the first w columns of W (m×m) in the given order, as an m×w matrix */
function permuteColumns(W: Float64Array, m: number, order: Int32Array, w: number): Float64Array {
  const out = new Float64Array(m * w);
  for (let r = 0; r < m; r++) for (let j = 0; j < w; j++) out[r * w + j] = W[r * m + order[j]!]!;
  return out;
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
