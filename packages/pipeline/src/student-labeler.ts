/**
 * Cluster labels from a student: a labels student emits them (ArgMax inside the ONNX graph); an
 * embedding student emits the c-dim embedding, and the MBN application's k-means centroids (the
 * student's "head", kept in its student.json meta) turn that into labels.
 */
import { availableParallelism } from 'node:os';
import { createStudentPredictor, type StudentInput, type StudentPrecision, type StudentPredictor, type TrainedStudent } from '@cmbn/distill';
import { assignNearest } from '@cmbn/mbn';
import { ZCentroidHead, type TCentroidHead } from './student-schemas.ts';

/** The embedding student's head (ZCentroidHead): k-means centroids, k × dim row-major. */
export type CentroidHead = TCentroidHead;

export interface StudentLabeler {
  predict(x: StudentInput): Promise<{ labels: Int32Array; values?: Float32Array }>;
  dispose(): Promise<void>;
}

export function centroidHead(centroids: Float64Array, k: number): CentroidHead {
  return ZCentroidHead.parse({ kind: 'nearest-centroid', k, centroids: Array.from(centroids) });
}

export function isCentroidHead(h: unknown): h is CentroidHead {
  return ZCentroidHead.safeParse(h).success;
}

export async function createStudentLabeler(
  student: TrainedStudent,
  opts: { head?: CentroidHead; threads?: number; batchRows?: number; precision?: StudentPrecision } = {},
): Promise<StudentLabeler> {
  const kind = student.signature.output.kind;
  const dim = student.signature.output.size;
  if (kind === 'embedding' && opts.head === undefined) {
    throw new TypeError('an embedding student needs its k-means centroids (head) to produce labels');
  }
  const centroids = opts.head ? Float64Array.from(opts.head.centroids) : undefined;
  if (opts.head && centroids!.length !== opts.head.k * dim) {
    throw new RangeError(`head has ${centroids!.length} centroid values, need ${opts.head.k}×${dim}`);
  }
  const predictor: StudentPredictor = await createStudentPredictor(student, {
    runtime: 'onnxruntime',
    threads: opts.threads ?? availableParallelism(),
    ...(opts.batchRows !== undefined ? { batchRows: opts.batchRows } : {}),
    ...(opts.precision !== undefined ? { precision: opts.precision } : {}),
  });
  return {
    async predict(x) {
      const out = await predictor.predict(x);
      if (out.labels) return { labels: out.labels };
      const values = out.values!;
      const labels = assignNearest(Float64Array.from(values), x.rows, dim, centroids!, opts.head!.k);
      return { labels, values };
    },
    dispose: () => predictor.dispose(),
  };
}
