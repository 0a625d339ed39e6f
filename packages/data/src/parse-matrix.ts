import { DataError } from './data-error.ts';
import { parseCsv } from './csv.ts';
import { hasIdxMagic, parseIdx } from './idx.ts';
import type { Matrix } from './matrix.ts';
import { hasNpyMagic } from './npy-array.ts';
import { parseNpy } from './npy.ts';

/** Reads a matrix from bytes of any supported format, sniffed by content: NPY magic, IDX magic, else CSV text. */
export function parseMatrix(bytes: Uint8Array, fileName: string): Matrix {
  if (hasNpyMagic(bytes)) return parseNpy(bytes, fileName);
  if (hasIdxMagic(bytes)) return parseIdx(bytes, fileName);
  // A NUL byte in the first KiB means binary data that is none of our formats; say so instead of "not a number".
  if (bytes.subarray(0, 1024).includes(0)) {
    throw new DataError(`${fileName}: unrecognised binary format (expected .npy, IDX or CSV text)`, fileName);
  }
  return parseCsv(bytes, fileName);
}
