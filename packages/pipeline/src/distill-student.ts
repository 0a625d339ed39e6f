/**
 * distillStudent: train the student on MBN's output for the training points, then compare it with
 * MBN on held-out points: label agreement, ACC/NMI against the truth for both, and prediction
 * throughput of both measured side by side on the same points.
 *
 * Both predictors run at their best: MBN's threaded predictor (createMbnPredictor: every core, its
 * prepared centres kept across calls; the same answers as `cmbn predict`'s `predict`), the student
 * on onnxruntime with every core and big batches.
 */
import { availableParallelism } from 'node:os';
import type { Matrix } from '@cmbn/data';
import { DEFAULT_PREDICT_PRECISION, trainStudent, type EpochReport, type StudentPrecision, type StudentSpec, type StudentTargetData, type StudentTrainer, type TrainedStudent } from '@cmbn/distill';
import { createMbnPredictor, studentHeadOf, type MbnModel } from '@cmbn/mbn';
import { clusteringMetrics, labelAgreement } from '@cmbn/metrics';
import { augmentImagesAsync, isSquareImage, MILD_AUGMENT } from './augment.ts';
import { softTargetsFromHead } from './soft-targets.ts';
import type { TStudentEvaluation } from './student-schemas.ts';
import { createStudentLabeler, headForModel, type CentroidHead, type StudentLabeler } from './student-labeler.ts';

/**
 * Measured on MNIST (10k training digits, V=100, seed 1; 10k test digits): soft targets at T = 0.25
 * raised the student's agreement with MBN by ~1 point over hard labels ([128]: 91.9 → 93.1%,
 * [256,256]: 92.3 → 93.4%); T = 1 was no better than 0.25.
 */
export const DEFAULT_SOFT_TEMPERATURE = 0.25;

/**
 * Teacher-labelled augmented points per training point (augment.ts): 60% at the default distortion,
 * 40% mild (MILD_AUGMENT), each labelled by MBN's own predict. Why 15 (docs/STUDENTS.md, "How the
 * student's defaults were chosen", has the measurements): on MBN's labels of the training points
 * alone a student plateaus near 93.5 % agreement, and at 50k distortions every change to the student
 * itself stayed at 0.947–0.950; only more teacher-labelled points moved it, and 150k was the count
 * whose two measurements both cleared 0.95 (a student lands anywhere in a ±0.15-point band). Choosing
 * points by the student's uncertainty bought nothing over random ones. `augment` trades agreement for
 * time (the labelling and the training grow with it), and 0 skips it.
 */
export const DEFAULT_AUGMENT_PER_POINT = 15;

/** Share of the augmented points made at the default (strong) distortion; the rest are MILD_AUGMENT. */
const STRONG_AUGMENT_FRACTION = 0.6;

/** Rows per MBN predict call when labelling augmented points: bounds the code/embedding memory. */
const AUGMENT_CHUNK = 2000;

