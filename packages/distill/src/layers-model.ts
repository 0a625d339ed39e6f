/**
 * The student as a TensorFlow.js layers model (Sequential of Dense), so that any tfjs runtime
 * (browser, tfjs-node, tfjs-wasm) can load the saved files with tf.loadLayersModel.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import type { Tf } from './backend.ts';
import type { StudentLayer } from './types.ts';

/** Fixed layer names keep model.json byte-identical across runs (tfjs would otherwise number them globally). */
export const layerName = (l: number): string => `student_dense_${l}`;

export function buildLayersModel(tf: Tf, layers: StudentLayer[]): LayersModel {
  const model = tf.sequential({ name: 'cmbn_student' });
  layers.forEach((layer, l) => {
    model.add(
      tf.layers.dense({
        name: layerName(l),
        units: layer.outDim,
        activation: layer.activation,
        useBias: true,
        ...(l === 0 ? { inputShape: [layer.inDim] } : {}),
      }),
    );
  });
  tf.tidy(() => {
    model.setWeights(layers.flatMap((layer) => [tf.tensor2d(layer.weight, [layer.inDim, layer.outDim]), tf.tensor1d(layer.bias)]));
  });
  return model;
}
