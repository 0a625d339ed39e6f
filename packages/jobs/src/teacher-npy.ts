import { encodeNpy } from '@cmbn/data';
import { CodeArtifactError } from './code-npy.ts';

/**
 * MBN's output on the training points travels to the distiller as two NPY v1 files written by
 * `encodeNpy`: labels (n × 1 '<i4') and embedding (n × c '<f8'). float64 keeps the embedding
 * exactly as `finishTraining` computed it, so the soft targets match local distillation's.
 */
export function encodeTeacherLabels(labels: Int32Array): Uint8Array {
  return encodeNpy({ rows: labels.length, cols: 1, dtype: 'int32', data: labels });
}

export function encodeTeacherEmbedding(embedding: Float64Array, rows: number, c: number): Uint8Array {
  return encodeNpy({ rows, cols: c, dtype: 'float64', data: embedding });
}

function readHeader(bytes: Uint8Array, what: string): { header: string; dataStart: number } {
  const magic = '\x93NUMPY';
  for (let i = 0; i < 6; i++) if (bytes[i] !== magic.charCodeAt(i)) throw new CodeArtifactError(`${what}: not an NPY file`);
  if (bytes[6] !== 1) throw new CodeArtifactError(`${what}: unsupported NPY version ${bytes[6]}`);
  const headerLen = bytes[8]! | (bytes[9]! << 8);
  if (10 + headerLen > bytes.length) throw new CodeArtifactError(`${what}: NPY header runs past the end`);
  return { header: new TextDecoder('latin1').decode(bytes.subarray(10, 10 + headerLen)), dataStart: 10 + headerLen };
}

function decodeTyped(bytes: Uint8Array, what: string, descr: string, size: number, expect: { rows: number; cols: number }): Uint8Array {
  const { header, dataStart } = readHeader(bytes, what);
  const d = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const shape = /'shape'\s*:\s*\((\d+)\s*,\s*(\d+)\s*,?\s*\)/.exec(header);
  if (d !== descr || !/'fortran_order'\s*:\s*False/.test(header) || !shape) {
    throw new CodeArtifactError(`${what}: expected a C-order 2-D '${descr}' array, header is ${header.trim()}`);
  }
  if (Number(shape[1]) !== expect.rows || Number(shape[2]) !== expect.cols) {
    throw new CodeArtifactError(`${what}: shape ${shape[1]}×${shape[2]}, expected ${expect.rows}×${expect.cols}`);
  }
  const byteLength = expect.rows * expect.cols * size;
  if (bytes.length - dataStart !== byteLength) throw new CodeArtifactError(`${what}: ${bytes.length - dataStart} data bytes, expected ${byteLength}`);
  // A copy: aligned for the typed array whatever the source buffer's offset.
  return new Uint8Array(bytes.subarray(dataStart));
}

export function decodeTeacherLabels(bytes: Uint8Array, what: string, rows: number): Int32Array {
  return new Int32Array(decodeTyped(bytes, what, '<i4', 4, { rows, cols: 1 }).buffer);
}

export function decodeTeacherEmbedding(bytes: Uint8Array, what: string, rows: number, c: number): Float64Array {
  return new Float64Array(decodeTyped(bytes, what, '<f8', 8, { rows, cols: c }).buffer);
}
