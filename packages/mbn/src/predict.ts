import type { DenseBackend } from '@cmbn/kernels';
import type { CodeInput } from './layer.ts';
import type { MbnModel } from './model.ts';
import { LayerPart, type LayerPoints } from './predict-layers.ts';
import { assignApplication } from './application.ts';
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

/** Rejects input the model cannot encode, with the reason. */
export function checkPredictInput(model: MbnModel, x: PredictInput): void {
  if (x.cols !== model.inputDims) {
    throw new PredictError(`input has ${x.cols} columns but the model was trained on ${model.inputDims}`);
  }
  if (!Number.isInteger(x.rows) || x.rows < 1) throw new PredictError('no points to predict');
  if (x.data.length < x.rows * x.cols) throw new PredictError(`input has ${x.data.length} values, need rows × cols = ${x.rows * x.cols}`);
  if (model.layers[0]?.input.kind !== 'dense') throw new PredictError('model layer 1 is not dense');
}

/**
 * MBN prediction on the calling thread: every new point meets every centre of every layer, the
 * GEMM on `backend` (all its threads), the sparse layers through the grouped kernel. Nothing is
 * kept between calls; to label many batches, createMbnPredictor (predict-pool.ts) keeps the
 * prepared centres and spreads the clusterings over worker threads, with the same bytes out.
 */
export async function predict(model: MbnModel, x: PredictInput, backend: DenseBackend): Promise<Prediction> {
  checkPredictInput(model, x);
  let points: LayerPoints = { kind: 'dense', n: x.rows, cols: x.cols, data: x.data };
  for (const layer of model.layers) {
    const part = new LayerPart(layer, model.params.kernel, 0, layer.V, { left: 0 });
    points = { kind: 'code', n: x.rows, V: layer.V, k: layer.k, ids: await part.encode(points, backend) };
  }
  return applyHead(model, points as CodeInput);
}

/** PCA projection then the application's labels (k-means: nearest centroid): shared by training and prediction so both agree bit for bit. */
export function applyHead(model: Pick<MbnModel, 'pca' | 'application'>, code: CodeInput): Prediction {
  const embedding = projectCodes(code, model.pca);
  const labels = assignApplication(model.application, embedding, code.n, model.pca.c);
  return { embedding, labels, topCode: code };
}
