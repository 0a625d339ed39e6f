import type { StudentLayer, TrainedStudent } from './types.ts';

/**
 * A labels student (uint8 input scaled by 1/255, softmax over the last layer's width) from hand-set
 * layers: what tests and benches wrap around weights they choose, with no training.
 */
export function handSetStudent(layers: StudentLayer[]): TrainedStudent {
  const inputDims = layers[0]!.inDim;
  return {
    signature: { inputDims, inputDType: 'uint8', normalisation: { kind: 'scale', scale: 1 / 255 }, output: { kind: 'labels', size: layers.at(-1)!.outDim } },
    backend: 'wasm',
    seconds: 0,
    epochs: 1,
    history: { loss: [1], valLoss: [1] },
    layers,
  };
}

/**
 * A deterministic 6→4→3 labels student with hand-set weights (sin-shaped, scaled by `weightScale`),
 * for tests and examples that need a real student archive without training one: publish/pull,
 * the registry contract, serving. Different seeds give different bytes, hence different versions.
 */
export function tinyStudent(seed: number, weightScale = 0.5): TrainedStudent {
  const w = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7 + i) * weightScale);
  return handSetStudent([
    { weight: w(6 * 4), bias: w(4), inDim: 6, outDim: 4, activation: 'relu' },
    { weight: w(4 * 3), bias: w(3), inDim: 4, outDim: 3, activation: 'softmax' },
  ]);
}
