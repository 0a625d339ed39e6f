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
  /** rows per backend call; default the backend's blockRows(k), else defaultBlockRows(k) (4Mi scores) */
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

/**
 * The centre side of a nearest-centre problem, computed once and reusable for any number of calls
 * (MBN's predict labels many batches against the same clusterings): the transposed centres the
 * GEMM reads, h in float64 (exact rescoring) and float32 (backend input), and the maxima the error
 * bound needs. The row-major centres are not kept: the exact rescoring reads ct, in the same
 * (feature-ascending) summation order, so it gives the same float64 scores.
 */
export interface DenseCentres {
  k: number;
  d: number;
  kernel: DenseKernel;
  /** d × k, row-major: ct[l*k + j] is feature l of centre j */
  ct: Float32Array;
  h64: Float64Array;
  h32: Float32Array;
  cmax: number;
  hmax: number;
}

function checkKernel(kernel: DenseKernel): void {
  if (kernel !== 'euclidean' && kernel !== 'linear') throw new RangeError(`unknown kernel ${String(kernel)}`);
}

function finishCentres(ct: Float32Array, c2: Float64Array, k: number, d: number, kernel: DenseKernel): DenseCentres {
  const h64 = new Float64Array(k);
  const h32 = new Float32Array(k);
  let cmax2 = 0;
  let hmax = 0;
  for (let j = 0; j < k; j++) {
    const s = c2[j]!;
    if (s > cmax2) cmax2 = s;
    const hj = kernel === 'euclidean' ? s / 2 : 0;
    h64[j] = hj;
    h32[j] = hj;
    if (hj > hmax) hmax = hj;
  }
  return { k, d, kernel, ct, h64, h32, cmax: Math.sqrt(cmax2), hmax };
}

/** DenseCentres from k row-major centres of dimension d. */
export function prepareDenseCentres(centres: Float32Array, k: number, d: number, kernel: DenseKernel): DenseCentres {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`d must be a positive integer, got ${d}`);
  if (!Number.isInteger(k) || k < 1 || k > 65536) throw new RangeError(`k must be in 1..65536 (Uint16 ids), got ${k}`);
  if (centres.length < k * d) throw new RangeError(`centres has ${centres.length} values, need k*d = ${k * d}`);
  checkKernel(kernel);
  const ct = new Float32Array(d * k);
  const c2 = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const co = j * d;
    let s = 0;
    for (let l = 0; l < d; l++) {
      const c = centres[co + l]!;
      s += c * c;
      ct[l * k + j] = c;
    }
    c2[j] = s;
  }
  return finishCentres(ct, c2, k, d, kernel);
}

/** Centres gathered per tile: TILE source rows are read side by side, so ct is written in runs of TILE. */
const GATHER_TILE = 16;

/**
 * DenseCentres straight from source rows: centre j is row rows[j] of src (cols wide) restricted to
 * the columns `features`. The same values and |c|² (float64, features ascending) as gathering the
 * row-major centres and calling prepareDenseCentres, in one pass instead of two.
 */
export function gatherDenseCentres(
  src: Uint8Array | Float32Array,
  cols: number,
  rows: ArrayLike<number>,
  features: Uint32Array,
  kernel: DenseKernel,
): DenseCentres {
  const k = rows.length;
  const d = features.length;
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`need at least one feature, got ${d}`);
  if (!Number.isInteger(k) || k < 1 || k > 65536) throw new RangeError(`k must be in 1..65536 (Uint16 ids), got ${k}`);
  checkKernel(kernel);
  const srcRows = Math.floor(src.length / cols);
  for (let j = 0; j < k; j++) if (!(rows[j]! < srcRows)) throw new RangeError(`centre row ${rows[j]} out of range 0..${srcRows - 1}`);
  for (let l = 0; l < d; l++) if (!(features[l]! < cols)) throw new RangeError(`feature ${features[l]} out of range 0..${cols - 1}`);
  const ct = new Float32Array(d * k);
  const c2 = new Float64Array(k);
  const base = new Int32Array(GATHER_TILE);
  for (let j0 = 0; j0 < k; j0 += GATHER_TILE) {
    const nt = Math.min(GATHER_TILE, k - j0);
    for (let t = 0; t < nt; t++) base[t] = rows[j0 + t]! * cols;
    for (let l = 0; l < d; l++) {
      const f = features[l]!;
      const o = l * k + j0;
      for (let t = 0; t < nt; t++) {
        const c = src[base[t]! + f]!;
        ct[o + t] = c;
        c2[j0 + t]! += c * c;
      }
    }
  }
  // float32 source values round-trip through ct unchanged, so c*c above used the same values.
  return finishCentres(ct, c2, k, d, kernel);
}

