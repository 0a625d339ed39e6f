/**
 * trainStudentOrt: the MLP student trained with onnxruntime's MLAS GEMMs instead of tfjs-wasm's, with
 * train.ts's semantics (the same split, batch order, Glorot init, Adam, losses, early stopping).
 *
 * One in-memory ONNX graph (onnx-proto, as onnx-student.ts builds the inference graph) computes a
 * whole training step for a batch: the forward pass, the loss, and the backward pass by hand —
 *   labels:    G = (softmax(z) − y)/m        (tf.losses.softmaxCrossEntropy's gradient, mean over rows)
 *   embedding: G = 2(z − y)/(m·dim)          (tf.losses.meanSquaredError, mean over all elements)
 *   dW_l = H_{l−1}ᵀ·dZ_l, db_l = Σ_rows dZ_l, dZ_{l−1} = (dZ_l·W_lᵀ) ⊙ [H_{l−1} > 0]
 * — and returns the loss and every gradient. MLAS packs transposed operands itself, so Gemm's
 * transA/transB cost nothing (unlike tfjs-wasm, dense-op.ts). The batch dimension is symbolic, so the
 * last short batch runs through the same session; the weights are graph inputs that wrap our own
 * Float32Arrays, which the Adam step below updates in place (the same update as tfjs's AdamOptimizer).
 *
 * Adam runs in JS between steps: measured here, one tight loop over the ~670k parameters of [512, 512]
 * takes ~2.3 ms, the same update as an ONNX graph of elementwise ops ~2.5 ms for layer 0 alone.
 *
 * Reproducible: the data path is all seeded (rng.ts), and onnxruntime's CPU kernels cut their work
 * into blocks fixed by the shapes and the thread count (whichever thread runs a block writes the same
 * bits), so a fixed thread count gives the same weights run to run — tested, not a documented ORT
 * guarantee. It is not bit-identical to tfjs (summation order differs) but follows the same path to
 * float rounding (tested).
 */
import { availableParallelism } from 'node:os';
import type * as OrtNs from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNs } from 'onnx-proto';
import { MLP, trainerProblem } from './architecture.ts';
import { checkInput, checkTarget, gatherLabels, gatherRows, gatherScaled, gatherStandardised, trainingLayout } from './prepare.ts';
import { glorotUniform, Rng } from './rng.ts';
import { validateSpec, type StudentSpec } from './spec.ts';
import { runEpochs } from './epochs.ts';
import { EVAL_BATCH, foldDestandardisation, type TrainOptions } from './train.ts';
import type { StudentInput, StudentLayer, StudentTargetData, TrainedStudent } from './types.ts';

const { onnx } = onnxProto;
type Ort = typeof OrtNs;
/** Loaded on first use, as predictor.ts does: importing @cmbn/distill does not load onnxruntime's native binding. */
const loadOrt = (): Promise<Ort> => import('onnxruntime-node');
const T = onnx.TensorProto.DataType;

/** tfjs's Adam defaults (tf.train.adam; epsilon is the wasm/cpu backend's epsilon()). */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-7;
const ONE_MINUS_BETA1 = 1 - BETA1;
const ONE_MINUS_BETA2 = 1 - BETA2;

export type OrtLoss = 'softmax-cross-entropy' | 'mse';

const valueInfo = (name: string, dims: ReadonlyArray<string | number>): OnnxNs.ValueInfoProto =>
  onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: T.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
const intAttr = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const nodeOf = (opType: string, input: string[], output: string[], attribute: OnnxNs.AttributeProto[] = []) =>
  onnx.NodeProto.create({ opType, input, output, attribute });
const floatScalar = (name: string, v: number) => onnx.TensorProto.create({ name, dataType: T.FLOAT, dims: [], floatData: [v] });

/**
 * The step graph (backward: true) — inputs X [n, dims₀], Y [n, out], Inv [] (1/m, or 1/(m·out) for
 * mse), W_l, B_l; outputs Loss [] (the batch mean), dW_l, dB_l — or the forward graph (backward:
 * false): X and the weights in, the last layer's pre-activation Z out.
 */
