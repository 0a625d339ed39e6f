import { contingency, type Contingency } from './contingency.ts';
import { hungarian } from './hungarian.ts';

/**
 * Clustering accuracy: the fraction of points correctly labelled under the best one-to-one
 * map from predicted clusters to classes (Hungarian on the contingency table, maximising
 * matches). Extra clusters or classes stay unmatched and count as errors.
 */
export function clusteringAccuracy(truth: Int32Array, pred: Int32Array): number {
  const t = contingency(truth, pred);
  const match = bestMatch(t);
  let hits = 0;
  for (let r = 0; r < t.rows; r++) {
    const c = match[r]!;
    if (c >= 0) hits += t.counts[r * t.cols + c]!;
  }
  return hits / t.n;
}

/**
 * ACC's map: for each class (row of the table), the cluster matched to it, or -1 when there are
 * more classes than clusters and it is left without one (Hungarian, maximising the matched counts).
 */
export function bestMatch(t: Contingency): Int32Array {
  // maximise matches = minimise (max − count); a constant shift keeps costs non-negative.
  let max = 0;
  for (let i = 0; i < t.counts.length; i++) if (t.counts[i]! > max) max = t.counts[i]!;
  const cost = new Float64Array(t.counts.length);
  for (let i = 0; i < cost.length; i++) cost[i] = max - t.counts[i]!;
  return hungarian(cost, t.rows, t.cols);
}
