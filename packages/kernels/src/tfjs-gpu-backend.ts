import { checkTopKArgs, topKFor, type DenseBackend, type TopKResult } from './dense-backend.ts';

/** The optional package a GPU worker image installs (see docs/DEPLOY.md); never a static import. */
export const TFJS_GPU_PACKAGE = '@tensorflow/tfjs-node-gpu';

/** The slice of the tfjs API this backend uses, typed locally so the build needs no tfjs-node-gpu. */
interface TfLike {
  tidy<T>(fn: () => T): T;
  tensor2d(values: Float32Array, shape: [number, number]): TfTensor;
  tensor1d(values: Float32Array): TfTensor;
  topk(x: TfTensor, k: number, sorted: boolean): { values: TfTensor; indices: TfTensor };
  keep<T>(t: T): T;
  getBackend(): string;
}
interface TfTensor {
  matMul(b: TfTensor): TfTensor;
  sub(b: TfTensor): TfTensor;
  data(): Promise<Float32Array | Int32Array>;
  dispose(): void;
}

/**
 * Dense GEMM on the GPU through TensorFlow.js (libtensorflow with CUDA).
 *
 * Exactness needs an honest unit roundoff. libtensorflow runs fp32 matmuls on TF32 tensor cores on
 * Ampere and newer GPUs unless NVIDIA_TF32_OVERRIDE=0; TF32 keeps 10 mantissa bits, and on an H200
 * it broke the float32 bound by 3× on real-valued data while staying far inside the 2^-11 one
 * (bench/gpu/README.md). So the backend declares 2^-11 unless TF32 is switched off.
 *
 * NOT yet run on a GPU: the GPU machines available to this project have no Node.js.
 */
export class TfjsGpuDenseBackend implements DenseBackend {
  readonly name = 'tfjs-node-gpu';
  readonly unitRoundoff: number;

  private constructor(private readonly tf: TfLike) {
    this.unitRoundoff = process.env.NVIDIA_TF32_OVERRIDE === '0' ? 2 ** -24 : 2 ** -11;
  }

  static async create(): Promise<TfjsGpuDenseBackend> {
    const specifier = TFJS_GPU_PACKAGE;
    const mod = (await import(specifier)) as TfLike & { default?: TfLike };
    const tf = mod.default ?? mod;
    if (!/tensorflow/i.test(tf.getBackend())) throw new Error(`${TFJS_GPU_PACKAGE} loaded but its backend is ${tf.getBackend()}`);
    return new TfjsGpuDenseBackend(tf);
  }

  async topK(x: Float32Array, n: number, d: number, ct: Float32Array, h: Float32Array, k: number): Promise<TopKResult> {
    checkTopKArgs(x, n, d, ct, h, k);
    const K = topKFor(k);
    const tf = this.tf;
    const { values, indices } = tf.tidy(() => {
      const s = tf.tensor2d(x.subarray(0, n * d), [n, d]).matMul(tf.tensor2d(ct, [d, k])).sub(tf.tensor1d(h));
      const top = tf.topk(s, K, true);
      return { values: tf.keep(top.values), indices: tf.keep(top.indices) };
    });
    try {
      return { values: (await values.data()) as Float32Array, indices: Int32Array.from(await indices.data()), K };
    } finally {
      values.dispose();
      indices.dispose();
    }
  }

  async dispose(): Promise<void> {}
}
