import { contingency } from './contingency.ts';

const pairs = (x: number): number => (x * (x - 1)) / 2;

/**
 * Adjusted Rand index (Hubert & Arabie 1985):
 * ARI = (Σij C(nij,2) − E) / (½(Σi C(ai,2) + Σj C(bj,2)) − E),  E = Σi C(ai,2)·Σj C(bj,2) / C(n,2).
 * When the denominator is 0 (both labelings all-singletons or both single-cluster) the
 * partitions are identical and the result is 1, as in scikit-learn.
 */
export function ari(truth: Int32Array, pred: Int32Array): number {
  const t = contingency(truth, pred);
  let sumComb = 0;
  for (let i = 0; i < t.counts.length; i++) sumComb += pairs(t.counts[i]!);
  let sumA = 0;
  for (let i = 0; i < t.rows; i++) sumA += pairs(t.rowSums[i]!);
  let sumB = 0;
  for (let j = 0; j < t.cols; j++) sumB += pairs(t.colSums[j]!);
  const total = pairs(t.n);
  if (total === 0) return 1; // n = 1
  const expected = (sumA * sumB) / total;
  const maxIndex = (sumA + sumB) / 2;
  const denom = maxIndex - expected;
  if (denom === 0) return 1;
  return (sumComb - expected) / denom;
}
