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
 *   DIR/digits8.npy + digits8-labels.npy          scikit-learn's "digits" (UCI optdigits test set, CC BY 4.0:
 *                                                 1797 8×8 images, grey levels 0–16, uint8), the small-N set
 *                                                 issue 10 checks the output step on; read from Debian's
 *                                                 python3-sklearn (`apt-get install python3-sklearn`) or
 *                                                 --sklearn-digits FILE (its digits.csv.gz); skipped, with a
 *                                                 line saying so, when neither is there
 *
 * Deterministic from --seed (the blobs; the pooling has no randomness).
 */
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { loadDataset, writeMatrix, type Matrix } from '@cmbn/data';

/** Where Debian's python3-sklearn puts the digits (the same file as pip's scikit-learn ships). */
const DEBIAN_SKLEARN_DIGITS = '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz';

const { values: a } = parseArgs({
  options: {
    out: { type: 'string' },
    n: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    'sklearn-digits': { type: 'string', default: DEBIAN_SKLEARN_DIGITS },
  },
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

/** scikit-learn's digits.csv.gz: 1797 lines of 64 grey levels (0–16) and the label, comma-separated. */
function parseSklearnDigits(csv: string, file: string): { x: Matrix; labels: Int32Array } {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const data = new Uint8Array(lines.length * 64);
  const labels = new Int32Array(lines.length);
  lines.forEach((line, r) => {
    const f = line.split(',').map(Number);
    if (f.length !== 65 || f.some((v) => !Number.isInteger(v) || v < 0 || v > 16)) {
      throw new Error(`${file}: line ${r + 1} is not 64 grey levels 0–16 and a label`);
    }
    data.set(f.slice(0, 64), r * 64);
    labels[r] = f[64]!;
  });
  return { x: { rows: lines.length, cols: 64, dtype: 'uint8', data }, labels };
}

const digitsFile = a['sklearn-digits']!;
if (await access(digitsFile).then(() => true, () => false)) {
  const d = parseSklearnDigits(gunzipSync(await readFile(digitsFile)).toString('utf8'), digitsFile);
  await write('digits8', d.x, d.labels);
} else {
  process.stderr.write(`skipped digits8: ${digitsFile} is not there (apt-get install python3-sklearn, or --sklearn-digits FILE)\n`);
}
