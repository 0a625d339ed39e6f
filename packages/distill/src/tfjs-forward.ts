/**
 * The student's forward pass on tfjs, one batch at a time: what the tfjs predictor runs, and what
 * calibration (calibrate.ts) runs to see every hidden activation. tfjs-wasm's arithmetic is fixed by
 * WebAssembly, so on the default backend the same student and rows give the same floats on every host.
 */
import type { Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import { firstLayerInput, MLP } from './architecture.ts';
import type { Tf } from './backend.ts';
import type { StudentInput, TrainedStudent } from './types.ts';

export interface TfjsStudent {
  /**
   * Runs rows [from, from + m) of x, scaled by the normalisation, and returns the last layer's
   * pre-softmax output, [m, size]. `onLayerInput(l, h)` sees the input of every layer l ≥ 1. Call it
   * inside tf.tidy.
   */
  forward(x: StudentInput, from: number, m: number, onLayerInput?: (l: number, h: Tensor2D) => void): Tensor2D;
  dispose(): void;
}

export function tfjsStudent(tf: Tf, student: Pick<TrainedStudent, 'signature' | 'layers' | 'architecture'>): TfjsStudent {
  const ws = student.layers.map((l) => tf.tensor2d(l.weight, [l.inDim, l.outDim]));
  const bs = student.layers.map((l) => tf.tensor1d(l.bias));
  const d = student.signature.inputDims;
  const first = firstLayerInput(student.architecture ?? MLP, d);
  const patchIndex = first.patchIndex ? tf.tensor1d(first.patchIndex, 'int32') : undefined;
  const scale = student.signature.normalisation.scale;
  /** The scaled rows of one batch, reused from batch to batch (grown to the largest m seen). */
  let chunk = new Float32Array(0);
  return {
    forward(x, from, m, onLayerInput) {
      if (chunk.length < m * d) chunk = new Float32Array(m * d);
      for (let i = 0, o = from * d; i < m * d; i++) chunk[i] = x.data[o + i]! * scale;
      let h: Tensor2D = tf.tensor2d(chunk.subarray(0, m * d), [m, d]);
      // A conv student's layer 0 reads im2col patches (architecture.ts).
      if (patchIndex) h = tf.reshape(tf.gather(h, patchIndex, 1), [m * first.positions, first.inDim]);
      // Softmax is skipped: the labels are its argmax, and embeddings are linear.
      for (let l = 0; l < ws.length; l++) {
        if (l > 0) onLayerInput?.(l, h);
        h = tf.fused.matMul({ a: h, b: ws[l]!, bias: bs[l] as Tensor1D, activation: student.layers[l]!.activation === 'relu' ? 'relu' : 'linear' }) as Tensor2D;
        if (l === 0 && patchIndex) h = tf.reshape(h, [m, first.positions * student.layers[0]!.outDim]);
      }
      return h;
    },
    dispose() {
      for (const t of [...ws, ...bs, ...(patchIndex ? [patchIndex] : [])]) t.dispose();
    },
  };
}
