import { contingency, hungarian } from '@cmbn/metrics';

/**
 * The projector's 2-D view of a run's embedding (n × c, MBN's PCA output): the first two principal
 * components of the embedding itself, so the plot is the best 2-D linear view whatever c is. The
 * c × c covariance costs n·c² (70,000 × 10² ≈ 7 M multiply-adds), so it is computed per request.
 * Deterministic: fixed summation order in float64, cyclic Jacobi, each axis' largest-|.| loading
 * made positive.
 */
export interface Projection2d {
  n: number;
  x: Float32Array;
  y: Float32Array;
  /** Share of the embedding's total variance on each axis. */
  explained: [number, number];
}

/** Eigen-decomposition of a symmetric c×c matrix (row-major, overwritten): eigenvalues descending, vectors as rows. */
export function symmetricEigen(a: Float64Array, c: number): { values: Float64Array; vectors: Float64Array } {
  const v = new Float64Array(c * c);
  for (let i = 0; i < c; i++) v[i * c + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < c; p++) for (let q = p + 1; q < c; q++) off += a[p * c + q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < c; p++) {
      for (let q = p + 1; q < c; q++) {
        const apq = a[p * c + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * c + q]! - a[p * c + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1);
        const sn = t * cs;
        for (let k = 0; k < c; k++) {
          // A ← JᵀAJ on rows/columns p and q; V ← VJ (columns of V are the eigenvectors).
          const akp = a[k * c + p]!;
          const akq = a[k * c + q]!;
          a[k * c + p] = cs * akp - sn * akq;
          a[k * c + q] = sn * akp + cs * akq;
        }
        for (let k = 0; k < c; k++) {
          const apk = a[p * c + k]!;
          const aqk = a[q * c + k]!;
          a[p * c + k] = cs * apk - sn * aqk;
          a[q * c + k] = sn * apk + cs * aqk;
        }
        for (let k = 0; k < c; k++) {
          const vkp = v[k * c + p]!;
          const vkq = v[k * c + q]!;
          v[k * c + p] = cs * vkp - sn * vkq;
          v[k * c + q] = sn * vkp + cs * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: c }, (_, i) => i).sort((i, j) => a[j * c + j]! - a[i * c + i]! || i - j);
  const values = new Float64Array(c);
  const vectors = new Float64Array(c * c);
  order.forEach((col, r) => {
    values[r] = a[col * c + col]!;
    let big = 0;
    for (let k = 0; k < c; k++) if (Math.abs(v[k * c + col]!) > Math.abs(big)) big = v[k * c + col]!;
    const s = big < 0 ? -1 : 1;
    for (let k = 0; k < c; k++) vectors[r * c + k] = s * v[k * c + col]!;
  });
  return { values, vectors };
}

export function project2d(emb: Float64Array, n: number, c: number): Projection2d {
  if (emb.length !== n * c) throw new Error(`embedding has ${emb.length} values, expected ${n}×${c}`);
  const mean = new Float64Array(c);
  for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) mean[j]! += emb[i * c + j]!;
  for (let j = 0; j < c; j++) mean[j]! /= Math.max(n, 1);
  const cov = new Float64Array(c * c);
  const row = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) row[j] = emb[i * c + j]! - mean[j]!;
    for (let p = 0; p < c; p++) for (let q = p; q < c; q++) cov[p * c + q]! += row[p]! * row[q]!;
  }
  for (let p = 0; p < c; p++) for (let q = p; q < c; q++) cov[q * c + p] = cov[p * c + q]! /= Math.max(n, 1);
  let total = 0;
  for (let j = 0; j < c; j++) total += cov[j * c + j]!;
  const { values, vectors } = symmetricEigen(cov, c);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sx = 0;
    let sy = 0;
    for (let j = 0; j < c; j++) {
      const d = emb[i * c + j]! - mean[j]!;
      sx += d * vectors[j]!;
      if (c > 1) sy += d * vectors[c + j]!;
    }
    x[i] = sx;
    y[i] = sy;
  }
  const share = (v: number | undefined) => (total > 0 && v !== undefined ? Math.max(0, v) / total : 0);
  return { n, x, y, explained: [share(values[0]), share(values[1])] };
}

export interface Confusion {
  /** True label values, one per row, ascending. */
  classes: number[];
  /** Cluster ids, one per column: the cluster the Hungarian match gives row r sits in column r, then the unmatched ones ascending. */
  clusters: number[];
  /** rows × cols counts. */
  counts: number[][];
}

/** The confusion matrix of MBN's clusters against the true labels, columns in matched order so the diagonal holds the hits ACC counts. */
export function confusionMatrix(truth: Int32Array, clusters: Int32Array): Confusion {
  const t = contingency(truth, clusters);
  const classes = [...new Set(truth)].sort((a, b) => a - b);
  const ids = [...new Set(clusters)].sort((a, b) => a - b);
  let max = 0;
  for (const v of t.counts) if (v > max) max = v;
  const match = hungarian(t.counts.map((v) => max - v), t.rows, t.cols);
  const colOrder: number[] = [];
  for (let r = 0; r < t.rows; r++) if (match[r]! >= 0) colOrder.push(match[r]!);
  for (let j = 0; j < t.cols; j++) if (!colOrder.includes(j)) colOrder.push(j);
  return {
    classes,
    clusters: colOrder.map((j) => ids[j]!),
    counts: Array.from({ length: t.rows }, (_, r) => colOrder.map((j) => t.counts[r * t.cols + j]!)),
  };
}
