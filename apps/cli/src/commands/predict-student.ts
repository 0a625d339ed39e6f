/** `cmbn predict --model DIR` where DIR holds a student (saved by `train --distill` or pulled). */
import { loadDataset } from '@cmbn/data';
import { DEFAULT_PREDICT_PRECISION, hiddenWidths, loadStudent, MLP, readStudentMeta } from '@cmbn/distill';
import { createStudentLabeler, headOfStudentMeta } from '@cmbn/pipeline';
import { reportPrediction, writePredictions, type PredictCliOptions } from './predict.ts';

export async function runStudentPredict(o: PredictCliOptions): Promise<void> {
  const student = await loadStudent(o.model);
  const meta = await readStudentMeta(o.model);
  const head = headOfStudentMeta(meta, o.model);
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
  if (o.out) await writePredictions(o.out, result.labels, result.values, dim);
  const summary: Record<string, unknown> = {
    points: ds.x.rows,
    seconds: Number(seconds.toFixed(4)),
    pointsPerSecond: Number((ds.x.rows / seconds).toFixed(2)),
    model: 'student',
    runtime: 'onnxruntime',
    precision: o.precision ?? DEFAULT_PREDICT_PRECISION,
    architecture: (student.architecture ?? MLP).kind,
    // Without the architecture's leading layers (a conv student's convolution).
    hidden: hiddenWidths(student),
    target: student.signature.output.kind,
  };
  if (typeof meta.mbnModelHash === 'string') summary.mbnModelHash = meta.mbnModelHash;
  reportPrediction(o, ds, result.labels, summary, `student predicted ${ds.x.rows} points in ${String(summary.seconds)}s (${String(summary.pointsPerSecond)} points/s, onnxruntime)`);
}
