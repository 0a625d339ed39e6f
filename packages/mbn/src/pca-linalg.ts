/**
 * The dense linear algebra of the output step's PCA (pca.ts, pca-toolbox.ts): the implicit Gram
 * product over a one-hot code, block Gram–Schmidt, a small Jacobi eigensolver. Every kernel keeps
 * each floating-point sum's terms in a fixed order, so results are the same bits on every run;
 * the tiled and generated loops are measured hot paths (`npm run bench:finish`).
 */
import type { SparseCode } from './pca.ts';
import type { Rng } from './rng.ts';

/**
 * Z += Xᵀ(X·B + 1·initᵀ) for the one-hot code X and the feature-major D×w block B, with Y
 * (n×≥w) as scratch: Y = 1·initᵀ + X·B (row i: init + Σ_v B[f_iv], v ascending), then
 * Z[f_iv] += Y[i] (rows i ascending). Both passes go over the clusterings in chunks whose rows
 * of B (and Z) fit in L2 — v·k + id lands in chunk v's own k rows — so the random row reads hit
 * cache, while Y streams. Every element still sums in the original order (a row of Y over v
 * ascending, chunk after chunk; Z[f] belongs to one clustering, so it takes its rows i
 * ascending), so the bits are those of the unchunked loops. The loop is generated per w (≤ 32)
 * so a row's w running sums stay in locals.
 */
export function codeGram(code: SparseCode, B: Float64Array, w: number, init: Float64Array, Z: Float64Array, Y: Float64Array): void {
  const { n, V, k, ids } = code;
  if (Y.length < n * w) throw new Error(`codeGram: Y has ${Y.length} entries, need n·w = ${n * w}`);
  const chunk = Math.max(1, Math.min(V, Math.floor(GRAM_CHUNK_BYTES / (k * w * 8))));
  for (let i = 0; i < n; i++) for (let j = 0; j < w; j++) Y[i * w + j] = init[j]!;
  if (w <= MAX_UNROLLED_W) {
    (gramKernels[w] ??= unrolledGramKernel(w))(ids, n, V, k, B, Y, Z, chunk);
    return;
  }
  for (let v0 = 0; v0 < V; v0 += chunk) {
    const v1 = Math.min(V, v0 + chunk);
    for (let i = 0; i < n; i++) {
      const base = i * V;
      const yo = i * w;
      for (let v = v0; v < v1; v++) {
        const o = (v * k + ids[base + v]!) * w;
        for (let j = 0; j < w; j++) Y[yo + j]! += B[o + j]!;
      }
    }
  }
  for (let v0 = 0; v0 < V; v0 += chunk) {
    const v1 = Math.min(V, v0 + chunk);
    for (let i = 0; i < n; i++) {
      const base = i * V;
      const yo = i * w;
      for (let v = v0; v < v1; v++) {
        const o = (v * k + ids[base + v]!) * w;
        for (let j = 0; j < w; j++) Z[o + j]! += Y[yo + j]!;
      }
    }
  }
}

/** Bytes of B's (or Z's) rows one chunk of clusterings touches: well inside a 1 MiB L2. */
const GRAM_CHUNK_BYTES = 384 * 1024;
const MAX_UNROLLED_W = 32;
type GramKernel = (ids: Uint16Array, n: number, V: number, k: number, B: Float64Array, Y: Float64Array, Z: Float64Array, chunk: number) => void;
const gramKernels: GramKernel[] = [];

function unrolledGramKernel(w: number): GramKernel {
  const js = Array.from({ length: w }, (_, j) => j);
  const rows = (body: string) => `
for (let v0 = 0; v0 < V; v0 += chunk) {
  const v1 = Math.min(V, v0 + chunk);
  for (let i = 0, base = 0, yo = 0; i < n; i++, base += V, yo += ${w}) {
    ${body}
  }
}`;
  const gather = rows(`${js.map((j) => `let y${j} = Y[yo + ${j}];`).join(' ')}
    for (let v = v0, fk = v0 * k; v < v1; v++, fk += k) {
      const o = (fk + ids[base + v]) * ${w};
      ${js.map((j) => `y${j} += B[o + ${j}];`).join(' ')}
    }
    ${js.map((j) => `Y[yo + ${j}] = y${j};`).join(' ')}`);
  const scatter = rows(`${js.map((j) => `const y${j} = Y[yo + ${j}];`).join(' ')}
    for (let v = v0, fk = v0 * k; v < v1; v++, fk += k) {
      const o = (fk + ids[base + v]) * ${w};
      ${js.map((j) => `Z[o + ${j}] += y${j};`).join(' ')}
    }`);
  return new Function('ids', 'n', 'V', 'k', 'B', 'Y', 'Z', 'chunk', gather + scatter) as GramKernel;
}

/**
 * T = AᵀB for D×b matrices A, B (row-major): T[i][j] = Σ_f A[f][i]·B[f][j], f ascending, a zero
 * A[f][i] skipped. Done in tiles of GRAM_TILE rows (the tile's A and B rows stay in L1) and four
 * j at a time in locals, each T[i][j] carried from tile to tile, so every element still takes its
 * terms in f order, as the plain row-by-row loop does, without a load and store of T per term.
 */
