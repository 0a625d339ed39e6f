import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { TConfusion, TRunEmbedding } from '@cmbn/api';
import { jacobiEigen } from '@cmbn/mbn';
import { confusionMatrix as metricsConfusion } from '@cmbn/metrics';

/**
 * The projector's 2-D view of a run's embedding (n × c, MBN's PCA output): the first two principal
 * components of the embedding itself, so the plot is the best 2-D linear view whatever c is. The
 * c × c covariance costs n·c² (70,000 × 10² ≈ 7 M multiply-adds); the coordinator runs it on a
 * worker thread (projectRunInThread) once per run and caches it.
 * Deterministic: fixed summation order in float64, cyclic Jacobi (MBN's), each axis' largest-|.| loading
 * made positive.
 */
export interface Projection2d {
  n: number;
  x: Float32Array;
  y: Float32Array;
  /** Share of the embedding's total variance on each axis. */
  explained: [number, number];
}

/**
 * Eigen-decomposition of a symmetric c×c matrix (row-major, overwritten) with MBN's own cyclic
 * Jacobi (@cmbn/mbn jacobiEigen): eigenvalues descending (ties by lower index), vectors as rows,
 * each vector's largest-|.| loading made positive so the plot's orientation is fixed.
 */
export function symmetricEigen(a: Float64Array, c: number): { values: Float64Array; vectors: Float64Array } {
  const raw = new Float64Array(c);
  const cols = new Float64Array(c * c);
  jacobiEigen(a, c, raw, cols);
  const order = Array.from({ length: c }, (_, i) => i).sort((i, j) => raw[j]! - raw[i]! || i - j);
  const values = new Float64Array(c);
  const vectors = new Float64Array(c * c);
  order.forEach((col, r) => {
    values[r] = raw[col]!;
    let big = 0;
    for (let k = 0; k < c; k++) if (Math.abs(cols[k * c + col]!) > Math.abs(big)) big = cols[k * c + col]!;
    const s = big < 0 ? -1 : 1;
    for (let k = 0; k < c; k++) vectors[r * c + k] = s * cols[k * c + col]!;
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

/** The contract's confusion matrix (@cmbn/api ZConfusion): rows are true classes, columns clusters in matched order. */
export type Confusion = TConfusion;

/**
 * The confusion matrix of MBN's clusters against the true labels in the contract's shape, from
 * @cmbn/metrics confusionMatrix (columns in matched order, so the diagonal holds the hits ACC
 * counts; a class no cluster matched gets an empty column, cluster id −1).
 */
export function confusionMatrix(truth: Int32Array, clusters: Int32Array): Confusion {
  const m = metricsConfusion(truth, clusters);
  const classes = [...new Set(truth)].sort((a, b) => a - b);
  const ids = [...new Set(clusters)].sort((a, b) => a - b);
  return {
    classes,
    clusters: Array.from(m.columnCluster, (j) => (j < 0 ? -1 : ids[j]!)),
    counts: Array.from({ length: m.rows }, (_, r) => Array.from(m.counts.subarray(r * m.cols, (r + 1) * m.cols))),
  };
}

/** Everything the projector's two routes answer with, computed once per run's embedding. */
export interface ProjectedRun {
  n: number;
  c: number;
  x: Float32Array;
  y: Float32Array;
  explained: TRunEmbedding['projection']['explained'];
  /** [min, max] of x and of y; null when there are no points (no ±Infinity reaches JSON). */
  bounds: TRunEmbedding['projection']['bounds'];
  clusters: Int32Array;
  truth: Int32Array | null;
  clusterSizes: TRunEmbedding['clusterSizes'];
  confusion: Confusion | null;
}

/** The 2-D projection, its bounds, the cluster sizes and (with true labels) the confusion matrix of one run's embedding. */
export function projectRun(emb: Float64Array, n: number, c: number, clusters: Int32Array, truth: Int32Array | null): ProjectedRun {
  const { x, y, explained } = project2d(emb, n, c);
  let bounds: ProjectedRun['bounds'] = null;
  if (n > 0) {
    let [x0, x1, y0, y1] = [x[0]!, x[0]!, y[0]!, y[0]!];
    for (let i = 1; i < n; i++) {
      if (x[i]! < x0) x0 = x[i]!;
      if (x[i]! > x1) x1 = x[i]!;
      if (y[i]! < y0) y0 = y[i]!;
      if (y[i]! > y1) y1 = y[i]!;
    }
    bounds = { x: [x0, x1], y: [y0, y1] };
  }
  const sizes = new Map<number, number>();
  for (const k of clusters) sizes.set(k, (sizes.get(k) ?? 0) + 1);
  const clusterSizes = [...sizes.entries()].sort((a, b) => a[0] - b[0]).map(([cluster, count]) => ({ cluster, count }));
  return { n, c, x, y, explained, bounds, clusters, truth, clusterSizes, confusion: truth ? confusionMatrix(truth, clusters) : null };
}

interface ProjectTask {
  task: 'console-projection';
  emb: Float64Array;
  n: number;
  c: number;
  clusters: Int32Array;
  truth: Int32Array | null;
}

/**
 * projectRun on a worker thread. Its cost grows as n·c² (the covariance) plus n for the confusion
 * matrix: at n = 70,000 that is 7 M multiply-adds at c = 10 and 175 M at c = 50, tens of ms to
 * seconds of synchronous CPU that would stall every other request, SSE stream and queue event of
 * the coordinator's event loop. Starting the thread costs more wall time than a small projection
 * does; it is paid once per run's embedding, since the result is cached (console-api.ts). The
 * inputs are copied to the thread (they may be views on buffers others hold, so they are not
 * transferred); the result is transferred back. Same code, same bits.
 */
export async function projectRunInThread(emb: Float64Array, n: number, c: number, clusters: Int32Array, truth: Int32Array | null): Promise<ProjectedRun> {
  const data: ProjectTask = { task: 'console-projection', emb, n, c, clusters, truth };
  // Imported here, not at the top: the thread loads this module too, and needs none of @cmbn/mbn.
  const { tsBootScript } = await import('@cmbn/mbn');
  return new Promise<ProjectedRun>((resolve, reject) => {
    const thread = new Worker(tsBootScript(import.meta.url), { eval: true, workerData: data });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
    };
    thread.once('message', (m: { ok: true; result: ProjectedRun } | { ok: false; message: string }) =>
      settle(() => (m.ok ? resolve(m.result) : reject(new Error(`projecting the embedding failed: ${m.message}`)))),
    );
    thread.once('error', (err) => settle(() => reject(err)));
    thread.once('exit', (code) => settle(() => reject(new Error(`the projection thread exited (code ${code}) without a result`))));
  });
}

// The thread's side: this module is its entry (tsBootScript(import.meta.url) above); only a thread
// started with this task runs it, so importing the module anywhere else does nothing.
if (!isMainThread && (workerData as Partial<ProjectTask> | null)?.task === 'console-projection') {
  const t = workerData as ProjectTask;
  try {
    const result = projectRun(t.emb, t.n, t.c, t.clusters, t.truth);
    const out = [result.x.buffer, result.y.buffer, result.clusters.buffer, ...(result.truth ? [result.truth.buffer] : [])];
    parentPort!.postMessage({ ok: true, result }, [...new Set(out)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer));
  } catch (err) {
    parentPort!.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
  }
}
