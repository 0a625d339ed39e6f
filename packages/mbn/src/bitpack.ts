/**
 * Fixed-width bit packing of small unsigned integers (centre ids): value t occupies bits
 * [t·bits, (t+1)·bits) of a little-endian stream of 32-bit words. An id of a k-centre
 * clustering needs only ⌈log₂ k⌉ bits, not the 16 of a Uint16Array.
 */

/** Bits needed for values 0..count−1 (at least 1). */
export function bitsFor(count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`bitsFor: count must be a positive integer, got ${count}`);
  return Math.max(1, Math.ceil(Math.log2(count)));
}

export function packedWords(length: number, bits: number): number {
  return Math.ceil((length * bits) / 32);
}

export function packBits(values: Uint16Array, bits: number): Uint32Array {
  if (!Number.isInteger(bits) || bits < 1 || bits > 16) throw new RangeError(`packBits: bits must be in 1..16, got ${bits}`);
  const words = new Uint32Array(packedWords(values.length, bits));
  const limit = 1 << bits;
  for (let t = 0; t < values.length; t++) {
    const v = values[t]!;
    if (v >= limit) throw new RangeError(`packBits: value ${v} at ${t} does not fit in ${bits} bits`);
    const pos = t * bits;
    const w = Math.floor(pos / 32);
    const o = pos - w * 32;
    words[w] = words[w]! | (v << o);
    if (o + bits > 32) words[w + 1] = words[w + 1]! | (v >>> (32 - o));
  }
  return words;
}

export function unpackBits(words: Uint32Array, bits: number, length: number, out = new Uint16Array(length)): Uint16Array {
  if (!Number.isInteger(bits) || bits < 1 || bits > 16) throw new RangeError(`unpackBits: bits must be in 1..16, got ${bits}`);
  if (words.length < packedWords(length, bits)) throw new RangeError(`unpackBits: ${words.length} words hold fewer than ${length} values of ${bits} bits`);
  const mask = (1 << bits) - 1;
  for (let t = 0; t < length; t++) {
    const pos = t * bits;
    const w = Math.floor(pos / 32);
    const o = pos - w * 32;
    let v = words[w]! >>> o;
    if (o + bits > 32) v |= words[w + 1]! << (32 - o);
    out[t] = v & mask;
  }
  return out;
}
