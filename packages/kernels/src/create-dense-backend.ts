import { existsSync } from 'node:fs';
import { BlasDenseBackend, blasAddonPath } from './blas-backend.ts';
import type { DenseBackend } from './dense-backend.ts';
import { JsReferenceDenseBackend } from './js-reference-backend.ts';
import { OrtDenseBackend } from './ort-backend.ts';
import { TfjsGpuDenseBackend } from './tfjs-gpu-backend.ts';

export interface CreateDenseBackendOptions {
  /** threads for the blas and ORT backends; default os.availableParallelism(). Ignored by js-reference. */
  threads?: number;
  /**
   * unset: 'blas' for one thread, else 'ort'. 'blas' runs OpenBLAS's sgemm through the addon that
   * `npm run build:blas` builds, and falls back to 'ort' when it is not built (silently when it was
   * not asked for by name; `name` says which runs); 'ort' uses
   * onnxruntime-node and falls back to 'js' when it cannot load; 'js' forces the reference;
   * 'gpu' tries @tensorflow/tfjs-node-gpu first and falls back to 'ort'.
   */
  prefer?: 'gpu' | 'blas' | 'ort' | 'js';
  /** the blas addon's path; default CMBN_BLAS_ADDON or packages/kernels/native/build/Release/cmbn_blas.node */
  blasAddonPath?: string;
}

/**
 * The fastest available backend. Falling back is safe for correctness because results are exact
 * whatever backend ran (see nearest-centres-dense.ts); it only costs speed. A missing optional piece
 * that is not installed by default (the addon) is silent; one that is there but fails is announced.
 */
export async function createDenseBackend(opts: CreateDenseBackendOptions = {}): Promise<DenseBackend> {
  const threads = opts.threads === undefined ? {} : { threads: opts.threads };
  if (opts.prefer === 'js') return new JsReferenceDenseBackend();
  if (opts.prefer === 'gpu') {
    try {
      return await TfjsGpuDenseBackend.create();
    } catch (err) {
      process.emitWarning(`GPU backend unavailable, using the CPU backend: ${(err as Error).message.split('\n')[0]}`, 'CmbnKernelsWarning');
    }
  } else if (opts.prefer === 'blas' || (opts.prefer === undefined && opts.threads === 1)) {
    // bench:kernels: nearestCentresDense at 116.9 GFLOP/s through it against 95.8 through ORT (0.68 vs 0.56 of numpy's sgemm).
    // By default only for one thread, which is what the trainer's, the predictor's and the workers'
    // compute threads ask for: with more, the addon splits rows over libuv's pool (4 threads unless
    // UV_THREADPOOL_SIZE says otherwise, shared with fs and dns), where ORT has its own pool.
    const addonPath = blasAddonPath(opts.blasAddonPath);
    if (!existsSync(addonPath) && opts.prefer === 'blas') {
      process.emitWarning(`OpenBLAS addon not built (${addonPath}; npm run build:blas), using onnxruntime-node`, 'CmbnKernelsWarning');
    }
    if (existsSync(addonPath)) {
      try {
        return await BlasDenseBackend.create({ ...threads, addonPath });
      } catch (err) {
        // A bad threads value falls through to ORT, which treats it as it always has.
        if (!(err instanceof RangeError)) {
          process.emitWarning(`OpenBLAS addon failed to load, using onnxruntime-node: ${(err as Error).message.split('\n')[0]}`, 'CmbnKernelsWarning');
        }
      }
    }
  }
  try {
    return await OrtDenseBackend.create(threads);
  } catch (err) {
    process.emitWarning(`onnxruntime-node unavailable, using the js-reference dense backend: ${(err as Error).message}`, 'CmbnKernelsWarning');
    return new JsReferenceDenseBackend();
  }
}
