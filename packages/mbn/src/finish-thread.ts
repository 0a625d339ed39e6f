/**
 * Worker-thread entry of finishTrainingInThread: fits the head on the top code, then builds the
 * model one layer at a time from the inputs it asks for, and posts the serialised result back.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { FromFinishThread, ThreadFinishResult, ToFinishThread } from './finish-in-thread.ts';
import type { CodeInput, DenseInput, LayerInput } from './layer.ts';
import { buildModelLayer, type ModelLayer } from './model.ts';
import type { TMbnParams } from './params.ts';
import { completeModel, fitHead, type TrainProgress } from './train.ts';

interface FinishJob {
  top: CodeInput | null;
  params: TMbnParams;
  ks: number[];
}

if (!parentPort) throw new Error('finish-thread.ts must run in a worker thread');
const port: MessagePort = parentPort;
const post = (m: FromFinishThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
const job = workerData as FinishJob;

/** Asks the parent for layer l's input and waits for it. */
function inputOf(layer: number): Promise<LayerInput> {
  return new Promise((resolve) => {
    const on = (m: ToFinishThread) => {
      if (m.type !== 'input' || m.layer !== layer) return;
      port.off('message', on);
      resolve(m.input);
    };
    port.on('message', on);
    post({ type: 'need', layer });
  });
}

async function run(): Promise<ThreadFinishResult> {
  const { params, ks } = job;
  const head = fitHead(job.top!, params, ks.length, (progress: TrainProgress) => post({ type: 'progress', progress }));
  // The head was the top code's last use: let it go before the layers' inputs arrive.
  job.top = null;
  post({ type: 'progress', progress: { stage: 'model', layers: ks.length } });
  const sections: ModelLayer[] = [];
  let first: Pick<DenseInput, 'n' | 'd' | 'dtype'> | undefined;
  for (let l = 1; l <= ks.length; l++) {
    // One input at a time: each is garbage once its section is built.
    const input = await inputOf(l);
    if (l === 1) {
      if (input.kind !== 'dense') throw new Error('layer 1 input must be dense');
      first = { n: input.n, d: input.d, dtype: input.dtype };
    }
    sections.push(buildModelLayer(input, l, ks[l - 1]!, params));
  }
  const { modelBytes, modelHash, labels, embedding } = completeModel(params, ks, first!, sections, head);
  return { modelBytes, modelHash, labels, embedding, c: head.pca.c };
}

run().then(
  (result) => post({ type: 'done', result }, [result.modelBytes.buffer, result.labels.buffer, result.embedding.buffer] as ArrayBuffer[]),
  (err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
);
