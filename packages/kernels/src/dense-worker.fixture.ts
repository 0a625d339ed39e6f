// Worker-thread entry used by worker-threads.test.ts: runs one ORT backend with threads: 1, as the
// in-process trainer does per worker thread, and posts the assignment back.
import { parentPort, workerData } from 'node:worker_threads';
import { createDenseBackend, nearestCentresDense } from './index.ts';

interface Job {
  x: Float32Array;
  n: number;
  d: number;
  centres: Float32Array;
  k: number;
}

const { x, n, d, centres, k } = workerData as Job;
const backend = await createDenseBackend({ threads: 1, prefer: 'ort' });
const out = new Uint16Array(n);
await nearestCentresDense(backend, x, n, d, centres, k, 'euclidean', out, 1, 0);
await backend.dispose();
parentPort!.postMessage({ backend: backend.name, out });
