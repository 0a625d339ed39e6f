import { describe, expect, it } from 'vitest';
import { encodeNpy } from './encode-npy.ts';
import { parseLabels } from './labels.ts';
import { dataError, npyBytes } from './test-helpers.ts';

const enc = (s: string) => new TextEncoder().encode(s);

const npy1d = (descr: string, body: Uint8Array, n: number): Uint8Array => npyBytes(`{'descr': '${descr}', 'fortran_order': False, 'shape': (${n},), }`, body);

describe('parseLabels', () => {
  it('reads 1-D int64 NPY (numpy default) and n×1 int32 / integral float NPY', () => {
    expect(Array.from(parseLabels(npy1d('<i8', new Uint8Array(new BigInt64Array([3n, -1n, 7n]).buffer), 3), 'y.npy'))).toEqual([3, -1, 7]);
    expect(Array.from(parseLabels(encodeNpy({ rows: 3, cols: 1, dtype: 'int32', data: Int32Array.from([0, 9, 4]) }), 'y.npy'))).toEqual([0, 9, 4]);
    expect(Array.from(parseLabels(encodeNpy({ rows: 2, cols: 1, dtype: 'float64', data: Float64Array.from([2, 5]) }), 'y.npy'))).toEqual([2, 5]);
    expect(Array.from(parseLabels(encodeNpy({ rows: 2, cols: 1, dtype: 'uint16', data: Uint16Array.from([65535, 1]) }), 'y.npy'))).toEqual([65535, 1]);
  });

  it('reads one-column CSV with or without a header', () => {
    expect(Array.from(parseLabels(enc('label\n1\n2\n\n'), 'y.csv'))).toEqual([1, 2]);
    expect(Array.from(parseLabels(enc('1\n2\n3'), 'y.csv'))).toEqual([1, 2, 3]);
  });

  it('reads IDX labels (magic 0x00000801)', () => {
    const bytes = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 4]);
    expect(Array.from(parseLabels(bytes, 'lab-idx1'))).toEqual([5, 0, 4]);
    expect(dataError(() => parseLabels(bytes.subarray(0, 10), 'cut')).message).toMatch(/^cut: truncated IDX file/);
  });

  it('rejects non-integer labels naming file and row', () => {
    const e = dataError(() => parseLabels(encodeNpy({ rows: 3, cols: 1, dtype: 'float32', data: Float32Array.from([1, 2, 2.5]) }), 'y.npy'));
    expect(e.message).toBe('y.npy: row 3: label 2.5 is not an integer');
    expect(e.row).toBe(3);
    const c = dataError(() => parseLabels(enc('label\n1\n0.5\n'), 'y.csv'));
    expect(c.message).toBe('y.csv: line 3 (row 2): label 0.5 is not an integer');
    expect(dataError(() => parseLabels(enc('1\ncat\n'), 'y.csv')).message).toBe("y.csv: line 2, column 1: 'cat' is not a number");
    expect(dataError(() => parseLabels(npy1d('<i8', new Uint8Array(new BigInt64Array([2n ** 40n]).buffer), 1), 'b.npy')).message)
      .toBe('b.npy: row 1: label 1099511627776 does not fit in int32');
  });

  it('rejects multi-column and empty label files', () => {
    expect(dataError(() => parseLabels(enc('1,2\n3,4\n'), 'y.csv')).message).toBe('y.csv: labels file has 2 columns, expected 1');
    expect(dataError(() => parseLabels(encodeNpy({ rows: 2, cols: 2, dtype: 'int32', data: new Int32Array(4) }), 'y.npy')).message)
      .toBe('y.npy: labels must be 1-D or n×1, got shape (2, 2)');
    expect(dataError(() => parseLabels(npy1d('<i8', new Uint8Array(0), 0), 'z.npy')).message).toBe('z.npy: empty labels file (no labels)');
  });
});
