/**
 * The conv student: one convolution (a `kernel`×`kernel` window, `stride`, no padding, `filters`
 * channels, ReLU) over the row read as a square single-channel image, then the dense layers.
 *
 * It is computed as a dense layer on im2col patches: the rows' pixels are gathered into P = side'²
 * patches of kernel² values (patch p, offset (dy, dx) ↦ pixel (sy·stride + dy)·side + sx·stride + dx),
 * layer 0 maps each patch to `filters` values, and the n·P × filters result is read as n × (P·filters)
 * (position-major, channel-minor: exactly tf.layers.flatten's order of a channels-last
 * [side', side', filters] map). So training runs at tfjs-wasm's untransposed GEMM speed (dense-op.ts;
 * tfjs-wasm has no Conv2DBackpropFilter at all), and the ONNX graph is Gather → Reshape → the dense ops
 * → Reshape. The tfjs layers model is Reshape → Conv2D → Flatten → Dense…, layer 0's weights being the
 * Conv2D kernel [k, k, 1, filters] in the same memory order (architecture.test.ts checks it against
 * tfjs's own Conv2D).
 */
import { z } from 'zod';
import type { ArchitectureImpl } from './architecture-kind.ts';

export const ZConvArchitecture = z
  .object({
    kind: z.literal('conv'),
    filters: z.number().int().min(1).max(1024),
    kernel: z.number().int().min(1).max(64),
    stride: z.number().int().min(1).max(64),
  })
  .strict();
export type ConvArchitecture = z.infer<typeof ZConvArchitecture>;

/** Fixed layer name, as layers-model.ts's, so that model.json is byte-identical across runs. */
export const CONV_LAYER = 'student_conv_0';

function squareSide(d: number): number | undefined {
  const s = Math.round(Math.sqrt(d));
  return s * s === d ? s : undefined;
}

export const convArchitecture: ArchitectureImpl<ConvArchitecture> = {
  /** `--student-arch conv`'s defaults: 16 filters of 5×5, stride 2 (MNIST: 12×12×16 = 2304 features). */
  defaults: Object.freeze({ kind: 'conv', filters: 16, kernel: 5, stride: 2 }),
  params: ['filters', 'kernel', 'stride'],
  check(a, d) {
    const side = squareSide(d);
    if (side === undefined) throw new RangeError(`a conv student needs square single-channel images; rows of ${d} columns are not a square`);
    if (a.kernel > side) throw new RangeError(`conv kernel ${a.kernel} is larger than the ${side}×${side} image`);
  },
  firstLayer(a, d) {
    convArchitecture.check(a, d);
    const side = squareSide(d)!;
    const outSide = Math.floor((side - a.kernel) / a.stride) + 1;
    const P = outSide * outSide;
    const kk = a.kernel * a.kernel;
    const patchIndex = new Int32Array(P * kk);
    for (let sy = 0; sy < outSide; sy++) {
      for (let sx = 0; sx < outSide; sx++) {
        const p = sy * outSide + sx;
        for (let dy = 0; dy < a.kernel; dy++) {
          for (let dx = 0; dx < a.kernel; dx++) patchIndex[p * kk + dy * a.kernel + dx] = (sy * a.stride + dy) * side + sx * a.stride + dx;
        }
      }
    }
    return { inDim: kk, positions: P, patchIndex };
  },
  leadingWidths: (a) => [a.filters],
  tfjsHead(tf, a, inputDims, lead) {
    convArchitecture.check(a, inputDims);
    const side = squareSide(inputDims)!;
    const conv = lead[0]!;
    return {
      layers: [
        tf.layers.reshape({ name: 'student_image', targetShape: [side, side, 1], inputShape: [inputDims] }),
        tf.layers.conv2d({ name: CONV_LAYER, filters: a.filters, kernelSize: a.kernel, strides: a.stride, padding: 'valid', activation: 'relu', useBias: true }),
        tf.layers.flatten({ name: 'student_flatten' }),
      ],
      weights: () => [tf.tensor4d(conv.weight, [a.kernel, a.kernel, 1, conv.outDim]), tf.tensor1d(conv.bias)],
    };
  },
};
