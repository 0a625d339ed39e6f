/** `cmbn predict --model DIR` where DIR holds a student (saved by `train --distill` or pulled). */
import { extname } from 'node:path';
import { loadDataset, writeMatrix } from '@cmbn/data';
import { DEFAULT_PREDICT_PRECISION, loadStudent, readStudentMeta } from '@cmbn/distill';
import { clusteringMetrics } from '@cmbn/metrics';
import { createStudentLabeler, isCentroidHead } from '@cmbn/pipeline';
import { printJson } from '../output.ts';
import { CliError } from '../errors.ts';
import type { PredictCliOptions } from './predict.ts';

/** Rows: the embedding columns (embedding students only), then the label. */
async function writeStudentPredictions(path: string, labels: Int32Array, values: Float32Array | undefined, dim: number): Promise<void> {
  const n = labels.length;
  const c = values ? dim : 0;
  const rows = new Float64Array(n * (c + 1));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) rows[i * (c + 1) + j] = values![i * dim + j]!;
    rows[i * (c + 1) + c] = labels[i]!;
  }
  await writeMatrix(path, { rows: n, cols: c + 1, dtype: 'float64', data: rows });
}

export async function runStudentPredict(o: PredictCliOptions): Promise<void> {
  if (o.out) {
    const ext = extname(o.out).toLowerCase();
    if (ext !== '.npy' && ext !== '.csv') throw new CliError(`--out must end in .npy or .csv, got ${o.out}`);
  }
  const student = await loadStudent(o.model);
  const meta = await readStudentMeta(o.model);
  const head = isCentroidHead(meta.head) ? meta.head : undefined;
  const ds = await loadDataset(o.dataset, { labels: o.labels, limit: o.limit });
  const labeler = await createStudentLabeler(student, {
    ...(head ? { head } : {}),
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    ...(o.precision !== undefined ? { precision: o.precision } : {}),
  });
  let result;
  let seconds;
  try {
    // Warm-up on a few rows: onnxruntime sizes its buffers on the first run.
    await labeler.predict({ ...ds.x, rows: Math.min(64, ds.x.rows), data: ds.x.data.subarray(0, Math.min(64, ds.x.rows) * ds.x.cols) } as typeof ds.x);
    const t0 = performance.now();
    result = await labeler.predict(ds.x);
    seconds = (performance.now() - t0) / 1000;
  } finally {
    await labeler.dispose();
  }
  const dim = student.signature.output.size;
  if (o.out) await writeStudentPredictions(o.out, result.labels, result.values, dim);
  const summary: Record<string, unknown> = {
    points: ds.x.rows,
    seconds: Number(seconds.toFixed(4)),
    pointsPerSecond: Number((ds.x.rows / seconds).toFixed(2)),
    model: 'student',
    runtime: 'onnxruntime',
    precision: o.precision ?? DEFAULT_PREDICT_PRECISION,
    hidden: student.layers.slice(0, -1).map((l) => l.outDim),
    target: student.signature.output.kind,
  };
  if (typeof meta.mbnModelHash === 'string') summary.mbnModelHash = meta.mbnModelHash;
  if (ds.labels) {
    const m = clusteringMetrics(ds.labels, result.labels);
    Object.assign(summary, { acc: m.acc, nmi: m.nmi, ari: m.ari });
  }
  if (o.out) summary.out = o.out;
  if (o.json) printJson(summary);
  else {
    process.stderr.write(
      `student predicted ${ds.x.rows} points in ${summary.seconds}s (${summary.pointsPerSecond} points/s, onnxruntime)\n` +
        (ds.labels ? `acc ${(summary.acc as number).toFixed(4)}  nmi ${(summary.nmi as number).toFixed(4)}\n` : '') +
        (o.out ? `wrote ${o.out}\n` : ''),
    );
  }
}
