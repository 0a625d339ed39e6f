/** Worker-thread entry of finishTrainingInThread: runs finishTraining and posts its result back. */
import { parentPort, workerData } from 'node:worker_threads';
import type { CodeInput, LayerInput } from './layer.ts';
import type { TMbnParams } from './params.ts';
import { finishTraining, type TrainProgress } from './train.ts';

interface FinishJob {
  inputs: LayerInput[];
  top: CodeInput;
  params: TMbnParams;
  ks: number[];
}

const port = parentPort;
if (!port) throw new Error('finish-thread.ts must run in a worker thread');
const job = workerData as FinishJob;
try {
  const res = finishTraining(job.inputs, job.top, job.params, job.ks, (progress: TrainProgress) => port.postMessage({ type: 'progress', progress }));
  const transfer = [res.modelBytes.buffer, res.labels.buffer, res.embedding.buffer] as ArrayBuffer[];
  port.postMessage({ type: 'done', result: res }, transfer);
} catch (err) {
  port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
}
