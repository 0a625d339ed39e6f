import { DataError } from './data-error.ts';

/**
 * Low-level NPY reader shared by `parseNpy` (2-D data) and `parseLabels` (1-D / n×1).
 * Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *   "\x93NUMPY" major minor, header length (u16 LE in v1, u32 LE in v2/v3), a Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (r, c), } padded with spaces and '\n'.
 */

export const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] as const; // \x93NUMPY

export type NpyValues =
  | Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

export interface NpyArray {
  descr: string;
  shape: number[];
  values: NpyValues;
}

interface DTypeInfo {
  size: number;
  make: (buf: ArrayBuffer, byteOffset: number, length: number) => NpyValues;
}

// Keyed by the descr without its byte-order character. Byte order is checked separately.
const DTYPES: Record<string, DTypeInfo> = {
  u1: { size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  b1: { size: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  i1: { size: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  i2: { size: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  u2: { size: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
  i4: { size: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  u4: { size: 4, make: (b, o, n) => new Uint32Array(b, o, n) },
  f4: { size: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  f8: { size: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  i8: { size: 8, make: (b, o, n) => new BigInt64Array(b, o, n) },
  u8: { size: 8, make: (b, o, n) => new BigUint64Array(b, o, n) },
};

/** Typed arrays use host byte order; NPY files we accept are little-endian. */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function hasNpyMagic(bytes: Uint8Array): boolean {
  if (bytes.length < NPY_MAGIC.length) return false;
  for (let i = 0; i < NPY_MAGIC.length; i++) if (bytes[i] !== NPY_MAGIC[i]) return false;
  return true;
}

export function readNpyArray(bytes: Uint8Array, fileName: string): NpyArray {
  const fail = (problem: string): never => {
    throw new DataError(`${fileName}: ${problem}`, fileName);
  };
  if (!hasNpyMagic(bytes)) fail('not an NPY file (missing the \\x93NUMPY magic)');
  if (bytes.length < 10) fail('truncated NPY header');
  const major = bytes[6]!;
  const minor = bytes[7]!;
  let headerLen: number;
  let headerStart: number;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated NPY header');
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported NPY version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const dataStart = headerStart + headerLen;
  if (bytes.length < dataStart) fail(`truncated NPY header (${headerLen} header bytes declared, file has ${bytes.length} bytes)`);
  // v1/v2 headers are latin1 (in practice ASCII), v3 is utf8; the keys and values we read are ASCII either way.
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descrMatch = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(header);
  if (!descrMatch) {
    if (/['"]descr['"]\s*:\s*\[/.test(header)) fail('structured (record) dtype is not supported; save a plain numeric array');
    fail(`malformed NPY header (no 'descr'): ${header.trim()}`);
  }
  const descr = descrMatch![2]!;
  const fortranMatch = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  if (!fortranMatch) fail(`malformed NPY header (no 'fortran_order'): ${header.trim()}`);
  if (fortranMatch![1] === 'True') fail("array is in Fortran (column-major) order; save it in C order (np.ascontiguousarray)");
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!shapeMatch) fail(`malformed NPY header (no 'shape'): ${header.trim()}`);
  const shape: number[] = [];
  for (const part of shapeMatch![1]!.split(',')) {
    const t = part.trim().replace(/L$/, ''); // Python 2 wrote longs as 123L
    if (t === '') continue;
    if (!/^\d+$/.test(t)) fail(`malformed shape (${shapeMatch![1]})`);
    shape.push(Number(t));
  }

  const order = descr[0];
  const kind = descr.slice(1);
  const info = DTYPES[kind];
  if (!info || !(order === '<' || order === '|' || order === '>' || order === '=')) {
    return fail(`unsupported dtype '${descr}' (supported: '|u1', '<f4', '<f8' and little-endian integers)`);
  }
  if (order === '>' && info.size > 1) fail(`big-endian dtype '${descr}' is not supported; save it little-endian ('<${kind}')`);
  if (!HOST_IS_LITTLE_ENDIAN) fail('reading NPY files needs a little-endian host');

  const count = shape.reduce((a, b) => a * b, 1);
  const expectBytes = count * info.size;
  const haveBytes = bytes.length - dataStart;
  if (haveBytes !== expectBytes) {
    fail(`has ${haveBytes} data bytes, expected ${expectBytes} for shape (${shape.join(', ')}) of '${descr}'${haveBytes < expectBytes ? ' (file truncated?)' : ''}`);
  }
  const byteOffset = bytes.byteOffset + dataStart;
  // A view needs the element alignment; numpy pads headers to 64 bytes but the caller's buffer may start anywhere.
  const values = byteOffset % info.size === 0
    ? info.make(bytes.buffer as ArrayBuffer, byteOffset, count)
    : info.make(bytes.slice(dataStart).buffer, 0, count);
  return { descr, shape, values };
}

export function shapeText(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}
