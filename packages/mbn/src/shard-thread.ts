/**
 * Worker-thread entry of the in-process trainer. Each thread owns one single-threaded dense
 * backend and computes whole shards, so the JavaScript parts (gathering, verification, the
 * sparse layers) run on every core as well as the GEMM.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDenseBackend, type DenseBackend } from '@cmbn/kernels';
import { computeShard, type ShardSpec } from './shard.ts';
import type { LayerInput } from './layer.ts';

type Inbound =
  | { type: 'input'; inputId: number; input: LayerInput }
  | { type: 'shard'; jobId: number; inputId: number; spec: ShardSpec }
  | { type: 'close' };

const port = parentPort;
if (!port) throw new Error('shard-thread.ts must run in a worker thread');

const inputs = new Map<number, LayerInput>();
let backendPromise: Promise<DenseBackend> | undefined;

port.on('message', (msg: Inbound) => {
  void handle(msg);
});

async function handle(msg: Inbound): Promise<void> {
  if (msg.type === 'input') {
    inputs.clear();
    inputs.set(msg.inputId, msg.input);
    return;
  }
  if (msg.type === 'close') {
    if (backendPromise) await (await backendPromise).dispose();
    port!.close();
    return;
  }
  try {
    const input = inputs.get(msg.inputId);
    if (!input) throw new Error(`layer input ${msg.inputId} was not sent to this thread`);
    backendPromise ??= createDenseBackend({ threads: 1, prefer: (workerData as { prefer?: 'ort' | 'js' }).prefer });
    const work = { sparseIncrements: 0 };
    const block = await computeShard(input, msg.spec, await backendPromise, work);
    port!.postMessage({ type: 'done', jobId: msg.jobId, block, sparseIncrements: work.sparseIncrements }, [block.buffer as ArrayBuffer]);
  } catch (err) {
    port!.postMessage({ type: 'error', jobId: msg.jobId, message: err instanceof Error ? err.message : String(err) });
  }
}
