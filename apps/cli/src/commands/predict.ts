import { extname } from 'node:path';
import { loadDataset, writeMatrix, type Dataset } from '@cmbn/data';
import { clusteringMetrics } from '@cmbn/metrics';
import { createMbnPredictor, loadModel } from '@cmbn/mbn';
import { isStudentDir } from '@cmbn/distill';
import { printJson } from '../output.ts';
import { runStudentPredict } from './predict-student.ts';
import { CliError } from '../errors.ts';

export interface PredictCliOptions {
  model: string;
  dataset: string;
  labels?: string;
  limit?: number;
  out?: string;
  threads?: number;
  json?: boolean;
  /** Student models only. */
  precision?: 'fp32' | 'int8';
}

/**
 * Writes one row per point: the c embedding columns (none for a labels-only student), then the
 * cluster label. The --out extension was checked before any work started.
 */
export async function writePredictions(path: string, labels: Int32Array, embedding: Float64Array | Float32Array | undefined, c: number): Promise<void> {
  const n = labels.length;
  const w = embedding ? c : 0;
  const rows = new Float64Array(n * (w + 1));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < w; j++) rows[i * (w + 1) + j] = embedding![i * c + j]!;
    rows[i * (w + 1) + w] = labels[i]!;
  }
  await writeMatrix(path, { rows: n, cols: w + 1, dtype: 'float64', data: rows });
}

export async function runPredict(o: PredictCliOptions): Promise<void> {
  if (o.out) {
    const ext = extname(o.out).toLowerCase();
    if (ext !== '.npy' && ext !== '.csv') throw new CliError(`--out must end in .npy or .csv, got ${o.out}`);
  }
  if (await isStudentDir(o.model)) return runStudentPredict(o);
  const { model, modelHash } = await loadModel(o.model);
  const ds = await loadDataset(o.dataset, { labels: o.labels, limit: o.limit });
  // The threaded predictor (each thread a share of every layer's clusterings): the same bytes as
  // predict(), 2.7× its points/s on 2,000 test digits (bench:predict).
  const t0 = performance.now();
  const predictor = createMbnPredictor(model, o.threads !== undefined ? { threads: o.threads } : {});
  let result;
  try {
    result = await predictor.predict(ds.x);
  } finally {
    await predictor.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (o.out) await writePredictions(o.out, result.labels, result.embedding, model.pca.c);
  const summary: Record<string, unknown> = {
    points: ds.x.rows,
    seconds: Number(seconds.toFixed(4)),
    pointsPerSecond: Number((ds.x.rows / seconds).toFixed(2)),
    model: 'mbn',
    modelHash,
    backend: predictor.backend ?? 'unknown',
    threads: predictor.threads,
  };
  reportPrediction(o, ds, result.labels, summary, `predicted ${ds.x.rows} points in ${String(summary.seconds)}s (${String(summary.pointsPerSecond)} points/s, ${predictor.threads} threads, ${String(summary.backend)})`);
}

/**
 * Both predict commands' ending: ACC/NMI/ARI when the data carry labels, then the summary as one JSON
 * object (--json) or as lines on stderr, `headline` first.
 */
export function reportPrediction(o: Pick<PredictCliOptions, 'out' | 'json'>, ds: Dataset, labels: Int32Array, summary: Record<string, unknown>, headline: string): void {
  if (ds.labels) {
    const m = clusteringMetrics(ds.labels, labels);
    Object.assign(summary, { acc: m.acc, nmi: m.nmi, ari: m.ari });
  }
  if (o.out) summary.out = o.out;
  if (o.json) return printJson(summary);
  process.stderr.write(
    `${headline}\n` +
      (ds.labels ? `acc ${(summary.acc as number).toFixed(4)}  nmi ${(summary.nmi as number).toFixed(4)}\n` : '') +
      (o.out ? `wrote ${o.out}\n` : ''),
  );
}
