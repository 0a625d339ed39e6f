import { encodeNpy } from '@cmbn/data';

/**
 * Layer codes and shard blocks travel through the artifact store as NPY v1 files of dtype '<u2'
 * (row-major n × cols), written by `encodeNpy`. The reader is strict (dtype, order, shape) and
 * returns a view when the data is aligned, so a 70k × 400 code is not copied or widened.
 */
export class CodeArtifactError extends Error {
  readonly code = 'BAD_CODE_ARTIFACT';
}

export function encodeCodeNpy(ids: Uint16Array, rows: number, cols: number): Uint8Array {
  return encodeNpy({ rows, cols, dtype: 'uint16', data: ids });
}

export function decodeCodeNpy(bytes: Uint8Array, what: string, expect?: { rows: number; cols: number }): { rows: number; cols: number; ids: Uint16Array } {
  const magic = '\x93NUMPY';
  for (let i = 0; i < 6; i++) {
    if (bytes[i] !== magic.charCodeAt(i)) throw new CodeArtifactError(`${what}: not an NPY file`);
  }
  const major = bytes[6]!;
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = bytes[8]! | (bytes[9]! << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0, true);
    start = 12;
  } else {
    throw new CodeArtifactError(`${what}: unsupported NPY version ${major}`);
  }
  if (start + headerLen > bytes.length) throw new CodeArtifactError(`${what}: NPY header runs past the end`);
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\((\d+)\s*,\s*(\d+)\s*,?\s*\)/.exec(header);
  if (descr !== '<u2' || fortran !== 'False' || !shape) {
    throw new CodeArtifactError(`${what}: expected a C-order 2-D '<u2' array, header is ${header.trim()}`);
  }
  const rows = Number(shape[1]);
  const cols = Number(shape[2]);
  if (expect && (rows !== expect.rows || cols !== expect.cols)) {
    throw new CodeArtifactError(`${what}: shape ${rows}×${cols}, expected ${expect.rows}×${expect.cols}`);
  }
  const dataStart = start + headerLen;
  const byteLength = rows * cols * 2;
  if (bytes.length - dataStart !== byteLength) {
    throw new CodeArtifactError(`${what}: ${bytes.length - dataStart} data bytes, expected ${byteLength} for ${rows}×${cols} uint16`);
  }
  const off = bytes.byteOffset + dataStart;
  const ids =
    off % 2 === 0
      ? new Uint16Array(bytes.buffer, off, rows * cols)
      : new Uint16Array(new Uint8Array(bytes.subarray(dataStart)).buffer);
  return { rows, cols, ids };
}
