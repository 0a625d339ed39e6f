import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCsv } from './csv.ts';
import { DataError } from './data-error.ts';
import { parseNpy } from './npy.ts';
import { encodeCsv, writeMatrix } from './write-matrix.ts';

const dir = mkdtempSync(join(tmpdir(), 'cmbn-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('writeMatrix', () => {
  it('writes .npy and .csv that read back', async () => {
    const m = { rows: 2, cols: 2, dtype: 'float32' as const, data: Float32Array.from([0.1, -2, 3e-8, 1e30]) };
    await writeMatrix(join(dir, 'm.npy'), m);
    expect(Array.from(parseNpy(new Uint8Array(readFileSync(join(dir, 'm.npy'))), 'm.npy').data)).toEqual(Array.from(m.data));
    await writeMatrix(join(dir, 'm.csv'), m);
    const text = readFileSync(join(dir, 'm.csv'), 'utf8');
    expect(text).toBe('0.1,-2\n3e-8,1e+30\n');
    expect(Array.from(parseCsv(text, 'm.csv').data)).toEqual(Array.from(m.data));
    await writeMatrix(join(dir, 'i.csv'), { rows: 1, cols: 2, dtype: 'int32', data: Int32Array.from([-7, 2 ** 30]) });
    expect(readFileSync(join(dir, 'i.csv'), 'utf8')).toBe('-7,1073741824\n');
  });

  it('property: float32 CSV text reads back to the same float32 values', () => {
    fc.assert(
      fc.property(fc.float32Array({ noNaN: true, noDefaultInfinity: true, minLength: 1, maxLength: 20 }), (data) => {
        const back = parseCsv(encodeCsv({ rows: data.length, cols: 1, dtype: 'float32', data }, 'p.csv'), 'p.csv');
        for (let i = 0; i < data.length; i++) expect(Object.is(back.data[i], data[i])).toBe(true);
      }),
    );
  });

  it('gives clear errors for other extensions, missing directories and bad shapes', async () => {
    const m = { rows: 1, cols: 1, dtype: 'uint8' as const, data: Uint8Array.from([1]) };
    await expect(writeMatrix(join(dir, 'm.bin'), m)).rejects.toThrow(/m\.bin: cannot write '\.bin' files; use \.npy or \.csv$/);
    await expect(writeMatrix(join(dir, 'nope', 'm.npy'), m)).rejects.toThrow(/m\.npy: cannot write file: its directory does not exist$/);
    await expect(writeMatrix(join(dir, 'x.npy'), { ...m, rows: 2 })).rejects.toBeInstanceOf(DataError);
  });
});
