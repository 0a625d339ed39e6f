/**
 * Batch prediction with a trained student. 'onnxruntime' (default) runs MLAS GEMMs on all cores and is
 * the honest speed to compare against MBN's ORT-based predict; 'tfjs' runs on the loaded tfjs backend.
 */
import { availableParallelism } from 'node:os';
import { loadTf } from './backend.ts';
import { studentGraph, type StudentPrecision } from './onnx-student.ts';
import { checkInput } from './prepare.ts';
import { tfjsStudent } from './tfjs-forward.ts';
import type { StudentInput, TrainedStudent } from './types.ts';

export interface StudentPrediction {
  /** Argmax class per row (labels target). */
  labels?: Int32Array;
  /** Row-major n×size outputs (embedding target). */
  values?: Float32Array;
}

export interface StudentPredictor {
  readonly runtime: 'onnxruntime' | 'tfjs';
  predict(x: StudentInput): Promise<StudentPrediction>;
  dispose(): Promise<void>;
}

export interface PredictorOptions {
  runtime?: 'onnxruntime' | 'tfjs';
  /** onnxruntime intra-op threads; default: all cores. */
  threads?: number;
  /** Rows per run: large enough for GEMM efficiency, small enough to bound memory. */
  batchRows?: number;
  /** onnxruntime only: fp32 weights, or int8 weights with uint8 activations (see onnx-student.ts). */
  precision?: StudentPrecision;
}

/**
 * Rows per run, by measurement (packages/distill/bench/inference.bench.ts, round-robin, 10k MNIST test
 * digits, 2-core AMD EPYC with AVX-512 VNNI, onnxruntime 1.30): 2048 was fastest or level with the
 * fastest for [128], [256,256] and [512,512], fp32 and calibrated int8, and 1.06–1.24× the rate of 8192
 * (whose activations outgrow the 2 MB L2: [512,512] calibrated int8 471k against 381k points/s).
 */
const DEFAULT_BATCH_ROWS = 2048;
/**
 * A student saved before calibration quantises each batch by its own range in its int8 graph, so its
 * int8 labels depend on the batch: that graph keeps the batch it was always predicted with, and so its labels.
 */
const UNCALIBRATED_INT8_BATCH_ROWS = 8192;
/**
 * int8 by measurement (packages/distill/bench/inference.bench.ts, 10k MNIST test digits, 2 cores with
 * AVX-512 VNNI, onnxruntime 1.30): 2.2–4× the fp32 throughput ([128]: ~240k → ~500–580k points/s;
 * [256,256]: ~100–135k → ~250k), with the same label on ≥ 99.9% of digits as the fp32 graph.
 */
export const DEFAULT_PREDICT_PRECISION: StudentPrecision = 'int8';

export async function createStudentPredictor(student: TrainedStudent, opts: PredictorOptions = {}): Promise<StudentPredictor> {
  const runtime = opts.runtime ?? 'onnxruntime';
  const precision = opts.precision ?? DEFAULT_PREDICT_PRECISION;
  const perBatchRanges = runtime === 'onnxruntime' && precision === 'int8' && !student.activationRanges;
  const batchRows = opts.batchRows ?? (perBatchRanges ? UNCALIBRATED_INT8_BATCH_ROWS : DEFAULT_BATCH_ROWS);
  return runtime === 'onnxruntime' ? createOrtPredictor(student, opts.threads ?? availableParallelism(), batchRows, precision) : createTfjsPredictor(student, batchRows);
}

function emptyResult(student: TrainedStudent, n: number): StudentPrediction {
  return student.signature.output.kind === 'labels'
    ? { labels: new Int32Array(n) }
    : { values: new Float32Array(n * student.signature.output.size) };
}

function checkPredictInput(student: TrainedStudent, x: StudentInput): void {
  checkInput(x, student.signature.inputDims);
  if (x.dtype !== student.signature.inputDType) {
    throw new TypeError(`student was trained on ${student.signature.inputDType} input, got ${x.dtype}`);
  }
}

async function createOrtPredictor(student: TrainedStudent, threads: number, batchRows: number, precision: StudentPrecision): Promise<StudentPredictor> {
  const ort = await import('onnxruntime-node');
  const { bytes, output } = studentGraph(student, { precision });
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // No spin-waiting after a run: the student is timed next to MBN's own ORT sessions, and idle
    // spinning pools would steal cores from whichever is running (see @cmbn/kernels' ort-backend).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const d = student.signature.inputDims;
  const size = student.signature.output.size;
  return {
    runtime: 'onnxruntime',
    async predict(x) {
      checkPredictInput(student, x);
      const res = emptyResult(student, x.rows);
      for (let s = 0; s < x.rows; s += batchRows) {
        const m = Math.min(batchRows, x.rows - s);
        const view = x.data.subarray(s * d, (s + m) * d);
        const input = new ort.Tensor(x.dtype === 'uint8' ? 'uint8' : 'float32', view, [m, d]);
        const out = (await session.run({ X: input }))[output]!;
        if (res.labels) {
          res.labels.set(out.data as Int32Array, s);
        } else {
          res.values!.set(out.data as Float32Array, s * size);
        }
        out.dispose();
      }
      return res;
    },
    async dispose() {
      await session.release();
    },
  };
}

async function createTfjsPredictor(student: TrainedStudent, batchRows: number): Promise<StudentPredictor> {
  const { tf } = await loadTf();
  const net = tfjsStudent(tf, student);
  const size = student.signature.output.size;
  return {
    runtime: 'tfjs',
    async predict(x) {
      checkPredictInput(student, x);
      const res = emptyResult(student, x.rows);
      for (let s = 0; s < x.rows; s += batchRows) {
        const m = Math.min(batchRows, x.rows - s);
        const out = tf.tidy(() => {
          const h = net.forward(x, s, m);
          return res.labels ? tf.argMax(h, 1) : h;
        });
        const data = await out.data();
        out.dispose();
        if (res.labels) res.labels.set(data as Int32Array, s);
        else res.values!.set(data as Float32Array, s * size);
      }
      return res;
    },
    async dispose() {
      net.dispose();
    },
  };
}
