import { contingency } from './contingency.ts';
import { hungarian } from './hungarian.ts';

/**
 * Clustering accuracy: the fraction of points correctly labelled under the best one-to-one
 * map from predicted clusters to classes (Hungarian on the contingency table, maximising
 * matches). Extra clusters or classes stay unmatched and count as errors.
 */
export function clusteringAccuracy(truth: Int32Array, pred: Int32Array): number {
  const t = contingency(truth, pred);
  // maximise matches = minimise (max − count); a constant shift keeps costs non-negative.
  let max = 0;
  for (let i = 0; i < t.counts.length; i++) if (t.counts[i]! > max) max = t.counts[i]!;
  const cost = new Float64Array(t.counts.length);
  for (let i = 0; i < cost.length; i++) cost[i] = max - t.counts[i]!;
  const match = hungarian(cost, t.rows, t.cols);
  let hits = 0;
  for (let r = 0; r < t.rows; r++) {
    const c = match[r]!;
    if (c >= 0) hits += t.counts[r * t.cols + c]!;
  }
  return hits / t.n;
}
