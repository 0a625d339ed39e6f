// onnxruntime-node inside worker_threads: the in-process trainer runs one backend with threads: 1
// per worker. Node 20 does not pass tsx's loader on to workers (execArgv '--import tsx' fails with
// ERR_UNKNOWN_FILE_EXTENSION), so the worker boots through tsx's tsImport API from an eval stub.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { bruteForceDense, readMnistImages } from './test-helpers.ts';

const require = createRequire(import.meta.url);

function runInWorker(data: { x: Float32Array; n: number; d: number; centres: Float32Array; k: number }): Promise<{ backend: string; out: Uint16Array }> {
  // The ESM build of tsx's API (require.resolve would pick the CJS one, which cannot tsImport here).
  const tsxApi = pathToFileURL(path.join(path.dirname(require.resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./dense-worker.fixture.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`;
  return new Promise((resolve, reject) => {
    const w = new Worker(boot, { eval: true, workerData: data });
    let result: { backend: string; out: Uint16Array } | undefined;
    w.once('message', (m: { backend: string; out: Uint16Array }) => (result = m));
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker exited ${code} without a result`))));
  });
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
