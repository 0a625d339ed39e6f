import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from './encode-npy.ts';
import type { WritableMatrix } from './matrix.ts';
import { parseNpy } from './npy.ts';
import { dataError, npyBytes } from './test-helpers.ts';

const f32Body = (vals: number[]) => new Uint8Array(new Float32Array(vals).buffer);

describe('encodeNpy → parseNpy round trips', () => {
  it('uint8 stays uint8, header is 64-byte aligned', () => {
    const data = Uint8Array.from([0, 1, 2, 253, 254, 255]);
    const bytes = encodeNpy({ rows: 2, cols: 3, dtype: 'uint8', data });
    expect(((bytes[8]! | (bytes[9]! << 8)) + 10) % 64).toBe(0);
    const m = parseNpy(bytes, 'u8.npy');
    expect(m).toMatchObject({ rows: 2, cols: 3, dtype: 'uint8' });
    expect(Array.from(m.data)).toEqual(Array.from(data));
  });

  it('float32, float64, int32, uint16 all read back as float32', () => {
    const cases = [
      { dtype: 'float32', data: Float32Array.from([1.5, -2, 0, 3.25e-20]) },
      { dtype: 'float64', data: Float64Array.from([1.5, -2, 0, 0.1]) },
      { dtype: 'int32', data: Int32Array.from([1, -2, 16777216, -16777216]) },
      { dtype: 'uint16', data: Uint16Array.from([0, 1, 65535, 42]) },
    ] as const;
    for (const c of cases) {
      const m = parseNpy(encodeNpy({ rows: 2, cols: 2, dtype: c.dtype, data: c.data } as WritableMatrix), `${c.dtype}.npy`);
      expect(m.dtype).toBe('float32');
      expect(Array.from(m.data)).toEqual(Array.from(c.data, (v) => Math.fround(v)));
    }
  });

  it('property: every dtype round-trips bit-exactly (float64 → nearest float32)', () => {
    const shape = fc.record({ rows: fc.integer({ min: 1, max: 8 }), cols: fc.integer({ min: 1, max: 8 }) });
    fc.assert(
      fc.property(shape, fc.constantFrom('uint8', 'float32', 'float64', 'int32', 'uint16'), fc.integer(), ({ rows, cols }, dtype, seed) => {
        const n = rows * cols;
        const rnd = fc.sample(
          dtype === 'uint8' ? fc.integer({ min: 0, max: 255 })
            : dtype === 'uint16' ? fc.integer({ min: 0, max: 65535 })
            : dtype === 'int32' ? fc.integer({ min: -(2 ** 24), max: 2 ** 24 })
            : dtype === 'float32' ? fc.float({ noNaN: true, noDefaultInfinity: true })
            : fc.double({ noNaN: true, noDefaultInfinity: true, min: -3e38, max: 3e38 }),
          { numRuns: n, seed },
        );
        const data =
          dtype === 'uint8' ? Uint8Array.from(rnd) : dtype === 'uint16' ? Uint16Array.from(rnd)
            : dtype === 'int32' ? Int32Array.from(rnd) : dtype === 'float32' ? Float32Array.from(rnd) : Float64Array.from(rnd);
        const m = parseNpy(encodeNpy({ rows, cols, dtype, data } as never), 'p.npy');
        expect([m.rows, m.cols]).toEqual([rows, cols]);
        expect(m.dtype).toBe(dtype === 'uint8' ? 'uint8' : 'float32');
        for (let i = 0; i < n; i++) expect(Object.is(m.data[i], Math.fround(data[i]!))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('reads NPY v2.0 and v3.0 headers and unaligned buffers', () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    for (const major of [2, 3]) {
      const m = parseNpy(npyBytes(header, f32Body([1, 2, 3, 4]), major), 'v.npy');
      expect(Array.from(m.data)).toEqual([1, 2, 3, 4]);
    }
    const bytes = npyBytes(header, f32Body([1, 2, 3, 4]));
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    expect(Array.from(parseNpy(shifted, 'u.npy').data)).toEqual([1, 2, 3, 4]);
  });

  it('uint8 data is a view on the input (no copy)', () => {
    const bytes = encodeNpy({ rows: 1, cols: 3, dtype: 'uint8', data: Uint8Array.from([7, 8, 9]) });
    expect(parseNpy(bytes, 'v.npy').data.buffer).toBe(bytes.buffer);
  });

  it('reads little-endian int64 as float32', () => {
    const body = new Uint8Array(new BigInt64Array([1n, -5n]).buffer);
    const m = parseNpy(npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 2), }", body), 'i8.npy');
    expect(Array.from(m.data)).toEqual([1, -5]);
  });
});

describe('parseNpy errors', () => {
  const hdr = (descr: string, shape: string, fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;

  it('rejects bad magic', () => {
    expect(dataError(() => parseNpy(new TextEncoder().encode('1,2\n'), 'x.npy')).message).toBe('x.npy: not an NPY file (missing the \\x93NUMPY magic)');
  });
  it('rejects 1-D and 3-D arrays for data', () => {
    expect(dataError(() => parseNpy(npyBytes(hdr('<f4', '(3,)'), f32Body([1, 2, 3])), 'a.npy')).message)
      .toMatch(/^a\.npy: array is 1-D with shape \(3,\); data must be 2-D/);
    expect(dataError(() => parseNpy(npyBytes(hdr('<f4', '(1, 1, 2)'), f32Body([1, 2])), 'b.npy')).message)
      .toMatch(/^b\.npy: array is 3-D with shape \(1, 1, 2\)/);
  });
  it('rejects Fortran order', () => {
    expect(dataError(() => parseNpy(npyBytes(hdr('<f4', '(2, 1)', 'True'), f32Body([1, 2])), 'f.npy')).message).toMatch(/^f\.npy: .*Fortran/);
  });
  it('rejects big-endian and unsupported dtypes, naming the dtype', () => {
    expect(dataError(() => parseNpy(npyBytes(hdr('>f4', '(1, 1)'), f32Body([1])), 'be.npy')).message)
      .toBe("be.npy: big-endian dtype '>f4' is not supported; save it little-endian ('<f4')");
    expect(dataError(() => parseNpy(npyBytes(hdr('<c8', '(1, 1)'), new Uint8Array(8)), 'c.npy')).message).toMatch(/^c\.npy: unsupported dtype '<c8'/);
    expect(dataError(() => parseNpy(npyBytes(hdr('<U3', '(1, 1)'), new Uint8Array(12)), 's.npy')).message).toMatch(/'<U3'/);
  });
  it('rejects a data length that does not match the shape', () => {
    const e = dataError(() => parseNpy(npyBytes(hdr('<f4', '(2, 2)'), f32Body([1, 2, 3])), 't.npy'));
    expect(e.message).toBe("t.npy: has 12 data bytes, expected 16 for shape (2, 2) of '<f4' (file truncated?)");
    expect(e.file).toBe('t.npy');
  });
  it('rejects empty arrays', () => {
    expect(dataError(() => parseNpy(npyBytes(hdr('<f4', '(0, 3)'), new Uint8Array(0)), 'e.npy')).message).toMatch(/^e\.npy: empty dataset/);
  });
  it('names file, row and column of NaN / Inf', () => {
    const e = dataError(() => parseNpy(encodeNpy({ rows: 3, cols: 2, dtype: 'float32', data: Float32Array.from([0, 1, 2, 3, 4, NaN]) }), 'n.npy'));
    expect(e.message).toBe('n.npy: row 3, column 2 is NaN; data must be finite');
    expect([e.file, e.row, e.column]).toEqual(['n.npy', 3, 2]);
    const e2 = dataError(() => parseNpy(encodeNpy({ rows: 2, cols: 2, dtype: 'float64', data: Float64Array.from([0, -Infinity, 2, 3]) }), 'i.npy'));
    expect(e2.message).toBe('i.npy: row 1, column 2 is -Infinity; data must be finite');
  });
  it('rejects finite float64 values that overflow float32', () => {
    const e = dataError(() => parseNpy(encodeNpy({ rows: 2, cols: 1, dtype: 'float64', data: Float64Array.from([1, 1e300]) }), 'o.npy'));
    expect(e.message).toBe('o.npy: row 2, column 1 value 1e+300 overflows float32');
    expect(e.row).toBe(2);
  });
  it('rejects integers float32 cannot hold exactly', () => {
    const e = dataError(() => parseNpy(encodeNpy({ rows: 1, cols: 2, dtype: 'int32', data: Int32Array.from([1, 16777217]) }), 'big.npy'));
    expect(e.message).toBe('big.npy: row 1, column 2 integer 16777217 is not exactly representable as float32');
  });
});
