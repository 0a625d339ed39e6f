import { DataError } from './data-error.ts';
import type { Matrix } from './matrix.ts';
import { validateFinite } from './validate-finite.ts';

/**
 * IDX (the MNIST format): bytes 0-1 zero, byte 2 the element type, byte 3 the number of
 * dimensions, then one big-endian u32 per dimension, then the elements (big-endian).
 * We read type 0x08 (unsigned byte) and 0x0D (float32).
 */
export const IDX_UBYTE = 0x08;
export const IDX_FLOAT32 = 0x0d;

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64',
};
const TYPE_SIZES: Record<number, number> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 };

export interface IdxHeader {
  type: number;
  dims: number[];
  /** Bytes before the first element: 4 + 4 · dims.length. */
  headerBytes: number;
  itemSize: number;
  /** Number of data bytes the header promises. */
  dataBytes: number;
}

/** True when the first 4 bytes look like an IDX magic (00 00 type ndims). CSV text never starts with two NULs. */
export function hasIdxMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && TYPE_SIZES[bytes[2]!] !== undefined && bytes[3]! >= 1 && bytes[3]! <= 8;
}

/** Parses the header from the file's first bytes (at least 4 + 4 · ndims of them). */
export function parseIdxHeader(bytes: Uint8Array, fileName: string): IdxHeader {
  if (bytes.length < 4) throw new DataError(`${fileName}: truncated IDX file (${bytes.length} bytes, no header)`, fileName);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new DataError(`${fileName}: not an IDX file (bad magic)`, fileName);
  const type = bytes[2]!;
  const ndims = bytes[3]!;
  const magic = `0x${((type << 8) | ndims).toString(16).padStart(8, '0')}`;
  const itemSize = TYPE_SIZES[type];
  if (itemSize === undefined) throw new DataError(`${fileName}: not an IDX file (unknown element type 0x${type.toString(16)})`, fileName);
  if (ndims < 1) throw new DataError(`${fileName}: IDX magic ${magic} declares 0 dimensions`, fileName);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) throw new DataError(`${fileName}: truncated IDX header (${bytes.length} bytes, expected ${headerBytes})`, fileName);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, headerBytes);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(dv.getUint32(4 + 4 * i, false));
  const dataBytes = dims.reduce((a, b) => a * b, 1) * itemSize;
  return { type, dims, headerBytes, itemSize, dataBytes };
}

export function idxTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `0x${type.toString(16)}`;
}

/** Throws unless the file holds exactly the bytes its header promises. */
export function checkIdxLength(h: IdxHeader, fileBytes: number, fileName: string): void {
  const have = fileBytes - h.headerBytes;
  if (have < h.dataBytes) {
    throw new DataError(`${fileName}: truncated IDX file: has ${have} data bytes, expected ${h.dataBytes} for ${h.dims.join('×')}`, fileName);
  }
  if (have > h.dataBytes) {
    throw new DataError(`${fileName}: IDX file has ${have - h.dataBytes} bytes after the ${h.dims.join('×')} data`, fileName);
  }
}

/**
 * Reads IDX data as a matrix: 2-D kept, 3-D (and higher) images flattened to rows × (h·w).
 * uint8 is a view on `bytes` (no copy); float32 is byte-swapped into a new array.
 */
export function parseIdx(bytes: Uint8Array, fileName: string): Matrix {
  const h = parseIdxHeader(bytes, fileName);
  if (h.type !== IDX_UBYTE && h.type !== IDX_FLOAT32) {
    throw new DataError(`${fileName}: IDX element type ${idxTypeName(h.type)} is not supported (unsigned byte or float32)`, fileName);
  }
  if (h.dims.length < 2) {
    throw new DataError(`${fileName}: IDX array is 1-D (${h.dims[0]} values, a labels file?); data must be 2-D or 3-D`, fileName);
  }
  checkIdxLength(h, bytes.length, fileName);
  const rows = h.dims[0]!;
  const cols = h.dims.slice(1).reduce((a, b) => a * b, 1);
  if (rows === 0 || cols === 0) throw new DataError(`${fileName}: empty dataset (${h.dims.join('×')})`, fileName);
  const body = bytes.subarray(h.headerBytes, h.headerBytes + h.dataBytes);
  if (h.type === IDX_UBYTE) return { rows, cols, dtype: 'uint8', data: body };
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(4 * i, false);
  const m: Matrix = { rows, cols, dtype: 'float32', data };
  validateFinite(m, fileName);
  return m;
}
