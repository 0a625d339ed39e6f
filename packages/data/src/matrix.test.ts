import { describe, expect, it } from 'vitest';
import { DataError } from './data-error.ts';
import { sliceRows, toFloat32, type Matrix } from './matrix.ts';
import { parseMatrix } from './parse-matrix.ts';
import { encodeNpy } from './encode-npy.ts';
import { validateFinite } from './validate-finite.ts';

const m3x2: Matrix = { rows: 3, cols: 2, dtype: 'float32', data: Float32Array.from([1, 2, 3, 4, 5, 6]) };

describe('matrix helpers', () => {
  it('sliceRows keeps the first rows as a view', () => {
    const s = sliceRows(m3x2, 2);
    expect(s).toMatchObject({ rows: 2, cols: 2 });
    expect(Array.from(s.data)).toEqual([1, 2, 3, 4]);
    expect(s.data.buffer).toBe(m3x2.data.buffer);
    expect(sliceRows(m3x2, 10)).toBe(m3x2);
    expect(() => sliceRows(m3x2, -1)).toThrow(DataError);
  });

  it('toFloat32 does not copy float32 and converts uint8', () => {
    expect(toFloat32(m3x2)).toBe(m3x2.data);
    const u = toFloat32({ rows: 1, cols: 3, dtype: 'uint8', data: Uint8Array.from([0, 128, 255]) });
    expect(u).toBeInstanceOf(Float32Array);
    expect(Array.from(u)).toEqual([0, 128, 255]);
  });

  it('validateFinite names file, row and column', () => {
    validateFinite(m3x2, 'ok');
    const bad: Matrix = { rows: 2, cols: 3, dtype: 'float32', data: Float32Array.from([0, 0, 0, 0, Infinity, 0]) };
    expect(() => validateFinite(bad, 'x.bin')).toThrow('x.bin: row 2, column 2 is Infinity; data must be finite');
  });
});

describe('parseMatrix sniffs the format', () => {
  it('npy, IDX and CSV', () => {
    expect(parseMatrix(encodeNpy(m3x2), 'a').rows).toBe(3);
    expect(parseMatrix(Uint8Array.from([0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 2, 7, 9]), 'b')).toMatchObject({ rows: 1, cols: 2, dtype: 'uint8' });
    expect(parseMatrix(new TextEncoder().encode('h1,h2\n1,2\n'), 'c')).toMatchObject({ rows: 1, cols: 2, dtype: 'float32' });
  });

  it('reports unknown binary data clearly', () => {
    expect(() => parseMatrix(Uint8Array.from([1, 0, 3, 4]), 'blob.bin')).toThrow('blob.bin: unrecognised binary format (expected .npy, IDX or CSV text)');
  });
});
