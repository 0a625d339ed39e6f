import type { StudentHead } from '@cmbn/mbn';

/**
 * Soft cluster targets from MBN's embedding: p_ij ∝ exp(−‖e_i − c_j‖² / (T·g)), where c_j are the
 * k-means centroids and g is the mean gap between each point's second-nearest and nearest squared
 * distance. Dividing by g makes T scale-free: at T = 1 a point with the average margin gives its
 * runner-up cluster e⁻¹ of the winner's weight. argmax_j p_ij is exactly MBN's label (nearest
 * centroid), so the soft targets only add the margin information that hard labels throw away.
 */
export function softClusterTargets(embedding: Float64Array, n: number, dim: number, centroids: Float64Array, k: number, temperature: number): Float32Array {
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  const d2 = new Float64Array(n * k);
  let gapSum = 0;
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    let second = Infinity;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let t = 0; t < dim; t++) {
        const diff = embedding[i * dim + t]! - centroids[j * dim + t]!;
        s += diff * diff;
      }
      d2[i * k + j] = s;
      if (s < best) {
        second = best;
        best = s;
      } else if (s < second) second = s;
    }
    gapSum += Number.isFinite(second) ? second - best : 0;
  }
  const scale = 1 / (temperature * Math.max(gapSum / Math.max(1, n), 1e-12));
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let min = Infinity;
    for (let j = 0; j < k; j++) min = Math.min(min, d2[i * k + j]!);
    let z = 0;
    for (let j = 0; j < k; j++) z += Math.exp(-(d2[i * k + j]! - min) * scale);
    for (let j = 0; j < k; j++) out[i * k + j] = Math.exp(-(d2[i * k + j]! - min) * scale) / z;
  }
  return out;
}

/**
 * Soft targets from the MBN application's student head (@cmbn/mbn studentHeadOf): the one place a
 * new head kind says how its margins become soft targets. 'nearest-centroid' is softClusterTargets.
 */
export function softTargetsFromHead(embedding: Float64Array, n: number, dim: number, head: StudentHead, temperature: number): Float32Array {
  switch (head.kind) {
    case 'nearest-centroid':
      if (head.centroids.length !== head.k * dim) throw new RangeError(`head has ${head.centroids.length} centroid values, need ${head.k}×${dim}`);
      return softClusterTargets(embedding, n, dim, head.centroids, head.k, temperature);
  }
}
