import { bestMatch } from './accuracy.ts';
import { contingency } from './contingency.ts';

/**
 * The confusion matrix of a clustering after ACC's best one-to-one map (Hungarian): row r is
 * truth class r (dense ids, ascending label order), column r the cluster matched to class r;
 * unmatched clusters follow (an unmatched class gets an empty column). Its trace / n is the clustering accuracy, and its large
 * off-diagonal cells show which classes the clustering merges.
 */
export interface ConfusionMatrix {
  rows: number;
  cols: number;
  /** rows×cols row-major counts */
  counts: Int32Array;
  /** columnCluster[c] = the dense predicted id shown in column c (−1: an empty column for an unmatched class) */
  columnCluster: Int32Array;
}

export function confusionMatrix(truth: Int32Array, pred: Int32Array): ConfusionMatrix {
  const t = contingency(truth, pred);
  const match = bestMatch(t);
  const order: number[] = [];
  const used = new Uint8Array(t.cols);
  for (let r = 0; r < t.rows; r++) {
    const c = match[r]!;
    // A class left without a cluster (more classes than clusters) gets an empty column (-1).
    order.push(c >= 0 ? c : -1);
    if (c >= 0) used[c] = 1;
  }
  for (let c = 0; c < t.cols; c++) if (!used[c]) order.push(c);
  const cols = order.length;
  const counts = new Int32Array(t.rows * cols);
  for (let r = 0; r < t.rows; r++) {
    for (let j = 0; j < cols; j++) counts[r * cols + j] = order[j]! < 0 ? 0 : t.counts[r * t.cols + order[j]!]!;
  }
  return { rows: t.rows, cols, counts, columnCluster: Int32Array.from(order) };
}
