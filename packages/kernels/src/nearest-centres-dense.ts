/**
 * Exact nearest centre for dense rows, on top of a fast but inexact float32 GEMM backend.
 *
 * Score s_j = x·c_j − h_j with h_j = |c_j|²/2 (euclidean: argmax s = argmin |x − c_j|²) or 0 (linear).
 *
 * Why the answer is exact: a float32 dot product of length d, computed in any order (blocked, FMA,
 * threaded), errs by at most γ_d·Σ_l|x_l c_jl| ≤ γ_d·|x|·|c_j| (Cauchy–Schwarz), γ_d ≈ d·u; rounding h
 * to float32 and the Sub add ≤ 2u·(|x||c_j| + h_j). So every backend score is within
 *   E_i = 1.01·(d+2)·u·(|x_i|·cmax + hmax)
 * of the real score (cmax = max_j |c_j|, hmax = max_j h_j, norms in float64; 1.01 absorbs the
 * rounding of the bound itself). Two scores more than 2E_i apart are therefore ordered correctly;
 * we use 4E_i for slack. If top1 − top2 > 4E_i, top1 is the exact argmax. Otherwise every candidate
 * whose backend score is ≥ top1 − 4E_i is rescored in float64 (a sequential loop over the float32
 * values in index order), and if even the K-th candidate is inside the margin some centre outside
 * the top K may be too, so all k centres are rescored. The max float64 score wins, ties → lowest j.
 *
 * float32×float32 products are exact in float64, so the rescoring is exact whenever the partial
 * sums fit in 53 bits (always for uint8-valued data like MNIST), and otherwise still a fixed,
 * order-defined function of the float32 inputs. Either way the result does not depend on which
 * backend, BLAS or thread count produced the candidates: shards computed anywhere agree bit for bit.
 */
import type { DenseBackend } from './dense-backend.ts';

export type DenseKernel = 'euclidean' | 'linear';

/** Counters filled by nearestCentresDense (accumulated, so one object can span many calls). */
export interface DenseStats {
  rows: number;
  /** rows whose top-2 gap was inside the margin and were rescored in float64 */
  rescoredRows: number;
  /** of those, rows where all k centres had to be rescored */
  fullRescoredRows: number;
}

export function createDenseStats(): DenseStats {
  return { rows: 0, rescoredRows: 0, fullRescoredRows: 0 };
}

export interface NearestCentresDenseOptions {
  /** rows per backend call; default bounds the backend's internal n×k score block to 4Mi floats */
  blockRows?: number;
  stats?: DenseStats;
}

/**
 * The backend writes, subtracts and top-Ks an n×k float32 score block. At 32Mi floats (the previous
 * bound: 6710 rows × k=5000, 134 MB) two single-threaded processes on the 2-core reference machine
 * slowed each other by 15–20% per clustering through memory traffic (MBN's bottom layer, n=10000,
 * k=5000, 392 features: 460 ms alone, 525–549 ms side by side), while 1024-row blocks (20 MB) ran
 * at 421–456 ms either way; 512–1024 rows were as fast alone as 6710. 4Mi floats is 838 rows there.
 */
const MAX_BLOCK_SCORES = 4 * 1024 * 1024;
const MAX_BLOCK_ROWS = 8192;

export function defaultBlockRows(k: number): number {
  return Math.max(1, Math.min(MAX_BLOCK_ROWS, Math.floor(MAX_BLOCK_SCORES / k)));
}

/** Exact score of row x[xo..xo+d) against centre j, float64, fixed summation order. */
function exactScore(x: Float32Array, xo: number, centres: Float32Array, j: number, d: number, h64: Float64Array): number {
  const co = j * d;
  let s = 0;
  for (let l = 0; l < d; l++) s += x[xo + l]! * centres[co + l]!;
  return s - h64[j]!;
}

