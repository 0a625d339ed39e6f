/**
 * The non-MNIST-784 data on which issue 11 asks the student's defaults to be measured, written as
 * .npy files that `bench:compression --dataset … --labels … --eval-dataset … --eval-labels …` reads:
 *
 *   npm run bench:datasets -- --out DIR [--n 10000] [--seed 1]
 *
 *   DIR/mnist14-{train,test}.npy + -labels.npy   MNIST 2×2-average-pooled to 14×14 (uint8, 196 columns):
 *                                                 images of another size (the first n train / test digits)
 *   DIR/blobs50-{train,test}.npy + -labels.npy   10 Gaussian blobs in 50 dimensions (float32): non-image
 *                                                 vectors, centres uniform in [-1, 1]^50, noise σ = 0.35 per
 *                                                 coordinate, so neighbouring blobs touch but separate
 *
 * Deterministic from --seed (the blobs; the pooling has no randomness).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset, writeMatrix, type Matrix } from '@cmbn/data';

const { values: a } = parseArgs({
  options: { out: { type: 'string' }, n: { type: 'string', default: '10000' }, seed: { type: 'string', default: '1' } },
});
if (!a.out) throw new Error('--out DIR is required');
const n = Number(a.n);
const seed = Number(a.seed);
if (!Number.isInteger(n) || n < 10) throw new Error(`--n must be an integer ≥ 10, got ${a.n}`);
await mkdir(a.out, { recursive: true });

/** 28×28 uint8 rows → 14×14, each output pixel the rounded mean of a 2×2 block. */
function pool14(x: Matrix): Matrix {
  if (x.cols !== 784) throw new Error(`expected 784 columns, got ${x.cols}`);
  const out = new Uint8Array(x.rows * 196);
  for (let r = 0; r < x.rows; r++) {
    const src = r * 784;
    for (let i = 0; i < 14; i++) {
      for (let j = 0; j < 14; j++) {
        const p = src + 2 * i * 28 + 2 * j;
        const s = x.data[p]! + x.data[p + 1]! + x.data[p + 28]! + x.data[p + 29]!;
        out[r * 196 + i * 14 + j] = (s + 2) >> 2;
      }
    }
  }
  return { rows: x.rows, cols: 196, dtype: 'uint8', data: out };
}

/** splitmix32: a tiny seeded generator, enough for synthetic data. */
function rng(s: number): () => number {
  let state = s >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

function blobs(rows: number, centres: Float32Array, classes: number, dims: number, sigma: number, next: () => number): { x: Matrix; labels: Int32Array } {
  const data = new Float32Array(rows * dims);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = Math.floor(next() * classes);
    labels[i] = c;
    for (let j = 0; j < dims; j++) {
      const g = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
      data[i * dims + j] = centres[c * dims + j]! + sigma * g;
    }
  }
  return { x: { rows, cols: dims, dtype: 'float32', data }, labels };
}

const labelsMatrix = (l: Int32Array) => ({ rows: l.length, cols: 1, dtype: 'int32' as const, data: l });
const write = async (name: string, x: Matrix, labels: Int32Array): Promise<void> => {
  await writeMatrix(join(a.out!, `${name}.npy`), x);
  await writeMatrix(join(a.out!, `${name}-labels.npy`), labelsMatrix(labels));
  process.stderr.write(`wrote ${join(a.out!, name)}.npy (${x.rows}×${x.cols} ${x.dtype}) and its labels\n`);
};

for (const [split, builtin] of [['train', 'mnist-train'], ['test', 'mnist-test']] as const) {
  const d = await loadDataset(builtin, { limit: n });
  await write(`mnist14-${split}`, pool14(d.x), d.labels!);
}

const CLASSES = 10;
const DIMS = 50;
const next = rng(seed);
const centres = new Float32Array(CLASSES * DIMS);
for (let i = 0; i < centres.length; i++) centres[i] = next() * 2 - 1;
for (const split of ['train', 'test'] as const) {
  const b = blobs(n, centres, CLASSES, DIMS, 0.35, next);
  await write(`blobs50-${split}`, b.x, b.labels);
}