export function buildMlpTrainGraph(dims: readonly number[], loss: OrtLoss, backward: boolean): Uint8Array {
  const L = dims.length - 1;
  const node: OnnxNs.NodeProto[] = [];
  const initializer: OnnxNs.TensorProto[] = [];
  const input = [valueInfo('X', ['n', dims[0]!])];
  for (let l = 0; l < L; l++) input.push(valueInfo(`W${l}`, [dims[l]!, dims[l + 1]!]), valueInfo(`B${l}`, [dims[l + 1]!]));
  // H[l] is layer l's input: X, then the ReLU outputs.
  const H = ['X'];
  for (let l = 0; l < L; l++) {
    node.push(nodeOf('Gemm', [H[l]!, `W${l}`, `B${l}`], [`Z${l}`]));
    if (l < L - 1) {
      node.push(nodeOf('Relu', [`Z${l}`], [`H${l + 1}`]));
      H.push(`H${l + 1}`);
    }
  }
  const z = `Z${L - 1}`;
  if (!backward) {
    const graph = onnx.GraphProto.create({ name: 'cmbn_student_forward', node, input, output: [valueInfo(z, ['n', dims[L]!])] });
    return encode(graph);
  }
  input.push(valueInfo('Y', ['n', dims[L]!]), valueInfo('Inv', []));
  initializer.push(floatScalar('Zero', 0), onnx.TensorProto.create({ name: 'Axis0', dataType: T.INT64, dims: [1], int64Data: [0] }));
  if (loss === 'softmax-cross-entropy') {
    // loss = −Σ y·log_softmax(z) / m; its gradient (softmax(z) − y)/m, as tfjs's (which takes Σy = 1).
    node.push(
      nodeOf('LogSoftmax', [z], ['LogP'], [intAttr('axis', 1)]),
      nodeOf('Exp', ['LogP'], ['P']),
      nodeOf('Mul', ['Y', 'LogP'], ['YLogP']),
      nodeOf('ReduceSum', ['YLogP'], ['NegLossSum'], [intAttr('keepdims', 0)]),
      nodeOf('Mul', ['NegLossSum', 'Inv'], ['NegLoss']),
      nodeOf('Neg', ['NegLoss'], ['Loss']),
      nodeOf('Sub', ['P', 'Y'], ['PY']),
      nodeOf('Mul', ['PY', 'Inv'], [`dZ${L - 1}`]),
    );
  } else {
    // loss = Σ (z − y)² / (m·out); its gradient 2(z − y)/(m·out).
    initializer.push(floatScalar('Two', 2));
    node.push(
      nodeOf('Sub', [z, 'Y'], ['D']),
      nodeOf('Mul', ['D', 'D'], ['D2']),
      nodeOf('ReduceSum', ['D2'], ['SumD2'], [intAttr('keepdims', 0)]),
      nodeOf('Mul', ['SumD2', 'Inv'], ['Loss']),
      nodeOf('Mul', ['Inv', 'Two'], ['Inv2']),
      nodeOf('Mul', ['D', 'Inv2'], [`dZ${L - 1}`]),
    );
  }
  const output = [valueInfo('Loss', [])];
  for (let l = L - 1; l >= 0; l--) {
    node.push(
      nodeOf('Gemm', [H[l]!, `dZ${l}`], [`dW${l}`], [intAttr('transA', 1)]),
      nodeOf('ReduceSum', [`dZ${l}`, 'Axis0'], [`dB${l}`], [intAttr('keepdims', 0)]),
    );
    if (l > 0) {
      // relu'(z) read from the output (h > 0 ⇔ z > 0), tf.step's convention at 0. Layer 0 needs no dX.
      node.push(
        nodeOf('Gemm', [`dZ${l}`, `W${l}`], [`dH${l}`], [intAttr('transB', 1)]),
        nodeOf('Greater', [H[l]!, 'Zero'], [`Mask${l}`]),
        nodeOf('Where', [`Mask${l}`, `dH${l}`, 'Zero'], [`dZ${l - 1}`]),
      );
    }
  }
  for (let l = 0; l < L; l++) output.push(valueInfo(`dW${l}`, [dims[l]!, dims[l + 1]!]), valueInfo(`dB${l}`, [dims[l + 1]!]));
  return encode(onnx.GraphProto.create({ name: 'cmbn_student_train', node, initializer, input, output }));
}

function encode(graph: OnnxNs.GraphProto): Uint8Array {
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph, producerName: 'cmbn-distill' });
  return onnx.ModelProto.encode(model).finish();
}

