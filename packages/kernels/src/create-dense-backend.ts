import type { DenseBackend } from './dense-backend.ts';
import { JsReferenceDenseBackend } from './js-reference-backend.ts';
import { OrtDenseBackend } from './ort-backend.ts';
import { TfjsGpuDenseBackend } from './tfjs-gpu-backend.ts';

export interface CreateDenseBackendOptions {
  /** intra-op threads for the ORT backend; default os.availableParallelism(). Ignored by js-reference. */
  threads?: number;
  /**
   * 'ort' (default) falls back to 'js' when onnxruntime-node cannot load; 'js' forces the reference;
   * 'gpu' tries @tensorflow/tfjs-node-gpu first and falls back to 'ort'.
   */
  prefer?: 'gpu' | 'ort' | 'js';
}

/**
 * The fastest available backend. Falling back is safe for correctness because results are exact
 * whatever backend ran (see nearest-centres-dense.ts); it only costs speed, so it is announced.
 */
export async function createDenseBackend(opts: CreateDenseBackendOptions = {}): Promise<DenseBackend> {
  if (opts.prefer === 'js') return new JsReferenceDenseBackend();
  if (opts.prefer === 'gpu') {
    try {
      return await TfjsGpuDenseBackend.create();
    } catch (err) {
      process.emitWarning(`GPU backend unavailable, using the CPU backend: ${(err as Error).message.split('\n')[0]}`, 'CmbnKernelsWarning');
    }
  }
  try {
    return await OrtDenseBackend.create(opts.threads === undefined ? {} : { threads: opts.threads });
  } catch (err) {
    process.emitWarning(`onnxruntime-node unavailable, using the js-reference dense backend: ${(err as Error).message}`, 'CmbnKernelsWarning');
    return new JsReferenceDenseBackend();
  }
}
