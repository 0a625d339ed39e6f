import { Worker } from 'node:worker_threads';
import type { CodeInput, LayerInput } from './layer.ts';
import type { TMbnParams } from './params.ts';
import type { FinishResult, TrainProgress } from './train.ts';
import { tsBootScript } from './ts-boot.ts';

type FromThread = { type: 'progress'; progress: TrainProgress } | { type: 'done'; result: FinishResult } | { type: 'error'; message: string };

/**
 * finishTraining (PCA, k-means, the model) on a worker thread, with the same result bytes. It is
 * seconds of CPU on MNIST 10k and minutes at 70k with V=400: a server that ran it on its event loop
 * would stop answering its API, its health checks and its queue events for that long (seen: an HTTP
 * client's keep-alive socket closed under it mid-poll). The inputs are copied to the thread.
 */
export function finishTrainingInThread(
  inputs: LayerInput[],
  top: CodeInput,
  params: TMbnParams,
  ks: number[],
  onProgress?: (p: TrainProgress) => void,
): Promise<FinishResult> {
  return new Promise<FinishResult>((resolve, reject) => {
    const thread = new Worker(tsBootScript(new URL('./finish-thread.ts', import.meta.url).href), {
      eval: true,
      workerData: { inputs, top, params, ks },
    });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
    };
    thread.on('message', (m: FromThread) => {
      if (m.type === 'progress') onProgress?.(m.progress);
      else if (m.type === 'done') settle(() => resolve(m.result));
      else settle(() => reject(new Error(`finishing the model failed: ${m.message}`)));
    });
    thread.on('error', (err) => settle(() => reject(err)));
    thread.on('exit', (code) => settle(() => reject(new Error(`the finishing thread exited (code ${code}) without a result`))));
  });
}
