/**
 * Calibration of the int8 graph: the range of every layer's input over the student's own training
 * inputs, measured once when training ends and saved with the student (student.json).
 *
 * Why: with DynamicQuantizeLinear each batch is quantised by its own range, so one point's label
 * could change with the rows batched beside it (about 1 % of the 10k test digits for a random
 * [512,512] net between batches of 1 and 10,000). A served or pulled student must answer the same for
 * a point whatever else is in the request. Fixed scales make every row's output a function of that
 * row alone, and let onnxruntime run each hidden layer as one QGemm.
 *
 * The forward pass runs on tfjs (tfjs-forward.ts), not onnxruntime: MLAS picks its GEMM kernels by CPU
 * features, so its last bits, hence a maximum, hence the saved student's bytes, could differ between
 * the hosts a distill job may land on. trainStudent calibrates on the backend that trained the student
 * (tfjs-wasm, whose arithmetic is the same everywhere, for the default and for onnxruntime-trained
 * students), so calibration adds no host dependence that training did not have. Layer 0's input
 * is the raw input (the normalisation is folded into W0), whose range is read exactly. Values outside
 * the ranges at prediction time saturate (QuantizeLinear clamps).
 */
import { firstLayerInput, MLP } from './architecture.ts';
import { loadTf, type TfBackendName } from './backend.ts';
import { yieldToEventLoop } from './epochs.ts';
import { tfjsStudent } from './tfjs-forward.ts';
import type { StudentInput, TrainedStudent } from './types.ts';

/** Rows per forward pass: big GEMMs, bounded memory (rows × widest layer floats). */
const CALIBRATION_BATCH = 2048;

export interface CalibrationOptions {
  /** tfjs backend of the forward pass; default wasm. */
  backend?: TfBackendName;
  /** Checked between batches, which also yield to the event loop (a worker's lock renewals run there). */
  signal?: AbortSignal;
}

export async function activationRanges(
  student: Pick<TrainedStudent, 'signature' | 'layers' | 'architecture'>,
  x: StudentInput,
  opts: CalibrationOptions = {},
): Promise<Array<[number, number]>> {
  if (x.rows === 0) throw new RangeError('calibration needs at least one input row');
  const d = student.signature.inputDims;
  if (x.cols !== d) throw new RangeError(`calibration input has ${x.cols} columns, the student takes ${d}`);
  const ranges: Array<[number, number]> = student.layers.map(() => [Infinity, -Infinity]);
  // Layer 0: the raw values it reads (for a conv student, the pixels its patches cover).
  const cols = firstLayerInput(student.architecture ?? MLP, d).patchIndex ?? Int32Array.from({ length: d }, (_, j) => j);
  let [lo, hi] = ranges[0]!;
  for (let r = 0; r < x.rows; r++) {
    for (let j = 0; j < cols.length; j++) {
      const v = x.data[r * d + cols[j]!]!;
      if (v >= lo && v <= hi) continue;
      if (Number.isNaN(v)) throw new RangeError(`calibration input row ${r} holds NaN`);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  ranges[0] = [lo, hi];

  const { tf } = await loadTf(opts.backend ?? 'wasm');
  const net = tfjsStudent(tf, student);
  try {
    for (let s = 0; s < x.rows; s += CALIBRATION_BATCH) {
      opts.signal?.throwIfAborted();
      await yieldToEventLoop();
      const m = Math.min(CALIBRATION_BATCH, x.rows - s);
      // Per layer l ≥ 1: [min, max, any NaN] of its input over the batch.
      const stats = tf.tidy(() => {
        const parts: ReturnType<typeof tf.min>[] = [];
        net.forward(x, s, m, (_, h) => parts.push(tf.min(h), tf.max(h), tf.cast(tf.any(tf.isNaN(h)), 'float32')));
        return parts.length ? tf.stack(parts) : tf.zeros([0]);
      });
      const v = await stats.data();
      stats.dispose();
      for (let l = 1; l < ranges.length; l++) {
        const k = 3 * (l - 1);
        if (v[k + 2]) throw new RangeError(`layer ${l}'s input is NaN during calibration (rows ${s}–${s + m - 1})`);
        ranges[l] = [Math.min(ranges[l]![0], v[k]!), Math.max(ranges[l]![1], v[k + 1]!)];
      }
    }
  } finally {
    net.dispose();
  }
  for (const [l, [a, b]] of ranges.entries()) {
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw new RangeError(`layer ${l}'s input range is not finite ([${a}, ${b}])`);
  }
  return ranges;
}