export interface DistillInput {
  /** The training points (the ones MBN was trained on). */
  x: Matrix;
  /** MBN's k-means labels of x. */
  mbnLabels: Int32Array;
  /** MBN's embedding of x (n × c): required for the 'embedding' target. */
  mbnEmbedding?: Float64Array;
  classes: number;
  spec: StudentSpec;
  mbnModel: MbnModel;
  /** Held-out points. Without them the comparison is made on the training points (labelled so). */
  evalSet?: { x: Matrix; trueLabels?: Int32Array; name?: string };
  /** True labels of x, for the training-set metrics when there is no eval set. */
  trainTrueLabels?: Int32Array;
  onEpoch?: (e: EpochReport) => void;
  onStage?: (stage: 'augment' | 'train' | 'mbn-predict' | 'student-predict') => void;
  /** Progress of labelling the teacher-labelled points (the transfer set, then the augmented ones) with MBN's predict. */
  onAugment?: (done: number, total: number) => void;
  /**
   * Distorted copies of the training points (augment.ts) labelled by MBN's own predict, added to
   * the student's training set. Needs square-image rows; default DEFAULT_AUGMENT_PER_POINT × x.rows
   * for such data, 0 otherwise. Deterministic from augmentSeed (default spec.seed).
   */
  augment?: number;
  augmentSeed?: number;
  /**
   * A transfer set: more points from the same source that MBN did not train on (for example the rows
   * after the ones it did), labelled by MBN's own predict and added to the student's training set.
   * MBN's training cost grows with N² (k1 = N/2) while labelling grows with N, so a user can train MBN
   * on a part of the data and distil the student from all of it. Same columns and dtype as x.
   */
  transfer?: Matrix;
  /** Threads for both predictors; default every core. */
  threads?: number;
  /** Without an eval set, MBN's throughput is timed on the first this-many training points. Default 2000. */
  timingPoints?: number;
  /**
   * Minimum wall time over which the student's throughput is measured (the median pass). Default 5 s:
   * on a shared 2-core machine the median of one-second windows of the same [512,512] predict ranged
   * 266k–424k points/s within 20 s (2026-12-03, AMD EPYC; 1,065k–1,200k on an idle Xeon: inference.bench.ts's
   * windowMedians), so a 1 s window drew the speedup from one phase of that.
   */
  studentTimingSeconds?: number;
  /**
   * Labels target only: train on soft cluster targets at this temperature (softClusterTargets) when
   * mbnEmbedding is given; 0 trains on the hard labels. Default DEFAULT_SOFT_TEMPERATURE.
   */
  temperature?: number;
  /** The student's onnxruntime precision; default the predictor's default. */
  precision?: StudentPrecision;
  /** Stops the augmentation labelling (between chunks) and the training (between batches). */
  signal?: AbortSignal;
  /** The student's trainer (TrainOptions.trainer); default tfjs. 'ort' also trains on `threads` threads. */
  trainer?: StudentTrainer;
}

/** The student/MBN comparison (ZStudentEvaluation; saved as student.json meta.evaluation). */
export type StudentEvaluation = TStudentEvaluation;

export interface DistillResult {
  student: TrainedStudent;
  /** The centroids that turn an embedding student's output into labels (embedding target only). */
  head?: CentroidHead;
  /** The onnxruntime precision the student was evaluated and timed with. */
  precision: StudentPrecision;
  /** Teacher-labelled augmented points the student was trained on besides x. */
  augmented: number;
  /** Teacher-labelled transfer-set points the student was trained on besides x (DistillInput.transfer). */
  transferred: number;
  evaluation: StudentEvaluation;
  /**
   * Both labellings of the held-out points and MBN's embedding of them (evalSet only), for
   * measuring where the two part (bench:compression's agreement by MBN's margin).
   */
  evalPredictions?: { student: Int32Array; mbn: Int32Array; mbnEmbedding: Float64Array };
}

function firstRows(x: Matrix, n: number): Matrix {
  if (n >= x.rows) return x;
  return { ...x, rows: n, data: x.data.subarray(0, n * x.cols) } as Matrix;
}

const STUDENT_TIMING_SECONDS = 5;

/** Median seconds per full pass over x, after a warm-up pass, over at least minSeconds and 3 passes. */
async function timeStudent(labeler: StudentLabeler, x: Matrix, minSeconds: number, signal?: AbortSignal): Promise<{ seconds: number; labels: Int32Array }> {
  const { labels } = await labeler.predict(x); // warm-up: ORT allocates its arenas on the first run
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < 3 || (performance.now() - t0) / 1000 < minSeconds) {
    signal?.throwIfAborted();
    const t = performance.now();
    await labeler.predict(x);
    times.push((performance.now() - t) / 1000);
    if (times.length >= 2000) break;
  }
  times.sort((a, b) => a - b);
  return { seconds: times[times.length >> 1]!, labels };
}

async function timeMbn(model: MbnModel, x: Matrix, threads: number): Promise<{ seconds: number; labels: Int32Array; embedding: Float64Array }> {
  const predictor = createMbnPredictor(model, { threads, backend: 'ort' });
  try {
    // Warm-up: threads boot, first ORT runs, every clustering's centres prepared (as for any later batch).
    await predictor.predict(firstRows(x, Math.min(16, x.rows)));
    const t = performance.now();
    const { labels, embedding } = await predictor.predict(x);
    return { seconds: (performance.now() - t) / 1000, labels, embedding };
  } finally {
    await predictor.dispose();
  }
}

