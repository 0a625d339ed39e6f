// onnxruntime-node inside worker_threads: the in-process trainer runs one backend with threads: 1
// per worker. The worker boots through tsx's tsImport API from an eval stub (runInWorkerThread says why).
import { describe, expect, it } from 'vitest';
import { TSX_ESM_API, bruteForceDense, readMnistImages, runInWorkerThread } from './test-helpers.ts';

function runInWorker(data: { x: Float32Array; n: number; d: number; centres: Float32Array; k: number }): Promise<{ backend: string; out: Uint16Array }> {
  const entry = new URL('./dense-worker.fixture.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(TSX_ESM_API)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`;
  return runInWorkerThread(boot, data);
}

describe('onnxruntime-node in worker_threads', () => {
  it('two workers, each with its own threads: 1 ORT backend, give the exact answers and exit', async () => {
    const n = 600, d = 784, k = 50;
    const x = readMnistImages(n, 0);
    const centres = readMnistImages(k, 20_000);
    const expected = bruteForceDense(x, n, d, centres, k, 'euclidean');
    const [a, b] = await Promise.all([runInWorker({ x, n, d, centres, k }), runInWorker({ x, n, d, centres, k })]);
    expect(a.backend).toBe('onnxruntime-cpu');
    expect(b.backend).toBe('onnxruntime-cpu');
    expect(a.out).toEqual(expected);
    expect(b.out).toEqual(expected);
  });
});
