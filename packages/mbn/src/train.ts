import { availableParallelism } from 'node:os';
import type { CodeInput, DenseInput, LayerInput } from './layer.ts';
import { buildModelLayer, serializeModel, sha256Hex, type MbnModel, type ModelLayer } from './model.ts';
import { parseParams, resolveKs, smallVWarning, type TMbnParams, type TMbnParamsInput } from './params.ts';
import { projectCodes, type PcaModel } from './pca.ts';
import { fitOutputStep } from './pca-toolbox.ts';
import { fitApplication, type FittedApplication } from './application.ts';
import { applyHead } from './predict.ts';
import { placeShard, planShards, type ShardSpec } from './shard.ts';
import { ShardThreadPool } from './thread-pool.ts';

export interface TrainMatrix {
  rows: number;
  cols: number;
  dtype: 'uint8' | 'float32';
  data: Uint8Array | Float32Array;
}

export type TrainProgress =
  /** done/total count `unit`s of the current layer (clusterings in-process, shards remotely). */
  | { stage: 'layer'; layer: number; layers: number; k: number; done: number; total: number; unit?: 'clusterings' | 'shards' }
  | { stage: 'pca' | 'kmeans' | 'model'; layers: number };

export interface TrainOptions {
  threads?: number;
  /** Clusterings per shard; affects scheduling only, never the result. */
  shardSize?: number;
  backend?: 'ort' | 'js';
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainResult {
  params: TMbnParams;
  ks: number[];
  model: MbnModel;
  modelBytes: Uint8Array;
  modelHash: string;
  labels: Int32Array;
  embedding: Float64Array;
  /** The top layer's code, what the output step saw (for evaluating other output steps on it). */
  topCode: CodeInput;
  mbnSeconds: number;
  layerSeconds: number[];
  /**
   * Per layer, the sparse kernel's score increments (0 for the dense bottom layer): the real
   * integer work that bounds a sparse layer's time. Only where the runner counts them (in-process).
   */
  layerIncrements?: number[];
}

/** Runs one layer's shards; the in-process trainer and the distributed coordinator each provide one. */
export type LayerRunner = (input: LayerInput, specs: ShardSpec[], onShardDone: (spec: ShardSpec) => void) => Promise<Uint16Array[]>;

export function denseInput(x: TrainMatrix): DenseInput {
  return { kind: 'dense', n: x.rows, d: x.cols, dtype: x.dtype, data: x.data };
}

/** Assembles a layer's n × V code from its shard blocks. */
export function assembleLayer(n: number, V: number, k: number, specs: ShardSpec[], blocks: Uint16Array[]): CodeInput {
  const ids = new Uint16Array(n * V);
  specs.forEach((s, i) => placeShard(blocks[i]!, n, s.v0, s.v1, V, ids));
  return { kind: 'code', n, V, k, ids };
}

export function layerShardSpecs(params: TMbnParams, layer: number, k: number, shardSize: number): ShardSpec[] {
  return planShards(params.V, shardSize).map(({ v0, v1 }) => ({
    layer,
    v0,
    v1,
    k,
    seed: params.seed,
    a: params.a,
    kernel: params.kernel,
  }));
}

/** The model and the application's output on the training points. */
export interface FinishResult {
  model: MbnModel;
  modelBytes: Uint8Array;
  modelHash: string;
  labels: Int32Array;
  embedding: Float64Array;
}

/** The output step and the application fitted on the top code, and their output on the training points. */
export interface FinishHead {
  pca: PcaModel;
  application: FittedApplication;
  labels: Int32Array;
  embedding: Float64Array;
}

/**
 * The first half of finishTraining: PCA (the output step) and the application on the top code.
 * It needs no layer input, so a caller can let the top code go before it builds the layers' model
 * sections (finish-thread.ts does).
 */
export function fitHead(top: CodeInput, params: TMbnParams, layers: number, onProgress?: (p: TrainProgress) => void): FinishHead {
  onProgress?.({ stage: 'pca', layers });
  const pca = fitOutputStep(top, params.outputStep, params.clusters, params.seed);
  // The stage keeps its name 'kmeans' (progress listeners match on it) whatever the application is.
  onProgress?.({ stage: 'kmeans', layers });
  const application = fitApplication(projectCodes(top, pca), top.n, pca.c, params, params.seed);
  // Labels come from the same head that predict() uses, so predict on training points reproduces them.
  const { labels, embedding } = applyHead({ pca, application }, top);
  return { pca, application, labels, embedding };
}

/**
 * The second half: the model from the head and each layer's section (`buildModelLayer` of layer l's
 * input, l = 1..L in order), serialised and hashed. Each section needs only its own layer's input,
 * so a caller may build them one at a time and drop each input before it has the next.
 */
export function completeModel(params: TMbnParams, ks: number[], first: Pick<DenseInput, 'n' | 'd' | 'dtype'>, layers: ModelLayer[], head: FinishHead): FinishResult {
  if (layers.length !== ks.length) throw new Error(`the model needs ${ks.length} layer sections, got ${layers.length}`);
  const model: MbnModel = {
    params,
    ks,
    trainPoints: first.n,
    inputDims: first.d,
    inputDType: first.dtype,
    layers,
    pca: head.pca,
    application: head.application,
  };
  const modelBytes = serializeModel(model);
  return { model, modelBytes, modelHash: sha256Hex(modelBytes), labels: head.labels, embedding: head.embedding };
}

/**
 * The application and the model, from the layer inputs (layer 1's raw data, then each layer's
 * code) and the top code: fitHead, then completeModel. Shared by the in-process and the
 * distributed trainer (finishTrainingInThread runs the same two halves), so both give the same bytes.
 */
export function finishTraining(
  inputs: LayerInput[],
  top: CodeInput,
  params: TMbnParams,
  ks: number[],
  onProgress?: (p: TrainProgress) => void,
): FinishResult {
  const head = fitHead(top, params, ks.length, onProgress);
  onProgress?.({ stage: 'model', layers: ks.length });
  const first = inputs[0]!;
  if (first.kind !== 'dense') throw new Error('layer 1 input must be dense');
  return completeModel(params, ks, first, inputs.map((input, i) => buildModelLayer(input, i + 1, ks[i]!, params)), head);
}

const warned = new Set<string>();

/** Writes a warning to stderr once per process, so a CLI or a bench that trains often says it once. */
function warnOnce(message: string | null): void {
  if (message === null || warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`cmbn: warning: ${message}\n`);
}

/** Trains MBN layer by layer with `runLayer`, then PCA, k-means and the model. */
export async function trainWith(
  x: TrainMatrix,
  paramsInput: TMbnParamsInput,
  runLayer: LayerRunner,
  opts: { shardSize: number; onProgress?: (p: TrainProgress) => void; sparseIncrements?: () => number },
): Promise<TrainResult> {
  const params = parseParams(paramsInput);
  const ks = resolveKs(x.rows, params);
  warnOnce(smallVWarning(params.V, ks.length));
  const t0 = performance.now();
  let input: LayerInput = denseInput(x);
  const layerSeconds: number[] = [];
  const layerIncrements: number[] = [];
  const sections: ModelLayer[] = [];
  let top: CodeInput | undefined;
  for (let l = 0; l < ks.length; l++) {
    const k = ks[l]!;
    const specs = layerShardSpecs(params, l + 1, k, opts.shardSize);
    let done = 0;
    const report = () => opts.onProgress?.({ stage: 'layer', layer: l + 1, layers: ks.length, k, done, total: params.V, unit: 'clusterings' });
    report();
    const tl = performance.now();
    const increments0 = opts.sparseIncrements?.() ?? 0;
    const blocks = await runLayer(input, specs, (spec) => {
      done += spec.v1 - spec.v0;
      report();
    });
    layerSeconds.push((performance.now() - tl) / 1000);
    layerIncrements.push((opts.sparseIncrements?.() ?? 0) - increments0);
    // A layer's model section needs only that layer's input, which nothing needs afterwards: build
    // it now, so training holds one n×V code at a time rather than every layer's (finishTraining's
    // bytes, since the sections are the same pure function of the same inputs).
    sections.push(buildModelLayer(input, l + 1, k, params));
    top = assembleLayer(x.rows, params.V, k, specs, blocks);
    input = top;
  }
  const head = fitHead(top!, params, ks.length, opts.onProgress);
  opts.onProgress?.({ stage: 'model', layers: ks.length });
  const finished = completeModel(params, ks, { n: x.rows, d: x.cols, dtype: x.dtype }, sections, head);
  return {
    params,
    ks,
    ...finished,
    topCode: top!,
    mbnSeconds: (performance.now() - t0) / 1000,
    layerSeconds,
    ...(opts.sparseIncrements ? { layerIncrements } : {}),
  };
}

/** About 8 shards per thread: enough for the pool to balance a layer's uneven shards, few enough to keep per-shard set-up small. */
export function defaultShardSize(V: number, threads: number): number {
  return Math.max(1, Math.floor(V / (threads * 8)));
}

/** A LayerRunner on a ShardThreadPool: the layer's input goes to every thread, then its shards run in parallel. */
export function poolLayerRunner(pool: ShardThreadPool): LayerRunner {
  return async (input, specs, onShardDone) => {
    pool.setInput(input);
    return Promise.all(
      specs.map(async (s) => {
        const block = await pool.run(s);
        onShardDone(s);
        return block;
      }),
    );
  };
}

/** In-process training on every core (worker threads), the CLI's embedded default. */
export async function trainMbn(x: TrainMatrix, paramsInput: TMbnParamsInput, opts: TrainOptions = {}): Promise<TrainResult> {
  const threads = Math.max(1, opts.threads ?? availableParallelism());
  const params = parseParams(paramsInput);
  resolveKs(x.rows, params); // fail on impossible params before starting threads
  const shardSize = opts.shardSize ?? defaultShardSize(params.V, threads);
  const pool = new ShardThreadPool(threads, opts.backend);
  try {
    return await trainWith(x, params, poolLayerRunner(pool), { shardSize, onProgress: opts.onProgress, sparseIncrements: () => pool.sparseIncrements });
  } finally {
    await pool.close();
  }
}
