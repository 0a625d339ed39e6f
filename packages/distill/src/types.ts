/** Shapes shared by training, the file format and the predictors. */
import type { StudentTarget } from './spec.ts';
import type { TfBackendName } from './backend.ts';
import type { StudentArchitecture } from './architecture.ts';

/** The trainer's compute: a tfjs backend (train.ts) or onnxruntime-node's CPU provider (train-ort.ts). */
export type StudentTrainingBackend = TfBackendName | 'onnxruntime';

/** Same shape as `@cmbn/data`'s Matrix: row-major, shape beside the buffer. */
export interface StudentInput {
  rows: number;
  cols: number;
  dtype: 'uint8' | 'float32';
  data: Uint8Array | Float32Array;
}

export type StudentTargetData =
  /**
   * Cluster labels. With `soft` (n × classes row-major probabilities, e.g. a softmax of negative
   * distances to the k-means centroids) the loss is cross-entropy against those soft targets
   * (Hinton-style distillation: the margins carry more information than the hard label).
   */
  | { kind: 'labels'; labels: Int32Array; classes: number; soft?: Float32Array }
  | { kind: 'embedding'; values: Float64Array; dim: number };

/**
 * Input x is fed to the network as x·scale. uint8 pixels use 1/255; float32 input uses 1 (the caller's
 * scale). Per-feature mean/std is not implemented (not measured): 1/255 already reaches ~96% on MNIST
 * true labels, and a plain scale folds into the first ONNX weight matrix so uint8 goes in unconverted.
 */
export interface Normalisation {
  kind: 'scale';
  scale: number;
}

export interface StudentSignature {
  inputDims: number;
  inputDType: 'uint8' | 'float32';
  normalisation: Normalisation;
  output: { kind: StudentTarget; size: number };
}

export type LayerActivation = 'relu' | 'linear' | 'softmax';

/**
 * One dense layer, y = act(x·W + b), W row-major inDim×outDim (the tfjs Dense kernel layout). A conv
 * student's layer 0 is its convolution as a dense map of one kernel² patch to `filters` channels
 * (architecture.ts), W the tfjs Conv2D kernel [k, k, 1, filters] in the same memory order.
 */
export interface StudentLayer {
  weight: Float32Array;
  bias: Float32Array;
  inDim: number;
  outDim: number;
  activation: LayerActivation;
}

export interface TrainHistory {
  loss: number[];
  valLoss: number[];
  valAcc?: number[];
}

export interface TrainedStudent {
  signature: StudentSignature;
  /** Absent: the plain MLP (students saved before architectures were named). */
  architecture?: StudentArchitecture;
  /** What trained it: a tfjs backend, or 'onnxruntime' (train-ort.ts). */
  backend: StudentTrainingBackend;
  /** Wall time of trainStudent. */
  seconds: number;
  /** Epochs actually run (early stopping may end before spec.epochs). */
  epochs: number;
  history: TrainHistory;
  /**
   * The weights of the best epoch. For an embedding target the target de-standardisation is already
   * folded into the last layer, so these layers map normalised input straight to embedding values.
   */
  layers: StudentLayer[];
  /**
   * Each layer's input range [min, max] over the training inputs, which fixes the int8 graph's
   * activation quantisation (calibrate.ts, onnx-student.ts). Absent in students saved before it was
   * measured: their int8 graph quantises each batch by its own range.
   */
  activationRanges?: Array<[number, number]>;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  loss: number;
  valLoss: number;
  valAcc?: number;
  seconds: number;
}
