/**
 * Worker-thread entry of createMbnPredictor (predict-pool.ts). Each thread owns fixed clusterings
 * of every layer (its share of V), one single-threaded dense backend, and the prepared parts of
 * those clusterings, kept across calls within its byte budget. Messages are handled one at a
 * time, in order, so concurrent predict calls only queue.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDenseBackend, type DenseBackend, type DenseKernel } from '@cmbn/kernels';
import { redrawFeatureBits, type ModelLayer } from './model.ts';
import type { TMbnParams } from './params.ts';
import { LayerPart, type CacheBudget, type LayerPoints } from './predict-layers.ts';

/** A model layer as sent to a thread: featureBits absent when this thread must redraw its share. */
export type PredictThreadLayer = Omit<ModelLayer, 'featureBits'> & { featureBits?: Uint8Array };

export interface PredictThreadInit {
  layers: PredictThreadLayer[];
  /** The streams the kept features are redrawn from (model.params). */
  draw: Pick<TMbnParams, 'seed' | 'a'>;
  kernel: DenseKernel;
  /** This thread's clusterings of each layer; v0 === v1 when it has none. */
  ranges: { v0: number; v1: number }[];
  cacheBytes: number;
  prefer?: 'ort' | 'js';
}

export type PredictThreadInbound = { type: 'encode'; jobId: number; layer: number; points: LayerPoints } | { type: 'close' };

export type PredictThreadOutbound = { type: 'done'; jobId: number; block: Uint16Array; backend: string } | { type: 'error'; jobId: number; message: string };

const port = parentPort;
if (!port) throw new Error('predict-thread.ts must run in a worker thread');
const init = workerData as PredictThreadInit;
const budget: CacheBudget = { left: init.cacheBytes };
const parts = new Map<number, LayerPart>();
let backendPromise: Promise<DenseBackend> | undefined;
let chain = Promise.resolve();

port.on('message', (msg: PredictThreadInbound) => {
  chain = chain.then(() => handle(msg));
});

function partFor(l: number): LayerPart {
  let part = parts.get(l);
  if (!part) {
    const layer = init.layers[l];
    const range = init.ranges[l];
    if (!layer || !range) throw new Error(`no layer ${l + 1} in this predictor`);
    // Only this thread's clusterings of the bitsets are read, so only they are redrawn.
    const featureBits = layer.featureBits ?? redrawFeatureBits(init.draw, layer.layer, layer.V, layer.nFeatures, undefined, range.v0, range.v1);
    part = new LayerPart({ ...layer, featureBits }, init.kernel, range.v0, range.v1, budget);
    parts.set(l, part);
  }
  return part;
}

async function handle(msg: PredictThreadInbound): Promise<void> {
  if (msg.type === 'close') {
    if (backendPromise) await (await backendPromise).dispose();
    port!.close();
    return;
  }
  try {
    backendPromise ??= createDenseBackend({ threads: 1, ...(init.prefer ? { prefer: init.prefer } : {}) });
    const backend = await backendPromise;
    const block = await partFor(msg.layer).encode(msg.points, backend);
    port!.postMessage({ type: 'done', jobId: msg.jobId, block, backend: backend.name } satisfies PredictThreadOutbound, [block.buffer as ArrayBuffer]);
  } catch (err) {
    port!.postMessage({ type: 'error', jobId: msg.jobId, message: err instanceof Error ? err.message : String(err) } satisfies PredictThreadOutbound);
  }
}
