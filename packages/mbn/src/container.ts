import { endianness } from 'node:os';

/**
 * A small self-describing binary container: magic, a JSON header, then 8-byte-aligned typed-array
 * sections. Everything is little-endian; the typed arrays are written byte for byte.
 *
 *   bytes 0..7    magic (8 bytes, format-specific)
 *   bytes 8..11   u32 LE: header length H
 *   bytes 12..    H bytes of UTF-8 JSON: { ...meta, sections: [{ name, dtype, length, offset }] }
 *   padding       zeros up to a multiple of 8
 *   sections      each at `offset` bytes after the padded header, each padded to 8
 */
export type SectionDType = 'u8' | 'u16' | 'u32' | 'f32' | 'f64';
export type SectionArray = Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array;

interface SectionEntry {
  name: string;
  dtype: SectionDType;
  length: number;
  offset: number;
}

const CTOR = { u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, f32: Float32Array, f64: Float64Array } as const;

export class ContainerError extends Error {
  readonly code = 'BAD_MODEL';
}

function dtypeOf(a: SectionArray): SectionDType {
  if (a instanceof Uint8Array) return 'u8';
  if (a instanceof Uint16Array) return 'u16';
  if (a instanceof Uint32Array) return 'u32';
  if (a instanceof Float32Array) return 'f32';
  return 'f64';
}

const pad8 = (x: number) => (x + 7) & ~7;

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new ContainerError('cmbn model files are little-endian; this host is big-endian');
}

export function encodeContainer(magic: Uint8Array, meta: object, sections: [string, SectionArray][]): Uint8Array {
  assertLittleEndian();
  const entries: SectionEntry[] = [];
  let offset = 0;
  for (const [name, arr] of sections) {
    entries.push({ name, dtype: dtypeOf(arr), length: arr.length, offset });
    offset += pad8(arr.byteLength);
  }
  const header = new TextEncoder().encode(JSON.stringify({ ...meta, sections: entries }));
  const dataStart = pad8(12 + header.length);
  const out = new Uint8Array(dataStart + offset);
  out.set(magic.subarray(0, 8), 0);
  new DataView(out.buffer).setUint32(8, header.length, true);
  out.set(header, 12);
  sections.forEach(([, arr], i) => {
    out.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), dataStart + entries[i]!.offset);
  });
  return out;
}

export interface DecodedContainer<M> {
  meta: M;
  /** The section as its own aligned array (a copy: independent of the file's buffer). */
  section<T extends SectionArray>(name: string, dtype: SectionDType): T;
  /**
   * The section without a copy when its bytes are aligned for `dtype` (sections are 8-aligned in
   * the file, so they are whenever `bytes` starts 8-aligned, as fs.readFile's buffers do), else a
   * copy. It shares the file's buffer: for data that is decoded at once and dropped (packed banks).
   */
  view<T extends SectionArray>(name: string, dtype: SectionDType): T;
}

export function decodeContainer<M>(bytes: Uint8Array, magic: Uint8Array, what: string): DecodedContainer<M> {
  assertLittleEndian();
  if (bytes.length < 12) throw new ContainerError(`${what}: file is truncated (${bytes.length} bytes)`);
  for (let i = 0; i < 8; i++) {
    if (bytes[i] !== magic[i]) throw new ContainerError(`${what}: not a cmbn model file (bad magic)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = view.getUint32(8, true);
  if (12 + h > bytes.length) throw new ContainerError(`${what}: header runs past the end of the file`);
  let parsed: M & { sections: SectionEntry[] };
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + h)));
  } catch {
    throw new ContainerError(`${what}: header is not valid JSON`);
  }
  const dataStart = pad8(12 + h);
  const byName = new Map(parsed.sections.map((s) => [s.name, s]));
  const locate = (name: string, dtype: SectionDType): { start: number; end: number } => {
    const s = byName.get(name);
    if (!s) throw new ContainerError(`${what}: section ${name} is missing`);
    if (s.dtype !== dtype) throw new ContainerError(`${what}: section ${name} is ${s.dtype}, expected ${dtype}`);
    if (!Number.isSafeInteger(s.offset) || s.offset < 0 || !Number.isSafeInteger(s.length) || s.length < 0) {
      throw new ContainerError(`${what}: section ${name} has a bad offset or length (${String(s.offset)}, ${String(s.length)})`);
    }
    const start = dataStart + s.offset;
    const end = start + s.length * CTOR[dtype].BYTES_PER_ELEMENT;
    if (end > bytes.length) throw new ContainerError(`${what}: section ${name} runs past the end of the file`);
    return { start, end };
  };
  const copy = <T extends SectionArray>(dtype: SectionDType, start: number, end: number): T => {
    // Uint8Array's slice allocates and copies in one step (no zero-fill first) into a buffer of its
    // own, so the result is aligned. Called as Uint8Array's: a Buffer's own slice() is a view.
    return new CTOR[dtype](Uint8Array.prototype.slice.call(bytes, start, end).buffer as ArrayBuffer) as T;
  };
  return {
    meta: parsed,
    section<T extends SectionArray>(name: string, dtype: SectionDType): T {
      const { start, end } = locate(name, dtype);
      return copy<T>(dtype, start, end);
    },
    view<T extends SectionArray>(name: string, dtype: SectionDType): T {
      const { start, end } = locate(name, dtype);
      const Ctor = CTOR[dtype];
      const at = bytes.byteOffset + start;
      if (at % Ctor.BYTES_PER_ELEMENT !== 0) return copy<T>(dtype, start, end);
      return new Ctor(bytes.buffer as ArrayBuffer, at, (end - start) / Ctor.BYTES_PER_ELEMENT) as T;
    },
  };
}