export async function distillStudent(input: DistillInput): Promise<DistillResult> {
  const { x, mbnLabels, spec, mbnModel } = input;
  if (mbnLabels.length !== x.rows) throw new RangeError(`mbnLabels has ${mbnLabels.length} entries for ${x.rows} points`);
  const threads = input.threads ?? availableParallelism();
  const c = mbnModel.pca.c;
  const nAug = input.augment ?? (isSquareImage(x) ? DEFAULT_AUGMENT_PER_POINT * x.rows : 0);
  if (nAug > 0 && !isSquareImage(x)) throw new RangeError(`augment needs square-image rows; ${x.cols} columns is not a square`);
  const transfer = input.transfer;
  if (transfer && (transfer.cols !== x.cols || transfer.dtype !== x.dtype)) {
    throw new RangeError(`the transfer set has ${transfer.cols} ${transfer.dtype} columns; the training points have ${x.cols} ${x.dtype}`);
  }
  const nTransfer = transfer?.rows ?? 0;
  if (nAug + nTransfer > 0 && spec.target === 'labels' && !input.mbnEmbedding) throw new TypeError('teacher-labelled points need mbnEmbedding (for the soft targets)');
  const train = nAug + nTransfer > 0 ? await withTeacherLabelled(input, await teacherInputs(input, nAug, transfer), threads) : { x, labels: mbnLabels, embedding: input.mbnEmbedding };
  let target: StudentTargetData;
  let head: CentroidHead | undefined;
  if (spec.target === 'labels') {
    const temperature = input.temperature ?? DEFAULT_SOFT_TEMPERATURE;
    // Soft targets come from the application's student head; an application without one trains on hard labels.
    const mbnHead = studentHeadOf(mbnModel.application);
    const soft =
      temperature > 0 && train.embedding && mbnHead && mbnHead.k === input.classes
        ? softTargetsFromHead(train.embedding, train.x.rows, c, mbnHead, temperature)
        : undefined;
    target = { kind: 'labels', labels: train.labels, classes: input.classes, ...(soft ? { soft } : {}) };
  } else {
    if (!train.embedding) throw new TypeError("the 'embedding' target needs mbnEmbedding");
    target = { kind: 'embedding', values: train.embedding, dim: c };
    head = headForModel(mbnModel);
    if (!head) throw new TypeError(`the 'embedding' target needs a student head, and application '${mbnModel.application.kind}' has none`);
  }
  input.onStage?.('train');
  const student = await trainStudent(train.x, target, spec, {
    ...(input.onEpoch ? { onEpoch: input.onEpoch } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.trainer ? { trainer: input.trainer, threads } : {}),
  });

  const precision = input.precision ?? DEFAULT_PREDICT_PRECISION;
  const labeler = await createStudentLabeler(student, { threads, precision, ...(head ? { head } : {}) });
  try {
    const minSeconds = input.studentTimingSeconds ?? STUDENT_TIMING_SECONDS;
    if (input.evalSet) {
      const ex = input.evalSet.x;
      input.onStage?.('mbn-predict');
      const mbn = await timeMbn(mbnModel, ex, threads);
      input.onStage?.('student-predict');
      const st = await timeStudent(labeler, ex, minSeconds, input.signal);
      const truth = input.evalSet.trueLabels;
      const sm = truth ? clusteringMetrics(truth, st.labels) : undefined;
      const mm = truth ? clusteringMetrics(truth, mbn.labels) : undefined;
      return {
        student,
        precision,
        augmented: nAug,
        transferred: nTransfer,
        ...(head ? { head } : {}),
        evaluation: summarise('eval', ex.rows, ex.rows, st, mbn, sm, mm, input.evalSet.name),
        evalPredictions: { student: st.labels, mbn: mbn.labels, mbnEmbedding: mbn.embedding },
      };
    }
    // No held-out points: agreement and metrics on the training points, timing on a prefix of them.
    const timing = firstRows(x, input.timingPoints ?? 2000);
    input.onStage?.('mbn-predict');
    const mbn = await timeMbn(mbnModel, timing, threads);
    input.onStage?.('student-predict');
    const st = await timeStudent(labeler, timing, minSeconds, input.signal);
    const all = (await labeler.predict(x)).labels;
    const truth = input.trainTrueLabels;
    const sm = truth ? clusteringMetrics(truth, all) : undefined;
    const mm = truth ? clusteringMetrics(truth, mbnLabels) : undefined;
    const ev = summarise('train', x.rows, timing.rows, st, mbn, sm, mm);
    ev.agreement = labelAgreement(all, mbnLabels);
    return { student, precision, augmented: nAug, transferred: nTransfer, ...(head ? { head } : {}), evaluation: ev };
  } finally {
    await labeler.dispose();
  }
}

