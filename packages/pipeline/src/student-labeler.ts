/**
 * Cluster labels from a student: a labels student emits them (ArgMax inside the ONNX graph); an
 * embedding student emits the c-dim embedding, and the MBN application's student head (@cmbn/mbn
 * StudentHead; for k-means its centroids), kept in its student.json meta, turns that into labels.
 */
import { availableParallelism } from 'node:os';
import { createStudentPredictor, type StudentInput, type StudentPrecision, type StudentPredictor, type TrainedStudent } from '@cmbn/distill';
import { assignWithStudentHead, studentHeadOf, type MbnModel, type StudentHead } from '@cmbn/mbn';
import { parseWith, ZCentroidHead, type TCentroidHead } from './student-schemas.ts';

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

/**
 * The head kept in a student.json meta, for its readers (`cmbn predict`, `cmbn serve`): undefined
 * when there is none (a labels student), and an error naming `where` when one is there but does not
 * parse, since labelling without it would silently give the embedding student's argmax instead.
 */
export function headOfStudentMeta(meta: Record<string, unknown>, where: string): CentroidHead | undefined {
  return meta.head === undefined ? undefined : parseWith(ZCentroidHead, meta.head, `${where}: student.json's meta.head`);
}

/**
 * student.json's head for an MBN model, from its application's student head, or undefined when
 * the application has none. The JSON (ZCentroidHead) is a published format: a new head kind gets
 * its own schema beside it rather than changing this one.
 */
export function headForModel(model: Pick<MbnModel, 'application'>): CentroidHead | undefined {
  const head = studentHeadOf(model.application);
  if (head === undefined) return undefined;
  switch (head.kind) {
    case 'nearest-centroid':
      return centroidHead(head.centroids, head.k);
  }
}

/** The student head a saved head describes (the inverse of headForModel). */
export function studentHeadFrom(head: CentroidHead): StudentHead {
  return { kind: head.kind, k: head.k, centroids: Float64Array.from(head.centroids) };
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
  const head = opts.head ? studentHeadFrom(opts.head) : undefined;
  if (head && head.centroids.length !== head.k * dim) {
    throw new RangeError(`head has ${head.centroids.length} centroid values, need ${head.k}×${dim}`);
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
      const labels = assignWithStudentHead(head!, Float64Array.from(values), x.rows, dim);
      return { labels, values };
    },
    dispose: () => predictor.dispose(),
  };
}