export async function createTrainSession(bytes: Uint8Array, threads: number): Promise<OrtNs.InferenceSession> {
  const ort = await loadOrt();
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // No spinning: between two runs the main thread does the Adam step, and a spinning pool would take its core.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}

/** Weights then biases per layer, as the graphs' inputs name them. */
interface Params {
  names: string[];
  values: Float32Array[];
  tensors: OrtNs.Tensor[];
}

function initParams(ort: Ort, dims: readonly number[], seed: number): Params {
  const initRng = new Rng(seed, 2);
  const p: Params = { names: [], values: [], tensors: [] };
  for (let l = 0; l + 1 < dims.length; l++) {
    const w = glorotUniform(initRng, dims[l]!, dims[l + 1]!);
    const b = new Float32Array(dims[l + 1]!);
    p.names.push(`W${l}`, `B${l}`);
    p.values.push(w, b);
    p.tensors.push(new ort.Tensor('float32', w, [dims[l]!, dims[l + 1]!]), new ort.Tensor('float32', b, [dims[l + 1]!]));
  }
  return p;
}

/** tfjs's AdamOptimizer.applyGradients, elementwise: m, v moments; accBeta = βᵗ (kept in float32 as tfjs does). */
class Adam {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private accBeta1 = Math.fround(BETA1);
  private accBeta2 = Math.fround(BETA2);

  constructor(
    shapes: Float32Array[],
    public learningRate: number,
  ) {
    this.m = shapes.map((a) => new Float32Array(a.length));
    this.v = shapes.map((a) => new Float32Array(a.length));
  }

  step(values: Float32Array[], grads: Float32Array[]): void {
    // p ← p − lr·m̂/(√v̂ + ε), m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ); the constants are hoisted (a third
    // faster than dividing per element), which moves the result by float rounding only.
    const step = this.learningRate / Math.fround(1 - this.accBeta1);
    const invC2 = 1 / Math.fround(1 - this.accBeta2);
    for (let k = 0; k < values.length; k++) {
      const p = values[k]!;
      const g = grads[k]!;
      const m = this.m[k]!;
      const v = this.v[k]!;
      const len = p.length;
      for (let i = 0; i < len; i++) {
        const gi = g[i]!;
        const mi = m[i]! * BETA1 + gi * ONE_MINUS_BETA1;
        const vi = v[i]! * BETA2 + gi * gi * ONE_MINUS_BETA2;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i]! - (step * mi) / (Math.sqrt(vi * invC2) + EPSILON);
      }
    }
    this.accBeta1 = Math.fround(this.accBeta1 * BETA1);
    this.accBeta2 = Math.fround(this.accBeta2 * BETA2);
  }
}

/** Rows `idx` of a row-major rows × cols block into `out` (a prefix of it). */
function gatherInto(src: Float32Array, cols: number, idx: Int32Array, out: Float32Array): Float32Array {
  for (let r = 0; r < idx.length; r++) out.set(src.subarray(idx[r]! * cols, (idx[r]! + 1) * cols), r * cols);
  return out.subarray(0, idx.length * cols);
}

