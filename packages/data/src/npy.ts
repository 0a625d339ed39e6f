import { DataError } from './data-error.ts';
import type { Matrix } from './matrix.ts';
import { readNpyArray, shapeText } from './npy-array.ts';
import { validateFinite } from './validate-finite.ts';

/**
 * Reads a 2-D C-order NPY array. '|u1' stays uint8 (a view on `bytes` when aligned, no copy);
 * '<f4' stays float32; '<f8' and integer dtypes are converted to float32, refusing values that
 * float32 cannot hold (finite float64 overflow, integers beyond float32's exact range).
 * The result may share memory with `bytes`.
 */
export function parseNpy(bytes: Uint8Array, fileName: string): Matrix {
  const { descr, shape, values } = readNpyArray(bytes, fileName);
  if (shape.length !== 2) {
    const hint = shape.length === 1 ? '; reshape to (n, 1) or pass it as labels' : '';
    throw new DataError(`${fileName}: array is ${shape.length}-D with shape ${shapeText(shape)}; data must be 2-D (rows × cols)${hint}`, fileName);
  }
  const [rows, cols] = shape as [number, number];
  if (rows === 0 || cols === 0) throw new DataError(`${fileName}: empty dataset (shape ${shapeText(shape)})`, fileName);

  let m: Matrix;
  if (values instanceof Uint8Array && descr.endsWith('u1')) {
    m = { rows, cols, dtype: 'uint8', data: values };
  } else if (values instanceof Float32Array) {
    m = { rows, cols, dtype: 'float32', data: values };
  } else if (values instanceof Float64Array) {
    m = { rows, cols, dtype: 'float32', data: float64ToFloat32(values, cols, fileName) };
  } else if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const b = values[i]!;
      const v = Number(b);
      out[i] = BigInt(v) === b ? exactFloat32(v, i, cols, fileName) : notExact(b, i, cols, fileName);
    }
    m = { rows, cols, dtype: 'float32', data: out };
  } else {
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = exactFloat32(values[i]!, i, cols, fileName);
    m = { rows, cols, dtype: 'float32', data: out };
  }
  validateFinite(m, fileName);
  return m;
}

function float64ToFloat32(src: Float64Array, cols: number, fileName: string): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    const f = Math.fround(v);
    // NaN/±Inf in the source are reported by validateFinite; here only finite values that float32 cannot hold.
    if (f - f !== 0 && v - v === 0) {
      const row = Math.floor(i / cols) + 1;
      const col = (i % cols) + 1;
      throw new DataError(`${fileName}: row ${row}, column ${col} value ${v} overflows float32`, fileName, row, col);
    }
    out[i] = f;
  }
  return out;
}

function exactFloat32(v: number, i: number, cols: number, fileName: string): number {
  const f = Math.fround(v);
  return f === v ? f : notExact(v, i, cols, fileName);
}

function notExact(shown: number | bigint, i: number, cols: number, fileName: string): never {
  const row = Math.floor(i / cols) + 1;
  const col = (i % cols) + 1;
  throw new DataError(`${fileName}: row ${row}, column ${col} integer ${shown} is not exactly representable as float32`, fileName, row, col);
}
