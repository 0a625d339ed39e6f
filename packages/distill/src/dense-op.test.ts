import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { loadTf } from './backend.ts';
import { createDenseOps } from './dense-op.ts';

describe('transpose-free dense gradients', () => {
  it('match tfjs autodiff of relu(x·W + b) and x·W + b', async () => {
    const { tf } = await loadTf();
    const ops = createDenseOps(tf);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([7, 5], 0, 1, 'float32', 1) as Tensor2D;
      const w = tf.randomNormal([5, 4], 0, 1, 'float32', 2) as Tensor2D;
      const b = tf.randomNormal([4], 0, 1, 'float32', 3) as Tensor1D;
      const up = tf.randomNormal([7, 4], 0, 1, 'float32', 4);
      const ref = (relu: boolean) =>
        tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) => {
          const z = tf.add(tf.matMul(xx as Tensor2D, ww as Tensor2D), bb);
          return tf.sum(tf.mul(relu ? tf.relu(z) : z, up));
        })([x, w, b]);
      const ours = (f: (a: Tensor2D, c: Tensor2D, d: Tensor1D) => Tensor2D) =>
        tf.grads((xx: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(f(xx as Tensor2D, ww as Tensor2D, bb as Tensor1D), up)))([x, w, b]);
      const close = (a: Tensor[], c: Tensor[]) =>
        a.forEach((t, i) => expect(tf.max(tf.abs(tf.sub(t, c[i]!))).dataSync()[0]).toBeLessThan(1e-4));
      close(ours(ops.hidden), ref(true));
      close(ours(ops.linear), ref(false));
      const firstGrads = tf.grads((ww: Tensor, bb: Tensor) => tf.sum(tf.mul(ops.first(x, ww as Tensor2D, bb as Tensor1D), up)))([w, b]);
      close(firstGrads, ref(true).slice(1));
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
