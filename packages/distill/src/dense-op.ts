/**
 * Dense layers with a hand-written, transpose-free backward pass.
 *
 * Why: tfjs-wasm's BatchMatMul is fast (~18–20 GFLOP/s, XNNPACK) only when neither operand is
 * transposed; with transposeA or transposeB it falls to a naive loop at ~0.9–1.6 GFLOP/s (measured
 * here: 256×784·784×512 in 11 ms plain, 235 ms with transposeA, 129 ms with transposeB). tfjs's own
 * MatMul gradient uses exactly those flags (dW = xᵀ·dy, dx = dy·Wᵀ), which is why `model.fit` ran at
 * ~2 GFLOP/s. Here the gradient materialises the transposes (a memory copy, ~1 ms) and multiplies
 * untransposed, so the whole step runs at GEMM speed.
 */
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from './backend.ts';

type Saver = (tensors: Tensor[]) => void;
type Grad = { value: Tensor; gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor[] };

export interface DenseOps {
  /** relu(x·W + b) with gradients for x, W and b. */
  hidden(x: Tensor2D, w: Tensor2D, b: Tensor1D): Tensor2D;
  /** relu(x·W + b) where x is data: no gradient for x (saves the largest dy·Wᵀ product). */
  first(x: Tensor2D, w: Tensor2D, b: Tensor1D): Tensor2D;
  /** x·W + b, gradients for x, W and b. */
  linear(x: Tensor2D, w: Tensor2D, b: Tensor1D): Tensor2D;
  /** x·W + b with activation in {relu, linear}, forward only (inference). */
  forward(x: Tensor2D, w: Tensor2D, b: Tensor1D, relu: boolean): Tensor2D;
}

export function createDenseOps(tf: Tf): DenseOps {
  const forward = (x: Tensor2D, w: Tensor2D, b: Tensor1D, relu: boolean): Tensor2D =>
    tf.fused.matMul({ a: x, b: w, bias: b, activation: relu ? 'relu' : 'linear' }) as Tensor2D;

  const dW = (x: Tensor, dz: Tensor): Tensor => tf.matMul(tf.transpose(x) as Tensor2D, dz as Tensor2D);
  const dX = (dz: Tensor, w: Tensor): Tensor => tf.matMul(dz as Tensor2D, tf.transpose(w) as Tensor2D);
  const db = (dz: Tensor): Tensor => tf.sum(dz, 0);
  // relu'(z) from the output: y > 0 ⇔ z > 0.
  const reluBack = (dy: Tensor, y: Tensor): Tensor => tf.mul(dy, tf.step(y));

  const custom = (f: (...args: Array<Tensor | Saver>) => Grad) =>
    tf.customGrad(f as unknown as Parameters<Tf['customGrad']>[0]) as unknown as (...t: Tensor[]) => Tensor2D;

  const hidden = custom((x, w, b, save) => {
    const y = forward(x as Tensor2D, w as Tensor2D, b as Tensor1D, true);
    (save as Saver)([x as Tensor, w as Tensor, y]);
    return {
      value: y,
      gradFunc: (dy, [sx, sw, sy]) => {
        const dz = reluBack(dy, sy!);
        return [dX(dz, sw!), dW(sx!, dz), db(dz)];
      },
    };
  });

  const linear = custom((x, w, b, save) => {
    const y = forward(x as Tensor2D, w as Tensor2D, b as Tensor1D, false);
    (save as Saver)([x as Tensor, w as Tensor]);
    return { value: y, gradFunc: (dy, [sx, sw]) => [dX(dy, sw!), dW(sx!, dy), db(dy)] };
  });

  return {
    hidden: (x, w, b) => hidden(x, w, b),
    linear: (x, w, b) => linear(x, w, b),
    first: (x, w, b) =>
      // x is closed over rather than passed, so the tape asks for no gradient with respect to it.
      custom((w2, b2, save) => {
        const y = forward(x, w2 as Tensor2D, b2 as Tensor1D, true);
        (save as Saver)([y]);
        return {
          value: y,
          gradFunc: (dy, [sy]) => {
            const dz = reluBack(dy, sy!);
            return [dW(x, dz), db(dz)];
          },
        };
      })(w, b),
    forward,
  };
}
