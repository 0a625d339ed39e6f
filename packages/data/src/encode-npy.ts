import { DataError } from './data-error.ts';
import { checkShape, type WritableMatrix } from './matrix.ts';
import { HOST_IS_LITTLE_ENDIAN, NPY_MAGIC } from './npy-array.ts';

const DESCR: Record<WritableMatrix['dtype'], string> = {
  uint8: '|u1',
  uint16: '<u2',
  int32: '<i4',
  float32: '<f4',
  float64: '<f8',
};

/** Encodes a row-major matrix as an NPY v1.0 file (C order, little-endian), header padded to 64 bytes as numpy does. */
export function encodeNpy(m: WritableMatrix): Uint8Array {
  checkShape(m, 'encodeNpy');
  const descr = DESCR[m.dtype];
  if (!descr) throw new DataError(`encodeNpy: unsupported dtype '${String(m.dtype)}'`);
  if (!HOST_IS_LITTLE_ENDIAN) throw new DataError('encodeNpy: writing NPY files needs a little-endian host');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${m.rows}, ${m.cols}), }`;
  const unpadded = NPY_MAGIC.length + 2 + 2 + header.length + 1; // +1 for the final '\n'
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (header.length > 0xffff) throw new DataError('encodeNpy: header too long for NPY v1.0');

  const n = m.rows * m.cols;
  const dataStart = NPY_MAGIC.length + 4 + header.length;
  const src = m.data.subarray(0, n);
  const out = new Uint8Array(dataStart + src.byteLength);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), dataStart);
  return out;
}
