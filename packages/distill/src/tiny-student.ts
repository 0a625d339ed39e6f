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

/**
 * A 784 → 32 → 10 student with fixed sin-shaped weights: MNIST-shaped, so the docs' snippets can run
 * on real digits, with no training. 'labels' ends in softmax; 'embedding' emits the 10 values.
 */
export function mnistShapedStudent(kind: 'labels' | 'embedding' = 'labels'): TrainedStudent {
  const w = (n: number, s: number, scale: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(s * 13 + i * 2.3) * scale);
  const s = handSetStudent([
    { weight: w(784 * 32, 1, 0.1), bias: w(32, 2, 0.1), inDim: 784, outDim: 32, activation: 'relu' },
    { weight: w(32 * 10, 3, 0.5), bias: w(10, 4, 0.1), inDim: 32, outDim: 10, activation: kind === 'labels' ? 'softmax' : 'linear' },
  ]);
  if (kind === 'embedding') s.signature = { ...s.signature, output: { kind: 'embedding', size: 10 } };
  return s;
}