export async function nearestCentresDense(
  backend: DenseBackend,
  x: Float32Array,
  n: number,
  d: number,
  centres: Float32Array,
  k: number,
  kernel: DenseKernel,
  out: Uint16Array,
  outStride: number,
  outOffset: number,
  options: NearestCentresDenseOptions = {},
): Promise<void> {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`d must be a positive integer, got ${d}`);
  if (!Number.isInteger(k) || k < 1 || k > 65536) throw new RangeError(`k must be in 1..65536 (Uint16 ids), got ${k}`);
  if (x.length < n * d) throw new RangeError(`x has ${x.length} values, need n*d = ${n * d}`);
  if (centres.length < k * d) throw new RangeError(`centres has ${centres.length} values, need k*d = ${k * d}`);
  if (kernel !== 'euclidean' && kernel !== 'linear') throw new RangeError(`unknown kernel ${String(kernel)}`);
  if (n > 0 && (outOffset < 0 || outStride < 0 || (n - 1) * outStride + outOffset >= out.length)) {
    throw new RangeError(`out (length ${out.length}) too short for stride ${outStride}, offset ${outOffset}, n ${n}`);
  }
  if (n === 0) return;

  // Centre-side quantities, once per call: transposed centres for the GEMM, h in float64 (exact
  // rescoring) and float32 (backend input), and the maxima the error bound needs.
  const ct = new Float32Array(d * k);
  const h64 = new Float64Array(k);
  const h32 = new Float32Array(k);
  let cmax2 = 0;
  let hmax = 0;
  for (let j = 0; j < k; j++) {
    const co = j * d;
    let c2 = 0;
    for (let l = 0; l < d; l++) {
      const c = centres[co + l]!;
      c2 += c * c;
      ct[l * k + j] = c;
    }
    if (c2 > cmax2) cmax2 = c2;
    const hj = kernel === 'euclidean' ? c2 / 2 : 0;
    h64[j] = hj;
    h32[j] = hj;
    if (hj > hmax) hmax = hj;
  }
  const cmax = Math.sqrt(cmax2);
  const gamma = 1.01 * (d + 2) * backend.unitRoundoff;

  const blockRows = options.blockRows ?? defaultBlockRows(k);
  if (!Number.isInteger(blockRows) || blockRows < 1) throw new RangeError(`blockRows must be a positive integer, got ${blockRows}`);
  const stats = options.stats;
  let rescored = 0;
  let fullRescored = 0;

  for (let r0 = 0; r0 < n; r0 += blockRows) {
    const nb = Math.min(blockRows, n - r0);
    const xb = x.subarray(r0 * d, (r0 + nb) * d);
    const { values, indices, K } = await backend.topK(xb, nb, d, ct, h32, k);
    for (let b = 0; b < nb; b++) {
      const i = r0 + b;
      const xo = i * d;
      const to = b * K;
      const top1 = values[to]!;
      let best = indices[to]!;
      let x2 = 0;
      for (let l = 0; l < d; l++) {
        const v = x[xo + l]!;
        x2 += v * v;
      }
      const margin = 4 * gamma * (Math.sqrt(x2) * cmax + hmax);
      // K === 1 means k === 1: nothing to compare against. NaN scores fail '>' and get rescored.
      if (K > 1 && !(top1 - values[to + 1]! > margin)) {
        rescored++;
        const threshold = top1 - margin;
        let bestScore = -Infinity;
        best = -1;
        if (K < k && values[to + K - 1]! >= threshold) {
          // A centre outside the top K may also be inside the margin: rescore them all.
          fullRescored++;
          for (let j = 0; j < k; j++) {
            const s = exactScore(x, xo, centres, j, d, h64);
            if (s > bestScore) {
              bestScore = s;
              best = j;
            }
          }
        } else {
          for (let t = 0; t < K && values[to + t]! >= threshold; t++) {
            const j = indices[to + t]!;
            const s = exactScore(x, xo, centres, j, d, h64);
            if (s > bestScore || (s === bestScore && j < best)) {
              bestScore = s;
              best = j;
            }
          }
        }
        if (best < 0) best = indices[to]!; // all-NaN row: keep the backend's choice
      }
      out[i * outStride + outOffset] = best;
    }
  }
  if (stats) {
    stats.rows += n;
    stats.rescoredRows += rescored;
    stats.fullRescoredRows += fullRescored;
  }
}
