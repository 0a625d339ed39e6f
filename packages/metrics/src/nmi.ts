import { contingency } from './contingency.ts';

/**
 * Normalized mutual information with arithmetic-mean normalisation (scikit-learn's default):
 * NMI = MI / ((H(truth) + H(pred)) / 2), natural logs (the base cancels).
 * Both labelings single-cluster → 1 (identical partitions); MI = 0 otherwise → 0.
 */
export function nmi(truth: Int32Array, pred: Int32Array): number {
  const t = contingency(truth, pred);
  if (t.rows === 1 && t.cols === 1) return 1;
  const n = t.n;
  let mi = 0;
  for (let a = 0; a < t.rows; a++) {
    const ra = t.rowSums[a]!;
    for (let b = 0; b < t.cols; b++) {
      const nab = t.counts[a * t.cols + b]!;
      if (nab === 0) continue;
      mi += (nab / n) * Math.log((n * nab) / (ra * t.colSums[b]!));
    }
  }
  if (mi <= 0) return 0; // rounding can give a tiny negative MI for independent labelings
  const ht = entropy(t.rowSums, n);
  const hp = entropy(t.colSums, n);
  const v = mi / ((ht + hp) / 2);
  return v > 1 ? 1 : v;
}

function entropy(sizes: Float64Array, n: number): number {
  let h = 0;
  for (let i = 0; i < sizes.length; i++) {
    const s = sizes[i]!;
    if (s > 0) h -= (s / n) * Math.log(s / n);
  }
  return h;
}
