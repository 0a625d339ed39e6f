/** Turns the caller's matrix and target into the scaled float32 rows and targets that training uses. */
import { permutation, Rng } from './rng.ts';
import type { StudentSpec } from './spec.ts';
import type { Normalisation, StudentInput, StudentTargetData } from './types.ts';

export function defaultNormalisation(dtype: StudentInput['dtype']): Normalisation {
  return { kind: 'scale', scale: dtype === 'uint8' ? 1 / 255 : 1 };
}

export function checkInput(x: StudentInput, inputDims?: number): void {
  if (!Number.isInteger(x.rows) || x.rows < 0) throw new RangeError(`rows must be a non-negative integer, got ${x.rows}`);
  if (!Number.isInteger(x.cols) || x.cols < 1) throw new RangeError(`cols must be a positive integer, got ${x.cols}`);
  if (x.data.length < x.rows * x.cols) throw new RangeError(`data has ${x.data.length} values, need ${x.rows * x.cols}`);
  if (inputDims !== undefined && x.cols !== inputDims) throw new RangeError(`student expects ${inputDims} columns, got ${x.cols}`);
  const isU8 = x.data instanceof Uint8Array;
  if ((x.dtype === 'uint8') !== isU8) throw new TypeError(`dtype ${x.dtype} does not match its ${x.data.constructor.name}`);
}

/** Rows `order[from..to)` of x, scaled, as one contiguous float32 block. */
export function gatherScaled(x: StudentInput, order: Int32Array, from: number, to: number, scale: number): Float32Array {
  const d = x.cols;
  const out = new Float32Array((to - from) * d);
  for (let r = from; r < to; r++) {
    const src = order[r]! * d;
    const dst = (r - from) * d;
    for (let j = 0; j < d; j++) out[dst + j] = x.data[src + j]! * scale;
  }
  return out;
}

/** Per-dimension mean and std (std of a constant dimension is taken as 1, so it stays finite). */
export function columnStats(values: Float64Array, rows: number, dim: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let i = 0; i < rows; i++) for (let j = 0; j < dim; j++) mean[j]! += values[i * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= Math.max(1, rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < dim; j++) {
      const t = values[i * dim + j]! - mean[j]!;
      std[j]! += t * t;
    }
  }
  for (let j = 0; j < dim; j++) {
    const s = Math.sqrt(std[j]! / Math.max(1, rows));
    std[j] = s > 1e-12 ? s : 1;
  }
  return { mean, std };
}

/** Standardised embedding rows `order[from..to)`, float32. */
export function gatherStandardised(
  values: Float64Array,
  dim: number,
  order: Int32Array,
  from: number,
  to: number,
  mean: Float64Array,
  std: Float64Array,
): Float32Array {
  const out = new Float32Array((to - from) * dim);
  for (let r = from; r < to; r++) {
    const src = order[r]! * dim;
    for (let j = 0; j < dim; j++) out[(r - from) * dim + j] = (values[src + j]! - mean[j]!) / std[j]!;
  }
  return out;
}

export function gatherLabels(labels: Int32Array, order: Int32Array, from: number, to: number, classes: number): Int32Array {
  const out = new Int32Array(to - from);
  for (let r = from; r < to; r++) {
    const l = labels[order[r]!]!;
    if (!(l >= 0 && l < classes)) throw new RangeError(`label ${l} at row ${order[r]} is outside 0..${classes - 1}`);
    out[r - from] = l;
  }
  return out;
}

export function checkTarget(target: StudentTargetData, rows: number): void {
  if (target.kind === 'labels') {
    if (target.labels.length !== rows) throw new RangeError(`labels has ${target.labels.length} entries, need ${rows}`);
    if (target.soft !== undefined && target.soft.length !== rows * target.classes) {
      throw new RangeError(`soft targets have ${target.soft.length} values, need ${rows}×${target.classes}`);
    }
    if (!Number.isInteger(target.classes) || target.classes < 2) throw new RangeError(`classes must be ≥ 2, got ${target.classes}`);
  } else {
    if (!Number.isInteger(target.dim) || target.dim < 1) throw new RangeError(`dim must be ≥ 1, got ${target.dim}`);
    if (target.values.length !== rows * target.dim) throw new RangeError(`values has ${target.values.length}, need ${rows * target.dim}`);
  }
}

/** Rows `order[from..to)` of a row-major n × dim float32 matrix. */
export function gatherRows(values: Float32Array, dim: number, order: Int32Array, from: number, to: number): Float32Array {
  const out = new Float32Array((to - from) * dim);
  for (let r = from; r < to; r++) out.set(values.subarray(order[r]! * dim, (order[r]! + 1) * dim), (r - from) * dim);
  return out;
}

/**
 * What both trainers derive from the data before training: the seeded train/validation split (Rng
 * stream 0: `order`'s first nTrain rows train, the rest validate), the output width, the input's
 * normalisation, and an embedding target's column statistics (it trains standardised).
 */
export function trainingLayout(x: StudentInput, target: StudentTargetData, spec: StudentSpec) {
  const n = x.rows;
  const nVal = spec.validationSplit > 0 ? Math.min(n - 1, Math.max(1, Math.round(n * spec.validationSplit))) : 0;
  const nTrain = n - nVal;
  if (nTrain < 1) throw new RangeError('no rows left to train on');
  return {
    n,
    d: x.cols,
    nVal,
    nTrain,
    order: permutation(new Rng(spec.seed, 0), n),
    outDim: target.kind === 'labels' ? target.classes : target.dim,
    normalisation: defaultNormalisation(x.dtype),
    stats: target.kind === 'embedding' ? columnStats(target.values, n, target.dim) : undefined,
    /** Soft targets (n × classes probabilities), when the labels target has them. */
    soft: target.kind === 'labels' ? target.soft : undefined,
  };
}
