/**
 * trainStudent: a seeded MLP trained with Adam in our own loop (not `model.fit`), so that
 * - the backward pass is transpose-free (dense-op.ts), which is what makes tfjs-wasm fast;
 * - batch order comes from our seeded permutation and weights from our seeded Glorot init;
 * - every tensor is created in a tidy or disposed explicitly (numTensors is unchanged afterwards).
 */
import type { Scalar, Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs';
import { firstLayerInput, leadingWidths, MLP, storedArchitecture, type StudentTrainer } from './architecture.ts';
import { activationRanges } from './calibrate.ts';
import { loadTf, type TfBackendName } from './backend.ts';
import { createDenseOps } from './dense-op.ts';
import {
  checkInput,
  checkTarget,
  gatherLabels,
  gatherRows,
  gatherScaled,
  gatherStandardised,
  trainingLayout,
} from './prepare.ts';
import { runEpochs } from './epochs.ts';
import { glorotUniform, Rng } from './rng.ts';
import { validateSpec, type StudentSpec } from './spec.ts';
import type { EpochReport, StudentInput, StudentLayer, StudentTargetData, TrainedStudent } from './types.ts';

export interface TrainOptions {
  onEpoch?: (e: EpochReport) => void;
  /** Checked between batches: an aborted signal ends training with its reason (an AbortError). */
  signal?: AbortSignal;
  /** Called after every batch (tests count the event-loop turns between batches with it). */
  onBatch?: (epoch: number, batch: number) => void;
  /** tfjs trainer only. */
  backend?: TfBackendName;
  /**
   * 'tfjs' (default): this file, on the tfjs backend. 'ort': train-ort.ts, the same training with its
   * matrix products on onnxruntime's MLAS (mlp students only).
   */
  trainer?: StudentTrainer;
  /** 'ort' trainer only: onnxruntime intra-op threads; default every core. */
  threads?: number;
}

export { yieldToEventLoop } from './epochs.ts';

/** Rows per forward pass when evaluating the validation set: big GEMMs, bounded memory. */
export const EVAL_BATCH = 2048;

/**
 * Trains a student on either trainer, then calibrates its int8 graph on the same inputs
 * (calibrate.ts), so that every student this returns predicts each row independently of its batch.
 */
export async function trainStudent(
  x: StudentInput,
  target: StudentTargetData,
  spec: StudentSpec,
  opts: TrainOptions = {},
): Promise<TrainedStudent> {
  if (opts.trainer !== undefined && opts.trainer !== 'tfjs' && opts.trainer !== 'ort') {
    throw new RangeError(`unknown trainer ${JSON.stringify(opts.trainer)} (known: tfjs, ort)`);
  }
  const t0 = performance.now();
  const student =
    opts.trainer === 'ort'
      ? // Imported on demand: train-ort.ts imports this file's helpers, and a static import back would be a cycle.
        await (await import('./train-ort.ts')).trainStudentOrt(x, target, spec, opts)
      : await trainStudentTfjs(x, target, spec, opts);
  // On the arithmetic that trained it (tfjs-wasm for an onnxruntime-trained student): see calibrate.ts.
  const backend = student.backend === 'onnxruntime' ? 'wasm' : student.backend;
  student.activationRanges = await activationRanges(student, x, { backend, ...(opts.signal ? { signal: opts.signal } : {}) });
  student.seconds = (performance.now() - t0) / 1000;
  return student;
}

async function trainStudentTfjs(x: StudentInput, target: StudentTargetData, spec: StudentSpec, opts: TrainOptions): Promise<TrainedStudent> {
  checkInput(x);
  validateSpec(spec, x.cols);
  checkTarget(target, x.rows);
  if (target.kind !== spec.target) throw new TypeError(`spec.target is ${spec.target} but the target given is ${target.kind}`);
  const t0 = performance.now();
  const { tf, backend } = await loadTf(opts.backend);

  // Stream 0: the train/validation split (trainingLayout). Stream 1: batch order. Stream 2: weights.
  // Soft targets are n × classes probabilities; hard ones int32 class ids.
  const { n, d, nVal, nTrain, order, outDim, normalisation, stats, soft } = trainingLayout(x, target, spec);
  const makeY = (from: number, to: number): Tensor =>
    target.kind === 'labels'
      ? soft
        ? tf.tensor2d(gatherRows(soft, target.classes, order, from, to), [to - from, target.classes])
        : tf.tensor1d(gatherLabels(target.labels, order, from, to, target.classes), 'int32')
      : tf.tensor2d(gatherStandardised(target.values, target.dim, order, from, to, stats!.mean, stats!.std), [to - from, target.dim]);

  const xTrain = tf.tensor2d(gatherScaled(x, order, 0, nTrain, normalisation.scale), [nTrain, d]);
  const yTrain = makeY(0, nTrain);
  const xVal = nVal > 0 ? tf.tensor2d(gatherScaled(x, order, nTrain, n, normalisation.scale), [nVal, d]) : undefined;
  const yVal = nVal > 0 ? makeY(nTrain, n) : undefined;

  const architecture = spec.architecture ?? MLP;
  const first = firstLayerInput(architecture, d);
  // Layer l maps inDims[l] → outDims[l]: the architecture's leading layers (conv: its convolution on
  // patches), the hidden layers, the output layer. Layer 0 runs once per position (architecture.ts),
  // and its n·positions × outDims[0] output the next layer reads as n × positions·outDims[0].
  const outDims = [...leadingWidths(architecture), ...spec.hidden, outDim];
  const inDims = outDims.map((_, l) => (l === 0 ? first.inDim : l === 1 ? outDims[0]! * first.positions : outDims[l - 1]!));
  const initRng = new Rng(spec.seed, 2);
  const weights: Variable[] = [];
  const biases: Variable[] = [];
  for (let l = 0; l < outDims.length; l++) {
    // tidy disposes the initial-value tensors; variables are not tracked by tidy and survive it.
    tf.tidy(() => {
      weights.push(tf.variable(tf.tensor2d(glorotUniform(initRng, inDims[l]!, outDims[l]!), [inDims[l]!, outDims[l]!]), true));
      biases.push(tf.variable(tf.zeros([outDims[l]!]), true));
    });
  }
  const patchIndex = first.patchIndex ? tf.tensor1d(first.patchIndex, 'int32') : undefined;
  /** The rows as layer 0 reads them: themselves, or their n·P × kernel² patches. */
  const firstInput = (xb: Tensor2D): Tensor2D =>
    patchIndex ? (tf.reshape(tf.gather(xb, patchIndex, 1), [xb.shape[0] * first.positions, first.inDim]) as Tensor2D) : xb;
  /** Layer 0's output as the next layer reads it. */
  const afterFirst = (h: Tensor2D, rows: number): Tensor2D => (patchIndex ? (tf.reshape(h, [rows, inDims[1]!]) as Tensor2D) : h);
  const ops = createDenseOps(tf);
  const optimizer = tf.train.adam(spec.learningRate);
  // tfjs reads `learningRate` on every Adam step but declares it protected; this is its one writer.
  const adamStep = optimizer as unknown as { learningRate: number };

  /** xin: firstInput(xb) of m rows, made outside the gradient scope (layer 0 closes over it for dW). */
  const forwardTrain = (xin: Tensor2D, m: number): Tensor2D => {
    const last = weights.length - 1;
    // With no hidden layer the first layer is the linear output layer.
    if (last === 0) return ops.linear(xin, weights[0] as Tensor2D, biases[0] as Tensor1D);
    let h = afterFirst(ops.first(xin, weights[0] as Tensor2D, biases[0] as Tensor1D), m);
    for (let l = 1; l < last; l++) h = ops.hidden(h, weights[l] as Tensor2D, biases[l] as Tensor1D);
    return ops.linear(h, weights[last] as Tensor2D, biases[last] as Tensor1D);
  };
  const forwardEval = (xb: Tensor2D): Tensor2D => {
    let h = firstInput(xb);
    for (let l = 0; l < weights.length; l++) {
      h = ops.forward(h, weights[l] as Tensor2D, biases[l] as Tensor1D, l < weights.length - 1);
      if (l === 0) h = afterFirst(h, xb.shape[0]);
    }
    return h;
  };
  const lossOf = (out: Tensor2D, yb: Tensor): Tensor =>
    target.kind === 'labels'
      ? tf.losses.softmaxCrossEntropy(soft ? yb : tf.oneHot(yb as Tensor1D, outDim), out)
      : tf.losses.meanSquaredError(yb, out);

  const evaluate = (xs: Tensor2D, ys: Tensor, rows: number): { loss: number; acc?: number } => {
    let lossSum = 0;
    let correct = 0;
    for (let s = 0; s < rows; s += EVAL_BATCH) {
      const m = Math.min(EVAL_BATCH, rows - s);
      const [l, c] = tf.tidy(() => {
        const xb = tf.slice(xs, [s, 0], [m, d]);
        const yb = target.kind === 'labels' && !soft ? tf.slice(ys, [s], [m]) : tf.slice(ys, [s, 0], [m, outDim]);
        const out = forwardEval(xb);
        const loss = tf.mul(lossOf(out, yb), m);
        // With soft targets the reference label is their argmax (the hard label they were made from).
        const hard = soft ? tf.argMax(yb, 1) : yb;
        const hits = target.kind === 'labels' ? tf.sum(tf.cast(tf.equal(tf.argMax(out, 1), hard), 'int32')) : tf.scalar(0, 'int32');
        return [loss.dataSync()[0]!, hits.dataSync()[0]!];
      });
      lossSum += l;
      correct += c;
    }
    return target.kind === 'labels' ? { loss: lossSum / rows, acc: correct / rows } : { loss: lossSum / rows };
  };

  const varList = [...weights, ...biases];
  let run: Awaited<ReturnType<typeof runEpochs>>;
  try {
    run = await runEpochs(spec, nTrain, target.kind === 'labels' && nVal > 0, opts, {
      step: (rows) => {
        const cost = tf.tidy((): Scalar => {
          const idx = tf.tensor1d(rows, 'int32');
          const xin = firstInput(tf.gather(xTrain, idx) as Tensor2D);
          const yb = tf.gather(yTrain, idx);
          return optimizer.minimize(() => lossOf(forwardTrain(xin, rows.length), yb) as Scalar, true, varList)!;
        });
        const v = cost.dataSync()[0]!;
        cost.dispose();
        return v;
      },
      validate: () => (xVal && yVal ? evaluate(xVal, yVal, nVal) : undefined),
      snapshot: () => varList.map((v) => v.dataSync().slice() as Float32Array),
      scaleLearningRate: (f) => {
        adamStep.learningRate *= f;
      },
    });
  } finally {
    optimizer.dispose();
    for (const v of varList) v.dispose();
    for (const t of [xTrain, yTrain, xVal, yVal, patchIndex]) t?.dispose();
  }

  const L = weights.length;
  const layers: StudentLayer[] = [];
  for (let l = 0; l < L; l++) {
    layers.push({
      weight: run.bestWeights[l]!,
      bias: run.bestWeights[L + l]!,
      inDim: inDims[l]!,
      outDim: outDims[l]!,
      activation: l < L - 1 ? 'relu' : target.kind === 'labels' ? 'softmax' : 'linear',
    });
  }
  if (stats) foldDestandardisation(layers[L - 1]!, stats.mean, stats.std);

  return {
    signature: { inputDims: d, inputDType: x.dtype, normalisation, output: { kind: target.kind, size: outDim } },
    ...(storedArchitecture(architecture) ? { architecture } : {}),
    backend,
    seconds: (performance.now() - t0) / 1000,
    epochs: run.epochs,
    history: run.history,
    layers,
  };
}

/** y = (x·W + b)·std + mean  ⇔  x·(W·diag(std)) + (b·std + mean): the stored model emits real units. */
export function foldDestandardisation(layer: StudentLayer, mean: Float64Array, std: Float64Array): void {
  const { weight, bias, inDim, outDim } = layer;
  for (let i = 0; i < inDim; i++) for (let j = 0; j < outDim; j++) weight[i * outDim + j]! *= std[j]!;
  for (let j = 0; j < outDim; j++) bias[j] = bias[j]! * std[j]! + mean[j]!;
}

