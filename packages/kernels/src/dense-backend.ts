/**
 * The contract between the exact nearest-centre driver and whatever computes the float32 GEMM.
 * A backend only has to be a float32 GEMM with unit roundoff `unitRoundoff`; exactness is restored
 * by `nearestCentresDense`, so backends are free to reorder, block and thread their sums.
 */

/** Row-major n×K top candidates, best first. */
export interface TopKResult {
  values: Float32Array;
  indices: Int32Array;
  K: number;
}

export interface DenseBackend {
  /** e.g. 'onnxruntime-cpu' | 'js-reference' */
  readonly name: string;
  /** 2**-24 for float32 GEMM backends; scales the verification margin. */
  readonly unitRoundoff: number;
  /**
   * Top-K (K = min(4, k)) of `s_j = x_i·c_j − h_j` for each row of x (n×d), with ct the d×k transposed
   * centres and h of length k. Ties inside the top K may come in any order; the driver handles them.
   */
  topK(x: Float32Array, n: number, d: number, ct: Float32Array, h: Float32Array, k: number): Promise<TopKResult>;
  /**
   * Rows per topK call at k centres when the caller sets none. Unset, the driver bounds each call's
   * n×k score block to 4Mi floats (defaultBlockRows), which a backend that materialises the whole
   * block (ORT) needs; one that scores in cache-sized tiles of its own (the OpenBLAS addon) has no
   * such block and does better with more rows per call.
   */
  blockRows?(k: number): number;
  dispose(): Promise<void>;
}

/** How many candidates a backend returns: enough for the margin test to usually settle the row. */
export const TOP_K = 4;

export function topKFor(k: number): number {
  return Math.min(TOP_K, k);
}

export function checkTopKArgs(x: Float32Array, n: number, d: number, ct: Float32Array, h: Float32Array, k: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`d must be a positive integer, got ${d}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (x.length < n * d) throw new RangeError(`x has ${x.length} values, need n*d = ${n * d}`);
  if (ct.length !== d * k) throw new RangeError(`ct has ${ct.length} values, need d*k = ${d * k}`);
  if (h.length !== k) throw new RangeError(`h has ${h.length} values, need k = ${k}`);
}
