import { createHash } from 'node:crypto';
import { encodeNpy, parseMatrix, type Matrix } from '@cmbn/data';
import { describe, expect, it } from 'vitest';
import { datasetSha256 } from './digests.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('datasetSha256', () => {
  it('is the sha256 of the canonical .npy, so the parsed upload and the local matrix agree', () => {
    const x: Matrix = { rows: 3, cols: 4, dtype: 'uint8', data: Uint8Array.from({ length: 12 }, (_, i) => i * 7) };
    const npy = encodeNpy(x);
    expect(datasetSha256(x)).toBe(sha(npy));
    // What a worker sees: the uploaded bytes parsed back into a matrix.
    expect(datasetSha256(parseMatrix(npy, 'upload.npy'))).toBe(sha(npy));
    // A view with the same values (offset buffer) has the same identity; other values, dtype or shape do not.
    const big = new Uint8Array(20);
    big.set(x.data, 5);
    expect(datasetSha256({ ...x, data: big.subarray(5, 17) })).toBe(datasetSha256(x));
    expect(datasetSha256({ ...x, data: Uint8Array.from(x.data, (v, i) => (i === 11 ? v + 1 : v)) })).not.toBe(datasetSha256(x));
    expect(datasetSha256({ ...x, rows: 4, cols: 3 })).not.toBe(datasetSha256(x));
    expect(datasetSha256({ rows: 3, cols: 4, dtype: 'float32', data: Float32Array.from(x.data) })).not.toBe(datasetSha256(x));
  });
});