export function gramAtB(A: Float64Array, B: Float64Array, D: number, b: number, T: Float64Array): void {
  T.fill(0);
  const j4 = b - (b % 4);
  for (let f0 = 0; f0 < D; f0 += GRAM_TILE) {
    const f1 = Math.min(D, f0 + GRAM_TILE);
    for (let i = 0; i < b; i++) {
      const to = i * b;
      for (let j = 0; j < j4; j += 4) {
        let s0 = T[to + j]!;
        let s1 = T[to + j + 1]!;
        let s2 = T[to + j + 2]!;
        let s3 = T[to + j + 3]!;
        for (let f = f0, o = f0 * b; f < f1; f++, o += b) {
          const a = A[o + i]!;
          if (a === 0) continue;
          s0 += a * B[o + j]!;
          s1 += a * B[o + j + 1]!;
          s2 += a * B[o + j + 2]!;
          s3 += a * B[o + j + 3]!;
        }
        T[to + j] = s0;
        T[to + j + 1] = s1;
        T[to + j + 2] = s2;
        T[to + j + 3] = s3;
      }
      for (let j = j4; j < b; j++) {
        let s0 = T[to + j]!;
        for (let f = f0, o = f0 * b; f < f1; f++, o += b) {
          const a = A[o + i]!;
          if (a !== 0) s0 += a * B[o + j]!;
        }
        T[to + j] = s0;
      }
    }
  }
}

const GRAM_TILE = 16;

/** A (D×b) · W (b×w) → D×w */
export function multiplyBy(A: Float64Array, D: number, b: number, W: Float64Array, w: number): Float64Array {
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
 *
 * The modified Gram–Schmidt works on a column-major copy of the block (S, w×D), so its
 * column-by-column dots and updates run over contiguous memory instead of one cache line per
 * element at A's stride; the copy is exact and the operations and their order are unchanged.
 */
export function orthonormalizeBlock(
  A: Float64Array,
  D: number,
  stride: number,
  from: number,
  w: number,
  rng: Rng,
  P: Float64Array = new Float64Array(from * w),
  S: Float64Array = new Float64Array(w * D),
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
    for (let f = 0; f < D; f++) {
      const o = f * stride + from;
      for (let j = 0; j < w; j++) S[j * D + f] = A[o + j]!;
    }
    for (let j = 0; j < w; j++) {
      const sj = j * D;
      // columns from..from+j−1 are already unit in this pass
      for (let i = 0; i < j; i++) projectOut(S, i * D, 1, S, sj, D);
      let norm = columnNorm(S, D, 1, sj);
      for (let attempt = 0; !(norm0[j]! > 0 && norm > 1e-10 * norm0[j]!); attempt++) {
        if (attempt > 50) throw new Error(`orthonormalizeBlock: cannot complete a basis of ${from + j + 1} columns in dimension ${D}`);
        for (let f = 0; f < D; f++) S[sj + f] = 2 * rng.nextFloat() - 1;
        norm0[j] = columnNorm(S, D, 1, sj);
        for (let again = 0; again < 2; again++) {
          for (let i = 0; i < from; i++) projectOut(A, i, stride, S, sj, D);
          for (let i = 0; i < j; i++) projectOut(S, i * D, 1, S, sj, D);
        }
        norm = columnNorm(S, D, 1, sj);
      }
      const inv = 1 / norm;
      for (let f = 0; f < D; f++) S[sj + f] = S[sj + f]! * inv;
      norm0[j] = 1;
    }
    for (let f = 0; f < D; f++) {
      const o = f * stride + from;
      for (let j = 0; j < w; j++) A[o + j] = S[j * D + f]!;
    }
  }
}

/**
 * Column t (contiguous, T[to + f]) −= (column sᵀ column t)·column s, column s being
 * A[so + f·ss] (assumed unit or zero).
 */
function projectOut(A: Float64Array, so: number, ss: number, T: Float64Array, to: number, D: number): void {
  let dot = 0;
  for (let f = 0; f < D; f++) dot += A[so + f * ss]! * T[to + f]!;
  if (dot === 0) return;
  for (let f = 0; f < D; f++) T[to + f]! -= dot * A[so + f * ss]!;
}

/** ‖column‖ of the column A[o + f·stride], f < D. */
function columnNorm(A: Float64Array, D: number, stride: number, o: number): number {
  let s = 0;
  for (let f = 0; f < D; f++) s += A[o + f * stride]! * A[o + f * stride]!;
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
export function sortDescending(values: Float64Array, order: Int32Array): void {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  order.set(idx);
}

/** the first w columns of W (m×m) in the given order, as an m×w matrix */
export function permuteColumns(W: Float64Array, m: number, order: Int32Array, w: number): Float64Array {
  const out = new Float64Array(m * w);
  for (let r = 0; r < m; r++) for (let j = 0; j < w; j++) out[r * w + j] = W[r * m + order[j]!]!;
  return out;
}

