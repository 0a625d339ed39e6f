/**
 * Request body → the student's input matrix, checked against the version's signature.
 * Formats (MLflow's scoring protocol plus binary): JSON `{"inputs": [[…]]}`, `{"instances": [[…]]}`,
 * `{"dataframe_split": {"columns": […], "data": [[…]]}}`; `text/csv`; `application/x-npy` (2-D,
 * C order; '|u1' and '<f4' as the training files, other numeric dtypes converted by @cmbn/data).
 * Rows and columns in messages are 1-based, as in @cmbn/data's errors. Every check is one pass
 * over the values, so a bad body is refused in time linear in its size (bounded by the body limit).
 */
import { parseCsv, parseNpy, validateFinite, type Matrix } from '@cmbn/data';
import type { StudentInput, StudentSignature } from '@cmbn/distill';
import { ServeError } from './errors.ts';

export type InputSignature = Pick<StudentSignature, 'inputDims' | 'inputDType'>;
export type BodyFormat = 'json' | 'csv' | 'npy';

const BODY = 'request body';

/** The format a Content-Type names, or undefined when it is not one we take. */
export function formatOf(contentType: string | undefined): BodyFormat | undefined {
  const t = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (t === 'application/json') return 'json';
  if (t === 'text/csv') return 'csv';
  if (t === 'application/x-npy' || t === 'application/npy') return 'npy';
  return undefined;
}

export const SUPPORTED_TYPES = 'application/json, text/csv or application/x-npy';

export function parseBody(body: Uint8Array, format: BodyFormat, sig: InputSignature): StudentInput {
  if (body.byteLength === 0) throw new ServeError('EMPTY_BATCH', 'request body is empty; send at least one row');
  if (format === 'json') return parseJsonBody(body, sig);
  const m = format === 'csv' ? parseCsv(body, BODY) : parseNpy(body, BODY);
  return conform(m, sig);
}

function jsonRows(doc: unknown): { rows: unknown; key: string } {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ServeError('BAD_REQUEST', 'JSON body must be an object with one of "inputs", "instances" or "dataframe_split"');
  }
  const o = doc as Record<string, unknown>;
  const keys = ['inputs', 'instances', 'dataframe_split'].filter((k) => k in o);
  if (keys.length !== 1) {
    const got = Object.keys(o).slice(0, 5).map((k) => JSON.stringify(k)).join(', ') || 'no keys';
    throw new ServeError('BAD_REQUEST', `JSON body must have exactly one of "inputs", "instances" or "dataframe_split" (got ${got})`);
  }
  const key = keys[0]!;
  if (key !== 'dataframe_split') return { rows: o[key], key };
  const split = o.dataframe_split as Record<string, unknown> | null;
  if (typeof split !== 'object' || split === null || Array.isArray(split)) {
    throw new ServeError('BAD_REQUEST', '"dataframe_split" must be an object {"columns": […], "data": [[…]]}');
  }
  return { rows: split.data, key: 'dataframe_split.data' };
}

function checkColumns(doc: Record<string, unknown>, sig: InputSignature): void {
  const cols = (doc.dataframe_split as Record<string, unknown>).columns;
  if (cols === undefined) return;
  if (!Array.isArray(cols)) throw new ServeError('BAD_REQUEST', '"dataframe_split.columns" must be a list of column names');
  if (cols.length !== sig.inputDims) {
    throw new ServeError('WRONG_WIDTH', `"dataframe_split.columns" names ${cols.length} columns; this model's signature takes ${sig.inputDims}`);
  }
}

function parseJsonBody(body: Uint8Array, sig: InputSignature): StudentInput {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (err) {
    // JSON has no NaN or Infinity: a client that writes them produces invalid JSON.
    throw new ServeError('BAD_JSON', `request body is not valid JSON (${(err as Error).message}); NaN and Infinity are not JSON values`);
  }
  const { rows, key } = jsonRows(doc);
  if (key === 'dataframe_split.data') checkColumns(doc as Record<string, unknown>, sig);
  if (!Array.isArray(rows)) throw new ServeError('BAD_REQUEST', `"${key}" must be a list of rows, each a list of ${sig.inputDims} numbers`);
  const n = rows.length;
  if (n === 0) throw new ServeError('EMPTY_BATCH', `"${key}" is an empty batch; send at least one row`);
  const d = sig.inputDims;
  const u8 = sig.inputDType === 'uint8';
  const data = u8 ? new Uint8Array(n * d) : new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = rows[i] as unknown;
    if (!Array.isArray(row)) {
      throw new ServeError('BAD_REQUEST', `${key} row ${i + 1} is not a list of numbers (a 2-D batch is required, one list per row)`, { row: i + 1 });
    }
    if (row.length !== d) {
      throw new ServeError('WRONG_WIDTH', `${key} row ${i + 1} has ${row.length} values; this model's signature takes ${d}`, { row: i + 1 });
    }
    const off = i * d;
    for (let j = 0; j < d; j++) {
      const v = row[j] as unknown;
      if (typeof v !== 'number') {
        const shown = v === null ? 'null (a missing value)' : JSON.stringify(v)?.slice(0, 40) ?? String(v);
        throw new ServeError('BAD_DTYPE', `${key} row ${i + 1}, column ${j + 1} is ${shown}; values must be numbers`, { row: i + 1, column: j + 1 });
      }
      data[off + j] = u8 ? checkedByte(v, i, j, key) : checkedFloat(v, i, j, key);
    }
  }
  return { rows: n, cols: d, dtype: sig.inputDType, data };
}

function checkedByte(v: number, i: number, j: number, where: string): number {
  // `v >>> 0 === v` is an integer test that also rejects negatives; then the range.
  if (v >>> 0 !== v || v > 255) {
    throw new ServeError('BAD_DTYPE', `${where} row ${i + 1}, column ${j + 1} is ${v}; this model takes uint8 input (integers 0..255)`, {
      row: i + 1,
      column: j + 1,
    });
  }
  return v;
}

function checkedFloat(v: number, i: number, j: number, where: string): number {
  const f = Math.fround(v);
  if (f - f !== 0) {
    throw new ServeError('BAD_DTYPE', `${where} row ${i + 1}, column ${j + 1} is ${v}, which overflows float32`, { row: i + 1, column: j + 1 });
  }
  return f;
}

/** A parsed CSV/npy matrix, brought to the signature's width and dtype (or refused). */
function conform(m: Matrix, sig: InputSignature): StudentInput {
  if (m.rows === 0) throw new ServeError('EMPTY_BATCH', 'request body holds no rows; send at least one');
  if (m.cols !== sig.inputDims) {
    throw new ServeError('WRONG_WIDTH', `request body has ${m.cols} columns; this model's signature takes ${sig.inputDims}`, { column: m.cols });
  }
  const n = m.rows * m.cols;
  if (sig.inputDType === 'uint8') {
    if (m.dtype === 'uint8') return m;
    const out = new Uint8Array(n);
    const src = m.data as Float32Array;
    for (let i = 0; i < n; i++) out[i] = checkedByte(src[i]!, Math.floor(i / m.cols), i % m.cols, BODY);
    return { rows: m.rows, cols: m.cols, dtype: 'uint8', data: out };
  }
  if (m.dtype === 'uint8') return { rows: m.rows, cols: m.cols, dtype: 'float32', data: Float32Array.from(m.data) };
  // CSV readers accept "nan"/"inf" cells; the student does not.
  validateFinite(m, BODY);
  return m;
}
