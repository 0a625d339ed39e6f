import { DataError } from './data-error.ts';
import { scanCsv } from './csv-scan.ts';
import { checkIdxLength, hasIdxMagic, IDX_UBYTE, idxTypeName, parseIdxHeader } from './idx.ts';
import { hasNpyMagic, readNpyArray, shapeText } from './npy-array.ts';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * Reads class labels: NPY (1-D or n×1, any integer dtype, or floats with integral values),
 * IDX (unsigned byte, magic 0x00000801, or n×1) or CSV (one column, optional header).
 */
export function parseLabels(bytes: Uint8Array, fileName: string): Int32Array {
  if (hasNpyMagic(bytes)) return npyLabels(bytes, fileName);
  if (hasIdxMagic(bytes)) return idxLabels(bytes, fileName);
  return csvLabels(bytes, fileName);
}

function checkCount(n: number, fileName: string): void {
  if (n === 0) throw new DataError(`${fileName}: empty labels file (no labels)`, fileName);
}

function toLabel(v: number, row: number, fileName: string, where = `row ${row}`): number {
  if (!Number.isInteger(v)) {
    throw new DataError(`${fileName}: ${where}: label ${v} is not an integer`, fileName, row);
  }
  if (v < INT32_MIN || v > INT32_MAX) {
    throw new DataError(`${fileName}: ${where}: label ${v} does not fit in int32`, fileName, row);
  }
  return v;
}

function npyLabels(bytes: Uint8Array, fileName: string): Int32Array {
  const { shape, values } = readNpyArray(bytes, fileName);
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw new DataError(`${fileName}: labels must be 1-D or n×1, got shape ${shapeText(shape)}`, fileName);
  }
  checkCount(values.length, fileName);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const raw = values[i]!;
    let v: number;
    if (typeof raw === 'bigint') {
      if (raw < BigInt(INT32_MIN) || raw > BigInt(INT32_MAX)) {
        throw new DataError(`${fileName}: row ${i + 1}: label ${raw} does not fit in int32`, fileName, i + 1);
      }
      v = Number(raw);
    } else {
      v = raw;
    }
    out[i] = toLabel(v, i + 1, fileName);
  }
  return out;
}

function idxLabels(bytes: Uint8Array, fileName: string): Int32Array {
  const h = parseIdxHeader(bytes, fileName);
  if (h.type !== IDX_UBYTE) {
    throw new DataError(`${fileName}: IDX labels must be unsigned bytes, got ${idxTypeName(h.type)}`, fileName);
  }
  if (!(h.dims.length === 1 || (h.dims.length === 2 && h.dims[1] === 1))) {
    throw new DataError(`${fileName}: IDX labels must be 1-D (magic 0x00000801), got ${h.dims.join('×')}`, fileName);
  }
  checkIdxLength(h, bytes.length, fileName);
  checkCount(h.dims[0]!, fileName);
  const out = new Int32Array(h.dims[0]!);
  out.set(bytes.subarray(h.headerBytes, h.headerBytes + h.dataBytes));
  return out;
}

function csvLabels(bytes: Uint8Array, fileName: string): Int32Array {
  const t = scanCsv(bytes, fileName, 'float64');
  if (t.cols !== 1) {
    throw new DataError(`${fileName}: labels file has ${t.cols} columns, expected 1`, fileName);
  }
  const out = new Int32Array(t.rows);
  for (let i = 0; i < t.rows; i++) {
    out[i] = toLabel(t.data[i]!, i + 1, fileName, `line ${t.firstDataLine + i} (row ${i + 1})`);
  }
  return out;
}
