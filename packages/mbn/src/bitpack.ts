/**
 * Fixed-width bit packing of small unsigned integers (centre ids): value t occupies bits
 * [t·bits, (t+1)·bits) of a little-endian stream of 32-bit words. An id of a k-centre
 * clustering needs only ⌈log₂ k⌉ bits, not the 16 of a Uint16Array.
 *
 * A 70k-point model packs and unpacks ~90M ids on save and load, so both directions are on the
 * I/O path. 32 values of `bits` bits fill exactly `bits` words, so each direction runs over such
 * groups with a loop body generated once per width: every shift and word index is a constant,
 * with no per-value branch or division (measured ~2.8× faster than a bit-accumulator loop,
 * packages/mbn/bench/model-io.bench.ts). The last partial group goes through the accumulator.
 */

/** Bits needed for values 0..count−1 (at least 1). */
export function bitsFor(count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`bitsFor: count must be a positive integer, got ${count}`);
  return Math.max(1, Math.ceil(Math.log2(count)));
}

export function packedWords(length: number, bits: number): number {
  return Math.ceil((length * bits) / 32);
}

function checkBits(what: string, bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 16) throw new RangeError(`${what}: bits must be in 1..16, got ${bits}`);
}

type GroupUnpacker = (words: Uint32Array, out: Uint16Array, groups: number) => void;
/** Packs `groups` groups; returns the first group holding a value ≥ 2^bits, or −1. */
type GroupPacker = (values: Uint16Array, words: Uint32Array, groups: number) => number;

const unpackers: (GroupUnpacker | undefined)[] = [];
const packers: (GroupPacker | undefined)[] = [];

/** The unrolled body for one width. Only integer constants are spliced into the source. */
function groupUnpacker(bits: number): GroupUnpacker {
  let body = '';
  for (let q = 0; q < 32; q++) {
    const pos = q * bits;
    const w = pos >>> 5;
    const o = pos & 31;
    const lo = `(words[w + ${w}] >>> ${o})`;
    body += o + bits <= 32 ? `out[t + ${q}] = ${lo} & ${(1 << bits) - 1};\n` : `out[t + ${q}] = (${lo} | (words[w + ${w + 1}] << ${32 - o})) & ${(1 << bits) - 1};\n`;
  }
  return new Function('words', 'out', 'groups', `for (let g = 0, w = 0, t = 0; g < groups; g++, w += ${bits}, t += 32) {\n${body}}`) as GroupUnpacker;
}

function groupPacker(bits: number): GroupPacker {
  let load = '';
  const terms: string[][] = Array.from({ length: bits }, () => []);
  for (let q = 0; q < 32; q++) {
    load += `const x${q} = values[t + ${q}];\n`;
    const pos = q * bits;
    const w = pos >>> 5;
    const o = pos & 31;
    terms[w]!.push(o === 0 ? `x${q}` : `(x${q} << ${o})`);
    if (o + bits > 32) terms[w + 1]!.push(`(x${q} >>> ${32 - o})`);
  }
  const any = Array.from({ length: 32 }, (_, q) => `x${q}`).join(' | ');
  const store = terms.map((t, w) => `words[w + ${w}] = ${t.join(' | ')};\n`).join('');
  return new Function(
    'values',
    'words',
    'groups',
    `for (let g = 0, w = 0, t = 0; g < groups; g++, w += ${bits}, t += 32) {\n${load}if ((${any}) >>> ${bits}) return g;\n${store}}\nreturn -1;`,
  ) as GroupPacker;
}

export function packBits(values: Uint16Array, bits: number): Uint32Array {
  checkBits('packBits', bits);
  const words = new Uint32Array(packedWords(values.length, bits));
  const limit = 1 << bits;
  const groups = values.length >>> 5;
  const bad = (packers[bits] ??= groupPacker(bits))(values, words, groups);
  // A value that does not fit: find it for the message (the group loop only knows its group).
  const from = bad >= 0 ? bad * 32 : groups * 32;
  // acc holds the `have` (< 32) low bits of the word being filled; a value that straddles a word
  // boundary leaves its top (have + bits − 32) bits to start the next word.
  let acc = 0;
  let have = 0;
  let w = (from >>> 5) * bits;
  for (let t = from; t < values.length; t++) {
    const v = values[t]!;
    if (v >= limit) throw new RangeError(`packBits: value ${v} at ${t} does not fit in ${bits} bits`);
    acc |= v << have;
    have += bits;
    if (have >= 32) {
      words[w++] = acc;
      have -= 32;
      acc = have > 0 ? v >>> (bits - have) : 0;
    }
  }
  if (have > 0) words[w] = acc;
  return words;
}

export function unpackBits(words: Uint32Array, bits: number, length: number, into?: Uint16Array): Uint16Array {
  checkBits('unpackBits', bits);
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`unpackBits: length must be a non-negative integer, got ${length}`);
  if (words.length < packedWords(length, bits)) throw new RangeError(`unpackBits: ${words.length} words hold fewer than ${length} values of ${bits} bits`);
  if (into && into.length < length) throw new RangeError(`unpackBits: output holds ${into.length} values, need ${length}`);
  const out = into ?? new Uint16Array(length);
  const groups = length >>> 5;
  (unpackers[bits] ??= groupUnpacker(bits))(words, out, groups);
  const mask = (1 << bits) - 1;
  // The tail: cur holds the `have` not yet consumed bits of the last word read, lowest first.
  // Exactly packedWords(length, bits) words are read, so words past the data are never touched.
  let cur = 0;
  let have = 0;
  let w = groups * bits;
  for (let t = groups * 32; t < length; t++) {
    if (have >= bits) {
      out[t] = cur & mask;
      cur >>>= bits;
      have -= bits;
    } else {
      const next = words[w++]!;
      out[t] = (cur | (next << have)) & mask;
      cur = next >>> (bits - have);
      have += 32 - bits;
    }
  }
  return out;
}