export async function trainStudentOrt(
  x: StudentInput,
  target: StudentTargetData,
  spec: StudentSpec,
  opts: TrainOptions = {},
): Promise<TrainedStudent> {
  checkInput(x);
  validateSpec(spec, x.cols);
  checkTarget(target, x.rows);
  if (target.kind !== spec.target) throw new TypeError(`spec.target is ${spec.target} but the target given is ${target.kind}`);
  const architecture = spec.architecture ?? MLP;
  const problem = trainerProblem('ort', architecture);
  if (problem !== null || architecture.kind !== MLP.kind) {
    throw new RangeError(`${problem} (trainer: 'tfjs')`);
  }
  const threads = opts.threads ?? availableParallelism();
  const t0 = performance.now();
  const ort = await loadOrt();

  // The same layout and streams as train.ts. 0: the train/validation split. 1: batch order. 2: weights.
  const { n, d, nVal, nTrain, order, outDim, normalisation, stats, soft } = trainingLayout(x, target, spec);
  /** Targets as dense float rows: soft probabilities, one-hot hard labels, or standardised embeddings. */
  const makeY = (from: number, to: number): Float32Array => {
    if (target.kind === 'embedding') return gatherStandardised(target.values, target.dim, order, from, to, stats!.mean, stats!.std);
    if (soft) return gatherRows(soft, outDim, order, from, to);
    const labels = gatherLabels(target.labels, order, from, to, outDim);
    const y = new Float32Array((to - from) * outDim);
    for (let i = 0; i < labels.length; i++) y[i * outDim + labels[i]!] = 1;
    return y;
  };
  const xTrain = gatherScaled(x, order, 0, nTrain, normalisation.scale);
  const yTrain = makeY(0, nTrain);
  const xVal = nVal > 0 ? gatherScaled(x, order, nTrain, n, normalisation.scale) : undefined;
  const yVal = nVal > 0 ? makeY(nTrain, n) : undefined;

  const dims = [d, ...spec.hidden, outDim];
  const L = dims.length - 1;
  const loss: OrtLoss = target.kind === 'labels' ? 'softmax-cross-entropy' : 'mse';
  const params = initParams(ort, dims, spec.seed);
  const adam = new Adam(params.values, spec.learningRate);
  const stepSession = await createTrainSession(buildMlpTrainGraph(dims, loss, true), threads);
  const evalSession = nVal > 0 ? await createTrainSession(buildMlpTrainGraph(dims, loss, false), threads) : undefined;
  const weightFeeds = (): Record<string, OrtNs.Tensor> => Object.fromEntries(params.names.map((name, k) => [name, params.tensors[k]!]));
  const gradNames = params.names.map((name) => `d${name}`);

  const xBuf = new Float32Array(spec.batchSize * d);
  const yBuf = new Float32Array(spec.batchSize * outDim);
  /** One step on rows idx: the batch-mean loss; the weights are updated in place. */
  const step = async (idx: Int32Array): Promise<number> => {
    const m = idx.length;
    const feeds = weightFeeds();
    feeds.X = new ort.Tensor('float32', gatherInto(xTrain, d, idx, xBuf), [m, d]);
    feeds.Y = new ort.Tensor('float32', gatherInto(yTrain, outDim, idx, yBuf), [m, outDim]);
    feeds.Inv = new ort.Tensor('float32', Float32Array.of(loss === 'mse' ? 1 / (m * outDim) : 1 / m), []);
    const out = await stepSession.run(feeds);
    const grads = gradNames.map((g) => out[g]!.data as Float32Array);
    const value = (out.Loss!.data as Float32Array)[0]!;
    adam.step(params.values, grads);
    for (const t of Object.values(out)) t.dispose();
    return value;
  };

  const evaluate = async (xs: Float32Array, ys: Float32Array, rows: number): Promise<{ loss: number; acc?: number }> => {
    let lossSum = 0;
    let correct = 0;
    for (let s = 0; s < rows; s += EVAL_BATCH) {
      const m = Math.min(EVAL_BATCH, rows - s);
      const feeds = weightFeeds();
      feeds.X = new ort.Tensor('float32', xs.subarray(s * d, (s + m) * d), [m, d]);
      const out = (await evalSession!.run(feeds))[`Z${L - 1}`]!;
      const z = out.data as Float32Array;
      for (let i = 0; i < m; i++) {
        const zr = i * outDim;
        const yr = (s + i) * outDim;
        if (loss === 'mse') {
          for (let j = 0; j < outDim; j++) lossSum += (z[zr + j]! - ys[yr + j]!) ** 2 / outDim;
          continue;
        }
        // −Σ y·log_softmax(z), with the max subtracted for range; the argmaxes take the first maximum (tf.argMax).
        let zMax = -Infinity;
        let zArg = 0;
        let yMax = -Infinity;
        let yArg = 0;
        for (let j = 0; j < outDim; j++) {
          if (z[zr + j]! > zMax) [zMax, zArg] = [z[zr + j]!, j];
          if (ys[yr + j]! > yMax) [yMax, yArg] = [ys[yr + j]!, j];
        }
        let sumExp = 0;
        for (let j = 0; j < outDim; j++) sumExp += Math.exp(z[zr + j]! - zMax);
        const logZ = zMax + Math.log(sumExp);
        for (let j = 0; j < outDim; j++) lossSum -= ys[yr + j]! * (z[zr + j]! - logZ);
        if (zArg === yArg) correct++;
      }
      out.dispose();
    }
    return loss === 'mse' ? { loss: lossSum / rows } : { loss: lossSum / rows, acc: correct / rows };
  };

  let run: Awaited<ReturnType<typeof runEpochs>>;
  try {
    run = await runEpochs(spec, nTrain, target.kind === 'labels' && nVal > 0, opts, {
      step,
      validate: () => (xVal && yVal ? evaluate(xVal, yVal, nVal) : undefined),
      snapshot: () => params.values.map((v) => v.slice()),
      scaleLearningRate: (f) => {
        adam.learningRate *= f;
      },
    });
  } finally {
    await stepSession.release();
    await evalSession?.release();
  }

  const layers: StudentLayer[] = [];
  for (let l = 0; l < L; l++) {
    layers.push({
      weight: run.bestWeights[2 * l]!,
      bias: run.bestWeights[2 * l + 1]!,
      inDim: dims[l]!,
      outDim: dims[l + 1]!,
      activation: l < L - 1 ? 'relu' : target.kind === 'labels' ? 'softmax' : 'linear',
    });
  }
  if (stats) foldDestandardisation(layers[L - 1]!, stats.mean, stats.std);

  return {
    signature: { inputDims: d, inputDType: x.dtype, normalisation, output: { kind: target.kind, size: outDim } },
    backend: 'onnxruntime',
    seconds: (performance.now() - t0) / 1000,
    epochs: run.epochs,
    history: run.history,
    layers,
  };
}