/** Exact score of row x[xo..xo+d) against centre j, float64, fixed summation order (features ascending). */
function exactScore(x: Float32Array, xo: number, ct: Float32Array, j: number, d: number, k: number, h64: Float64Array): number {
  let s = 0;
  for (let l = 0; l < d; l++) s += x[xo + l]! * ct[l * k + j]!;
  return s - h64[j]!;
}

/**
 * Exact scores of row x[xo..xo+d) against every centre, into acc: per centre the same additions in
 * the same order as exactScore, but walking ct row by row (sequential reads instead of stride k).
 */
function exactScoresAll(x: Float32Array, xo: number, ct: Float32Array, d: number, k: number, h64: Float64Array, acc: Float64Array): void {
  acc.fill(0);
  for (let l = 0; l < d; l++) {
    const xl = x[xo + l]!;
    const o = l * k;
    for (let j = 0; j < k; j++) acc[j]! += xl * ct[o + j]!;
  }
  for (let j = 0; j < k; j++) acc[j]! -= h64[j]!;
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
  checkKernel(kernel);
  if (n > 0 && (outOffset < 0 || outStride < 0 || (n - 1) * outStride + outOffset >= out.length)) {
    throw new RangeError(`out (length ${out.length}) too short for stride ${outStride}, offset ${outOffset}, n ${n}`);
  }
  if (n === 0) return;
  await nearestCentresDensePrepared(backend, x, n, prepareDenseCentres(centres, k, d, kernel), out, outStride, outOffset, options);
}

/** nearestCentresDense with the centre side prepared beforehand (prepareDenseCentres / gatherDenseCentres). */
export async function nearestCentresDensePrepared(
  backend: DenseBackend,
  x: Float32Array,
  n: number,
  prepared: DenseCentres,
  out: Uint16Array,
  outStride: number,
  outOffset: number,
  options: NearestCentresDenseOptions = {},
): Promise<void> {
  const { k, d, ct, h64, h32, cmax, hmax } = prepared;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (x.length < n * d) throw new RangeError(`x has ${x.length} values, need n*d = ${n * d}`);
  if (n > 0 && (outOffset < 0 || outStride < 0 || (n - 1) * outStride + outOffset >= out.length)) {
    throw new RangeError(`out (length ${out.length}) too short for stride ${outStride}, offset ${outOffset}, n ${n}`);
  }
  if (n === 0) return;
  const gamma = 1.01 * (d + 2) * backend.unitRoundoff;
  let all: Float64Array | undefined;

  const blockRows = options.blockRows ?? backend.blockRows?.(k) ?? defaultBlockRows(k);
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
          all ??= new Float64Array(k);
          exactScoresAll(x, xo, ct, d, k, h64, all);
          for (let j = 0; j < k; j++) {
            const s = all[j]!;
            if (s > bestScore) {
              bestScore = s;
              best = j;
            }
          }
        } else {
          for (let t = 0; t < K && values[to + t]! >= threshold; t++) {
            const j = indices[to + t]!;
            const s = exactScore(x, xo, ct, j, d, k, h64);
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
