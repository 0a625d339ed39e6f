/**
 * The student as a TensorFlow.js layers model, so that any tfjs runtime (browser, tfjs-node, tfjs-wasm)
 * can load the saved files with tf.loadLayersModel: the architecture's head for its leading layers
 * (architecture.ts tfjsHead; none for mlp, Reshape → Conv2D → Flatten for conv), then a Dense layer for
 * each of the others. It takes normalised float input (x·scale).
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { leadingWidths, MLP, tfjsHead, type StudentArchitecture } from './architecture.ts';
import type { Tf } from './backend.ts';
import type { StudentLayer } from './types.ts';

/** Fixed layer names keep model.json byte-identical across runs (tfjs would otherwise number them globally). */
export const layerName = (l: number): string => `student_dense_${l}`;

export function buildLayersModel(tf: Tf, layers: StudentLayer[], architecture: StudentArchitecture = MLP, inputDims = layers[0]!.inDim): LayersModel {
  const model = tf.sequential({ name: 'cmbn_student' });
  const lead = leadingWidths(architecture).length;
  const head = tfjsHead(tf, architecture, inputDims, layers);
  for (const layer of head.layers) model.add(layer);
  layers.forEach((layer, l) => {
    if (l < lead) return;
    model.add(
      tf.layers.dense({
        name: layerName(l),
        units: layer.outDim,
        activation: layer.activation,
        useBias: true,
        // Without a head the first Dense layer takes the input.
        ...(head.layers.length === 0 && l === 0 ? { inputShape: [layer.inDim] } : {}),
      }),
    );
  });
  tf.tidy(() => {
    const weights: Tensor[] = [...head.weights(), ...layers.slice(lead).flatMap((layer) => [tf.tensor2d(layer.weight, [layer.inDim, layer.outDim]), tf.tensor1d(layer.bias)])];
    model.setWeights(weights);
  });
  return model;
}