/**
 * The points MBN labels for the student: the transfer set, then nAug distorted copies of x
 * (deterministic from the seed). Made in chunks that yield to the event loop: 900k copies at paper
 * scale are minutes of CPU, which would otherwise stall a worker's lock renewals.
 */
async function teacherInputs(input: DistillInput, nAug: number, transfer: Matrix | undefined): Promise<Matrix> {
  const { x } = input;
  const d = x.cols;
  input.onStage?.('augment');
  const parts: Matrix[] = transfer ? [transfer] : [];
  if (nAug > 0) {
    const seed = input.augmentSeed ?? input.spec.seed;
    const nStrong = Math.round(nAug * STRONG_AUGMENT_FRACTION);
    parts.push(
      await augmentImagesAsync(x, nStrong, seed, {}, input.signal),
      await augmentImagesAsync(x, nAug - nStrong, seed, { ...MILD_AUGMENT, firstCopy: nStrong }, input.signal),
    );
  }
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  return { rows, cols: d, dtype: x.dtype, data: concatRows(parts.map((p) => p.data.subarray(0, p.rows * d))) } as Matrix;
}

/** x followed by `extra`, with MBN's labels and embedding of all of them (x's from training, extra's from MBN's predict). */
async function withTeacherLabelled(
  input: DistillInput,
  extra: Matrix,
  threads: number,
): Promise<{ x: Matrix; labels: Int32Array; embedding: Float64Array | undefined }> {
  const { x, mbnModel } = input;
  const c = mbnModel.pca.c;
  const m = extra.rows;
  const n = x.rows + m;
  const d = x.cols;
  const data = concatRows([x.data.subarray(0, x.rows * d), extra.data.subarray(0, m * d)]);
  const labels = new Int32Array(n);
  labels.set(input.mbnLabels);
  const embedding = input.mbnEmbedding ? new Float64Array(n * c) : undefined;
  embedding?.set(input.mbnEmbedding!.subarray(0, x.rows * c));
  // One predictor for every chunk: its threads keep the prepared centres from chunk to chunk.
  const predictor = createMbnPredictor(mbnModel, { threads, backend: 'ort' });
  try {
    for (let s = 0; s < m; s += AUGMENT_CHUNK) {
      input.signal?.throwIfAborted();
      const rows = Math.min(AUGMENT_CHUNK, m - s);
      const chunk = { ...extra, rows, data: extra.data.subarray(s * d, (s + rows) * d) } as Matrix;
      const p = await predictor.predict(chunk);
      labels.set(p.labels, x.rows + s);
      embedding?.set(p.embedding, (x.rows + s) * c);
      input.onAugment?.(s + rows, m);
    }
  } finally {
    await predictor.dispose();
  }
  return { x: { rows: n, cols: d, dtype: x.dtype, data } as Matrix, labels, embedding };
}

function concatRows<T extends Uint8Array | Float32Array>(parts: T[]): T {
  const out = new (parts[0]!.constructor as new (n: number) => T)(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function summarise(
  on: 'eval' | 'train',
  points: number,
  timingPoints: number,
  st: { seconds: number; labels: Int32Array },
  mbn: { seconds: number; labels: Int32Array },
  sm: { acc: number; nmi: number } | undefined,
  mm: { acc: number; nmi: number } | undefined,
  evalName?: string,
): StudentEvaluation {
  const studentPointsPerSecond = timingPoints / st.seconds;
  const mbnPointsPerSecond = timingPoints / mbn.seconds;
  return {
    on,
    ...(evalName !== undefined ? { evalName } : {}),
    points,
    agreement: labelAgreement(st.labels, mbn.labels),
    ...(sm ? { acc: sm.acc, nmi: sm.nmi } : {}),
    ...(mm ? { mbnAcc: mm.acc, mbnNmi: mm.nmi } : {}),
    timingPoints,
    studentPointsPerSecond,
    mbnPointsPerSecond,
    speedup: studentPointsPerSecond / mbnPointsPerSecond,
  };
}
