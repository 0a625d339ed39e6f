/**
 * MBN prediction as it was first written: one clustering at a time, every centre matrix gathered
 * again on every call, the sparse layers through the one-clustering kernel. Kept only as the
 * reference that the fast paths (predict.ts, predict-pool.ts) are tested and benchmarked against
 * byte for byte; nothing in production calls it.
 */
import { nearestCentresDense, nearestCentresSparse, type DenseBackend } from '@cmbn/kernels';
import { gatherDense, type CodeInput } from './layer.ts';
import { keptFeatures, type MbnModel } from './model.ts';
import { applyHead, checkPredictInput, type Prediction, type PredictInput } from './predict.ts';

async function encodeDenseLayerReference(model: MbnModel, x: PredictInput, backend: DenseBackend): Promise<CodeInput> {
  const layer = model.layers[0]!;
  if (layer.input.kind !== 'dense') throw new Error('model layer 1 is not dense');
  const { V, k } = layer;
  const n = x.rows;
  const d = layer.input.d;
  const ids = new Uint16Array(n * V);
  let xs: Float32Array | undefined;
  let cs: Float32Array | undefined;
  for (let v = 0; v < V; v++) {
    const features = keptFeatures(layer, v);
    const m = features.length;
    xs ??= new Float32Array(n * m);
    cs ??= new Float32Array(k * m);
    const centres = new Uint32Array(layer.centres.subarray(v * k, (v + 1) * k));
    gatherDense(x.data, x.cols, null, n, features, xs);
    gatherDense(layer.bank as Uint8Array | Float32Array, d, centres, k, features, cs);
    await nearestCentresDense(backend, xs, n, m, cs, k, model.params.kernel, ids, V, v);
  }
  return { kind: 'code', n, V, k, ids };
}

function encodeSparseLayerReference(model: MbnModel, index: number, input: CodeInput): CodeInput {
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

/** The reference MBN prediction (see the file comment); same answers as predict, slower. Adds each layer's seconds to layerSeconds. */
export async function predictReference(model: MbnModel, x: PredictInput, backend: DenseBackend, layerSeconds?: number[]): Promise<Prediction> {
  checkPredictInput(model, x);
  let t = performance.now();
  const lap = (l: number) => {
    const now = performance.now();
    if (layerSeconds) layerSeconds[l] = (layerSeconds[l] ?? 0) + (now - t) / 1000;
    t = now;
  };
  let code = await encodeDenseLayerReference(model, x, backend);
  lap(0);
  for (let i = 1; i < model.layers.length; i++) {
    code = encodeSparseLayerReference(model, i, code);
    lap(i);
  }
  return applyHead(model, code);
}
