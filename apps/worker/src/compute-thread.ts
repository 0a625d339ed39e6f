/**
 * A compute thread of the worker: owns one dense backend and computes whole shards, so the
 * worker's event loop stays free to renew BullMQ locks. Layer inputs arrive once per thread in
 * shared memory and are kept by sha256 (the current and the previous layer).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDenseBackend, type DenseBackend } from '@cmbn/kernels';
import { computeShard, type LayerInput, type ShardSpec } from '@cmbn/mbn';

export type ThreadInbound = { type: 'shard'; taskId: number; sha256: string; input?: LayerInput; spec: ShardSpec } | { type: 'close' };
export type ThreadOutbound =
  | { type: 'ready'; backend: string }
  | { type: 'done'; taskId: number; block: Uint16Array; seconds: number }
  | { type: 'error'; taskId: number; message: string };

const port = parentPort;
if (!port) throw new Error('compute-thread.ts must run in a worker thread');
const { threads, prefer } = workerData as { threads: number; prefer?: 'gpu' | 'blas' | 'ort' | 'js' };

const inputs = new Map<string, LayerInput>();
const backendPromise: Promise<DenseBackend> = createDenseBackend({ threads, prefer });
backendPromise.then(
  (b) => port.postMessage({ type: 'ready', backend: b.name } satisfies ThreadOutbound),
  () => {},
);

port.on('message', (msg: ThreadInbound) => {
  void handle(msg);
});

async function handle(msg: ThreadInbound): Promise<void> {
  if (msg.type === 'close') {
    await (await backendPromise).dispose();
    port!.close();
    return;
  }
  try {
    if (msg.input) {
      inputs.set(msg.sha256, msg.input);
      // Two layers at most: a worker moves on to the next layer and never comes back.
      while (inputs.size > 2) inputs.delete(inputs.keys().next().value!);
    }
    const input = inputs.get(msg.sha256);
    if (!input) throw new Error(`layer input ${msg.sha256} was not sent to this thread`);
    const t0 = performance.now();
    const block = await computeShard(input, msg.spec, await backendPromise);
    const seconds = (performance.now() - t0) / 1000;
    port!.postMessage({ type: 'done', taskId: msg.taskId, block, seconds } satisfies ThreadOutbound, [block.buffer as ArrayBuffer]);
  } catch (err) {
    port!.postMessage({ type: 'error', taskId: msg.taskId, message: err instanceof Error ? err.message : String(err) } satisfies ThreadOutbound);
  }
}
