import { Worker } from 'node:worker_threads';
import type { CodeInput, LayerInput } from './layer.ts';
import type { TMbnParams } from './params.ts';
import type { FinishResult, TrainProgress } from './train.ts';
import { tsBootScript } from './ts-boot.ts';

/** What the finishing thread needs: the top code, and each layer's input when it asks for it. */
export interface FinishSource {
  /** The top layer's code (PCA and the application are fitted on it). Its buffer is transferred. */
  top: CodeInput;
  /**
   * Layer l's input (l = 1: the dense data; l > 1: layer l − 1's code), asked for once per layer, in
   * order, each only after the previous one was handed over. Its buffer is transferred.
   */
  input: (layer: number) => Promise<LayerInput> | LayerInput;
}

/** finishTraining's result without the model object (its bytes are the model); `c` is the embedding's width. */
export type ThreadFinishResult = Omit<FinishResult, 'model'> & { c: number };

/** The thread's protocol: it asks for each layer's input, and reports progress, the result or its error. */
export type FromFinishThread =
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'need'; layer: number }
  | { type: 'done'; result: ThreadFinishResult }
  | { type: 'error'; message: string };
export type ToFinishThread = { type: 'input'; layer: number; input: LayerInput };

/** A view whose buffer has more than this besides it is copied rather than transferred. */
const MAX_SLACK = 64 * 1024;

/**
 * The array as one that owns its ArrayBuffer, and that buffer to transfer: the array itself when
 * it is its buffer but for a small header (a file read whose .npy header it skips), else a copy of
 * it: a window into something bigger (a fixture's slice, or a small Buffer in Node's pool, which is
 * under half the pool) whose neighbours must not be detached. A SharedArrayBuffer is shared as is.
 */
function owned<T extends Uint8Array | Uint16Array | Float32Array>(a: T): { array: T; transfer: ArrayBuffer[] } {
  const buf = a.buffer;
  if (!(buf instanceof ArrayBuffer)) return { array: a, transfer: [] };
  const slack = buf.byteLength - a.byteLength;
  if (slack <= MAX_SLACK && slack < a.byteLength) return { array: a, transfer: [buf] };
  const copy = a.slice() as T;
  return { array: copy, transfer: [copy.buffer as ArrayBuffer] };
}

/** A layer input to post with its buffer transferred (see `owned`). */
export function transferableInput<I extends LayerInput>(input: I): { input: I; transfer: ArrayBuffer[] } {
  if (input.kind === 'code') {
    const { array, transfer } = owned(input.ids);
    return { input: { ...input, ids: array }, transfer };
  }
  const { array, transfer } = owned(input.data);
  return { input: { ...input, data: array }, transfer };
}

/**
 * finishTraining (PCA, k-means, the model) on a worker thread, with the same result bytes. It is
 * seconds of CPU on MNIST 10k and minutes at 70k with V=400: a server that ran it on its event loop
 * would stop answering its API, its health checks and its queue events for that long (seen: an HTTP
 * client's keep-alive socket closed under it mid-poll).
 *
 * Memory: the inputs are not copied but transferred (the caller's arrays are detached afterwards),
 * and one at a time: the thread fits the head on the top code and lets it go, then asks for layer
 * 1's input, builds its model section, drops it, asks for layer 2's, and so on. So neither thread
 * holds more than one layer's input besides the model being built (at MNIST 70k, V=400: 56 MB
 * instead of all seven codes and the data, ~450 MB, held twice). The model object stays in the
 * thread; its bytes, labels and embedding are transferred back.
 */
export function finishTrainingInThread(source: FinishSource, params: TMbnParams, ks: number[], onProgress?: (p: TrainProgress) => void): Promise<ThreadFinishResult> {
  return new Promise<ThreadFinishResult>((resolve, reject) => {
    const top = transferableInput(source.top);
    const thread = new Worker(tsBootScript(new URL('./finish-thread.ts', import.meta.url).href), {
      eval: true,
      workerData: { top: top.input, params, ks },
      transferList: top.transfer,
    });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
    };
    const fail = (err: unknown): void => {
      settle(() => reject(err instanceof Error ? err : new Error(String(err))));
      void thread.terminate();
    };
    const send = async (layer: number): Promise<void> => {
      const { input, transfer } = transferableInput(await source.input(layer));
      if (!settled) thread.postMessage({ type: 'input', layer, input } satisfies ToFinishThread, transfer);
    };
    thread.on('message', (m: FromFinishThread) => {
      if (m.type === 'progress') onProgress?.(m.progress);
      else if (m.type === 'need') send(m.layer).catch(fail);
      else if (m.type === 'done') settle(() => resolve(m.result));
      else settle(() => reject(new Error(`finishing the model failed: ${m.message}`)));
    });
    thread.on('error', (err) => settle(() => reject(err)));
    thread.on('exit', (code) => settle(() => reject(new Error(`the finishing thread exited (code ${code}) without a result`))));
  });
}
