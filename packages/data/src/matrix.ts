import { DataError } from './data-error.ts';

export type MatrixDType = 'uint8' | 'float32';

/** Row-major `rows × cols` matrix; `data.length === rows * cols`. */
export interface Matrix {
  rows: number;
  cols: number;
  dtype: MatrixDType;
  data: Uint8Array | Float32Array;
}

/** Extra dtypes that can be written (e.g. exact float64 results, int32 labels, uint16 codes) but are never loaded as such. */
export interface WideMatrix {
  rows: number;
  cols: number;
  dtype: 'float64' | 'int32' | 'uint16';
  data: Float64Array | Int32Array | Uint16Array;
}

/** What `encodeNpy` and `writeMatrix` accept. */
export type WritableMatrix = Matrix | WideMatrix;

export interface Dataset {
  name: string;
  x: Matrix;
  labels?: Int32Array;
}

/** Throws unless `data.length === rows * cols` with non-negative integer dimensions. */
export function checkShape(m: WritableMatrix, what: string): void {
  const { rows, cols } = m;
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new DataError(`${what}: invalid shape ${rows}×${cols}`, what);
  }
  if (m.data.length !== rows * cols) {
    throw new DataError(`${what}: data has ${m.data.length} values, expected ${rows}×${cols} = ${rows * cols}`, what);
  }
}

/** The first `limit` rows as a view on the same buffer (no copy); the matrix itself when it has no more rows. */
export function sliceRows(m: Matrix, limit: number): Matrix {
  if (!Number.isInteger(limit) || limit < 0) {
    throw new DataError(`limit must be a non-negative integer, got ${limit}`);
  }
  if (limit >= m.rows) return m;
  return { rows: limit, cols: m.cols, dtype: m.dtype, data: m.data.subarray(0, limit * m.cols) };
}

/** The values as float32: the same array when already float32 (no copy), a converted copy for uint8. */
export function toFloat32(m: Matrix): Float32Array {
  const n = m.rows * m.cols;
  if (m.data instanceof Float32Array) return m.data.length === n ? m.data : m.data.subarray(0, n);
  const out = new Float32Array(n);
  out.set(m.data.subarray(0, n));
  return out;
}
