import { readFile, stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { BUILTIN_DATASETS, isBuiltinDataset, loadBuiltin } from './builtin-datasets.ts';
import { parseCsv } from './csv.ts';
import { DataError } from './data-error.ts';
import { parseLabels } from './labels.ts';
import { sliceRows, type Dataset, type Matrix } from './matrix.ts';
import { parseNpy } from './npy.ts';
import { parseMatrix } from './parse-matrix.ts';

export interface LoadDatasetOptions {
  /** Path of a labels file (npy, csv, IDX); its count must equal the number of data rows. */
  labels?: string;
  /** Keep only the first `limit` rows (and labels). */
  limit?: number;
}

/**
 * Loads a builtin (`mnist`, `mnist-train`, `mnist-test`) or a file: `.npy`, `.csv`/`.txt`/`.tsv`,
 * anything else sniffed by content (IDX magic, NPY magic, else CSV). Data are validated as finite.
 */
export async function loadDataset(spec: string, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  const { limit } = opts;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new DataError(`limit must be a positive integer, got ${limit}`);
  }
  if (isBuiltinDataset(spec)) {
    if (opts.labels !== undefined) {
      throw new DataError(`builtin dataset '${spec}' carries its own labels; a labels file applies to data files only`);
    }
    return loadBuiltin(spec, limit);
  }

  const x = parseByExtension(await readDataFile(spec), spec);
  const name = basename(spec, extname(spec));
  let labels: Int32Array | undefined;
  if (opts.labels !== undefined) {
    labels = parseLabels(await readBytes(opts.labels), opts.labels);
    // Checked against the whole file, before `limit`, so that a mismatched pair never passes silently.
    if (labels.length !== x.rows) {
      throw new DataError(`${opts.labels} has ${labels.length} labels but ${spec} has ${x.rows} rows`, opts.labels);
    }
  }
  if (limit === undefined) return labels ? { name, x, labels } : { name, x };
  const xs = sliceRows(x, limit);
  return labels ? { name, x: xs, labels: labels.subarray(0, xs.rows) } : { name, x: xs };
}

function parseByExtension(bytes: Uint8Array, path: string): Matrix {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return parseNpy(bytes, path);
  if (ext === '.csv' || ext === '.txt' || ext === '.tsv') return parseCsv(bytes, path);
  return parseMatrix(bytes, path);
}

async function readDataFile(path: string): Promise<Uint8Array> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw new DataError(`${path}: is a directory, expected a data file`, path);
  } catch (e) {
    if (e instanceof DataError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      // A bare word like "mnsit" was probably meant as a builtin name, not a path.
      if (!/[/\\.]/.test(path)) {
        throw new DataError(`unknown dataset '${path}': not a file and not a builtin (builtins: ${BUILTIN_DATASETS.join(', ')})`, path);
      }
      throw new DataError(`file not found: ${path}`, path);
    }
    throw new DataError(`${path}: cannot read file: ${(e as Error).message}`, path);
  }
  return readBytes(path);
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const buf = await readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError(`file not found: ${path}`, path);
    throw new DataError(`${path}: cannot read file: ${(e as Error).message}`, path);
  }
}
