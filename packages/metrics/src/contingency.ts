/**
 * Contingency table of two labelings. Labels may be any non-negative integers; they are
 * remapped to dense ids in ascending label order so the table (and everything derived
 * from it) does not depend on the label values themselves.
 */
export interface Contingency {
  n: number;
  /** number of distinct truth labels (rows) */
  rows: number;
  /** number of distinct predicted labels (cols) */
  cols: number;
  /** rows×cols row-major counts */
  counts: Float64Array;
  /** row sums (class sizes) */
  rowSums: Float64Array;
  /** column sums (cluster sizes) */
  colSums: Float64Array;
}

/** Dense ids for arbitrary non-negative integer labels; returns the ids and the number of distinct labels. */
export function denseLabels(labels: Int32Array, what: string): { ids: Int32Array; count: number } {
  const n = labels.length;
  const sorted = Int32Array.from(labels).sort();
  if (n > 0 && sorted[0]! < 0) {
    throw new Error(`${what} labels must be non-negative integers (found ${sorted[0]})`);
  }
  const uniq: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = sorted[i]!;
    if (i === 0 || v !== sorted[i - 1]) uniq.push(v);
  }
  const map = new Map<number, number>();
  for (let j = 0; j < uniq.length; j++) map.set(uniq[j]!, j);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = map.get(labels[i]!)!;
  return { ids, count: uniq.length };
}

export function checkLabelings(truth: Int32Array, pred: Int32Array): void {
  if (truth.length !== pred.length) {
    throw new Error(`label arrays differ in length: truth has ${truth.length}, pred has ${pred.length}`);
  }
  if (truth.length === 0) throw new Error('label arrays are empty');
}

export function contingency(truth: Int32Array, pred: Int32Array): Contingency {
  checkLabelings(truth, pred);
  const t = denseLabels(truth, 'truth');
  const p = denseLabels(pred, 'pred');
  const rows = t.count;
  const cols = p.count;
  const counts = new Float64Array(rows * cols);
  const rowSums = new Float64Array(rows);
  const colSums = new Float64Array(cols);
  const n = truth.length;
  for (let i = 0; i < n; i++) {
    const a = t.ids[i]!;
    const b = p.ids[i]!;
    counts[a * cols + b]! += 1;
    rowSums[a]! += 1;
    colSums[b]! += 1;
  }
  return { n, rows, cols, counts, rowSums, colSums };
}
