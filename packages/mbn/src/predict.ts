import { nearestCentresDense, nearestCentresSparse, type DenseBackend } from '@cmbn/kernels';
import { gatherDense, type CodeInput } from './layer.ts';
import { keptFeatures, type MbnModel } from './model.ts';
import { assignNearest } from './kmeans.ts';
import { projectCodes } from './pca.ts';

export interface PredictInput {
  rows: number;
  cols: number;
  dtype: 'uint8' | 'float32';
  data: Uint8Array | Float32Array;
}

export interface Prediction {
  /** rows × c, row-major. */
  embedding: Float64Array;
  labels: Int32Array;
  /** The top layer's code (what PCA saw). */
  topCode: CodeInput;
}

export class PredictError extends Error {
  readonly code = 'BAD_INPUT';
}

/** Encodes points through the bottom (dense) layer of the model. */
async function encodeDenseLayer(model: MbnModel, x: PredictInput, backend: DenseBackend): Promise<CodeInput> {
  const layer = model.layers[0]!;
  if (layer.input.kind !== 'dense') throw new PredictError('model layer 1 is not dense');
  const { V, k } = layer;
  const n = x.rows;
  const d = layer.input.d;
  const ids = new Uint16Array(n * V);
  let xs: Float32Array | undefined;
  let cs: Float32Array | undefined;
  const kernel = model.params.kernel;
  for (let v = 0; v < V; v++) {
    const features = keptFeatures(layer, v);
    const m = features.length;
    xs ??= new Float32Array(n * m);
    cs ??= new Float32Array(k * m);
    const centres = new Uint32Array(layer.centres.subarray(v * k, (v + 1) * k));
    gatherDense(x.data, x.cols, null, n, features, xs);
    gatherDense(layer.bank as Uint8Array | Float32Array, d, centres, k, features, cs);
    await nearestCentresDense(backend, xs, n, m, cs, k, kernel, ids, V, v);
  }
  return { kind: 'code', n, V, k, ids };
}

/** Encodes a code through an upper (sparse) layer of the model. */
function encodeSparseLayer(model: MbnModel, index: number, input: CodeInput): CodeInput {
  const layer = model.layers[index]!;
  const { V, k } = layer;
  const Vp = input.V;
  const bank = layer.bank as Uint16Array;
  const ids = new Uint16Array(input.n * V);
  const centreCodes = new Uint16Array(k * Vp);
  for (let v = 0; v < V; v++) {
    const features = keptFeatures(layer, v);
    for (let j = 0; j < k; j++) {
      const r = layer.centres[v * k + j]! * Vp;
      centreCodes.set(bank.subarray(r, r + Vp), j * Vp);
    }
    nearestCentresSparse(input.ids, input.n, Vp, input.k, features, centreCodes, k, ids, V, v);
  }
  return { kind: 'code', n: input.n, V, k, ids };
}

/**
 * MBN prediction: every new point meets every centre of every layer. This is the slow path the
 * student is measured against, so it runs on the fastest dense backend available.
 */
export async function predict(model: MbnModel, x: PredictInput, backend: DenseBackend): Promise<Prediction> {
  if (x.cols !== model.inputDims) {
    throw new PredictError(`input has ${x.cols} columns but the model was trained on ${model.inputDims}`);
  }
  if (x.rows < 1) throw new PredictError('no points to predict');
  let code = await encodeDenseLayer(model, x, backend);
  for (let i = 1; i < model.layers.length; i++) code = encodeSparseLayer(model, i, code);
  return applyHead(model, code);
}

/** PCA projection then nearest k-means centroid: shared by training and prediction so both agree bit for bit. */
export function applyHead(model: Pick<MbnModel, 'pca' | 'centroids'>, code: CodeInput): Prediction {
  const embedding = projectCodes(code, model.pca);
  const c = model.centroids.length / model.pca.c;
  const labels = assignNearest(embedding, code.n, model.pca.c, model.centroids, c);
  return { embedding, labels, topCode: code };
}
