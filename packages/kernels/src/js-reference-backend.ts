/**
 * Plain-loop DenseBackend: the baseline for benchmarks, the oracle in tests, and the fallback when
 * onnxruntime-node cannot load. Sums run in float64 (more accurate than any float32 GEMM, so the
 * driver's float32 error bound holds a fortiori) and are stored as float32 like a GEMM backend's.
 */
import { checkTopKArgs, topKFor, type DenseBackend, type TopKResult } from './dense-backend.ts';

export class JsReferenceDenseBackend implements DenseBackend {
  readonly name = 'js-reference';
  readonly unitRoundoff = 2 ** -24;

  async topK(x: Float32Array, n: number, d: number, ct: Float32Array, h: Float32Array, k: number): Promise<TopKResult> {
    checkTopKArgs(x, n, d, ct, h, k);
    const K = topKFor(k);
    const values = new Float32Array(n * K);
    const indices = new Int32Array(n * K);
    const scores = new Float64Array(k);
    const bestV = new Float64Array(K);
    const bestI = new Int32Array(K);
    for (let i = 0; i < n; i++) {
      // Row of x times ct, walking ct row by row so the inner loop is contiguous.
      for (let j = 0; j < k; j++) scores[j] = -h[j]!;
      const xo = i * d;
      for (let l = 0; l < d; l++) {
        const xl = x[xo + l]!;
        if (xl === 0) continue;
        const co = l * k;
        for (let j = 0; j < k; j++) scores[j]! += xl * ct[co + j]!;
      }
      // Insertion into a K-long sorted list; strict '>' keeps the lower index first among equals.
      let filled = 0;
      for (let j = 0; j < k; j++) {
        const s = Math.fround(scores[j]!);
        if (filled === K && !(s > bestV[K - 1]!)) continue;
        let p = filled < K ? filled++ : K - 1;
        while (p > 0 && s > bestV[p - 1]!) {
          bestV[p] = bestV[p - 1]!;
          bestI[p] = bestI[p - 1]!;
          p--;
        }
        bestV[p] = s;
        bestI[p] = j;
      }
      for (let t = 0; t < K; t++) {
        values[i * K + t] = bestV[t]!;
        indices[i * K + t] = bestI[t]!;
      }
    }
    return { values, indices, K };
  }

  async dispose(): Promise<void> {}
}
