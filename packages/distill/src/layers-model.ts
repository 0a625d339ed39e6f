/**
 * The student as a TensorFlow.js layers model, so that any tfjs runtime (browser, tfjs-node, tfjs-wasm)
 * can load the saved files with tf.loadLayersModel: a Sequential of Dense layers (mlp), or
 * Reshape → Conv2D → Flatten → Dense… (conv; its layer 0 weights are the Conv2D kernel, architecture.ts).
 * It takes normalised float input (x·scale).
 */
import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { firstLayerInput, MLP, type StudentArchitecture } from './architecture.ts';
import type { Tf } from './backend.ts';
import type { StudentLayer } from './types.ts';

/** Fixed layer names keep model.json byte-identical across runs (tfjs would otherwise number them globally). */
export const layerName = (l: number): string => `student_dense_${l}`;
export const CONV_LAYER = 'student_conv_0';

export function buildLayersModel(tf: Tf, layers: StudentLayer[], architecture: StudentArchitecture = MLP, inputDims = layers[0]!.inDim): LayersModel {
  const model = tf.sequential({ name: 'cmbn_student' });
  const conv = architecture.kind === 'conv' ? architecture : undefined;
  if (conv) {
    const { side } = firstLayerInput(conv, inputDims);
    model.add(tf.layers.reshape({ name: 'student_image', targetShape: [side!, side!, 1], inputShape: [inputDims] }));
    model.add(
      tf.layers.conv2d({ name: CONV_LAYER, filters: conv.filters, kernelSize: conv.kernel, strides: conv.stride, padding: 'valid', activation: 'relu', useBias: true }),
    );
    model.add(tf.layers.flatten({ name: 'student_flatten' }));
  }
  layers.forEach((layer, l) => {
    if (conv && l === 0) return;
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
    const weights: Tensor[] = layers.flatMap((layer, l) => [
      conv && l === 0 ? tf.tensor4d(layer.weight, [conv.kernel, conv.kernel, 1, layer.outDim]) : tf.tensor2d(layer.weight, [layer.inDim, layer.outDim]),
      tf.tensor1d(layer.bias),
    ]);
    model.setWeights(weights);
  });
  return model;
}
