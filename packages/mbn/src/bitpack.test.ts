import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bitsFor, packBits, packedWords, unpackBits } from './bitpack.ts';

/** The layout, one bit at a time: value t's bit b is stream bit t·bits + b (word ⌊·/32⌋, bit ·mod 32). */
function referencePack(values: Uint16Array, bits: number): Uint32Array {
  const words = new Uint32Array(packedWords(values.length, bits));
  for (let t = 0; t < values.length; t++) {
    for (let b = 0; b < bits; b++) {
      if ((values[t]! >> b) & 1) {
        const p = t * bits + b;
        words[p >>> 5] = words[p >>> 5]! | (1 << (p & 31));
      }
    }
  }
  return words;
}

const widths = fc.integer({ min: 1, max: 16 });
// Lengths around the 32-value groups the unrolled loops work in, and random ones.
const lengths = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constantFrom(31, 32, 33, 63, 64, 65, 96, 1000));

describe('bitsFor', () => {
  it('is ⌈log₂ count⌉, at least 1, for powers of two, their neighbours and the 16-bit edge', () => {
    const counts = [1, 2, 3, 4, 5, 7, 8, 9, 22, 44, 89, 178, 357, 714, 1428, 1429, 32767, 32768, 32769, 65535, 65536, 65537];
    expect(counts.map(bitsFor)).toEqual([1, 1, 2, 2, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 11, 15, 15, 16, 16, 16, 17]);
  });
  it('refuses a count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => bitsFor(bad)).toThrow(RangeError);
  });
});

describe('packBits / unpackBits', () => {
  it('property: the packed words are the bit-by-bit layout (the file format), and unpack inverts pack', () => {
    fc.assert(
      fc.property(widths, lengths, fc.integer(), (bits, length, seed) => {
        let s = seed | 1;
        const values = Uint16Array.from({ length }, () => {
          s = (Math.imul(s, 1103515245) + 12345) | 0;
          return (s >>> 8) & ((1 << bits) - 1);
        });
        const words = packBits(values, bits);
        expect(words).toEqual(referencePack(values, bits));
        expect(unpackBits(words, bits, length)).toEqual(values);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips every id of a k = 65536 (16-bit) and a k = 65535 clustering, and all-ones at each width', () => {
    for (const k of [65536, 65535]) {
      const bits = bitsFor(k);
      const values = Uint16Array.from({ length: k }, (_, i) => (i * 40503) % k);
      expect(unpackBits(packBits(values, bits), bits, k)).toEqual(values);
    }
    for (let bits = 1; bits <= 16; bits++) {
      const values = new Uint16Array(97).fill((1 << bits) - 1);
      const words = packBits(values, bits);
      expect(words).toEqual(referencePack(values, bits));
      expect(unpackBits(words, bits, values.length)).toEqual(values);
    }
  });

  it('names the first value that does not fit, inside a full group and in the tail', () => {
    const inGroup = new Uint16Array(70);
    inGroup[40] = 8;
    inGroup[45] = 9;
    expect(() => packBits(inGroup, 3)).toThrow('packBits: value 8 at 40 does not fit in 3 bits');
    const inTail = new Uint16Array(70);
    inTail[69] = 4;
    expect(() => packBits(inTail, 2)).toThrow('packBits: value 4 at 69 does not fit in 2 bits');
  });

  it('refuses bad widths, lengths, short input and short output', () => {
    expect(() => packBits(new Uint16Array(1), 17)).toThrow(/bits must be in 1\.\.16, got 17/);
    expect(() => unpackBits(new Uint32Array(4), 0, 1)).toThrow(/bits must be in 1\.\.16/);
    expect(() => unpackBits(new Uint32Array(3), 11, 9)).toThrow(/3 words hold fewer than 9 values of 11 bits/);
    expect(() => unpackBits(new Uint32Array(4), 11, -1)).toThrow(/length must be a non-negative integer/);
    expect(() => unpackBits(new Uint32Array(4), 11, 8, new Uint16Array(7))).toThrow(/output holds 7 values, need 8/);
  });

  it('reads only the words it needs (a view into a larger buffer) and writes into a given output', () => {
    const values = Uint16Array.from({ length: 77 }, (_, i) => (i * 7) % 2048);
    const words = packBits(values, 11);
    const padded = new Uint32Array(words.length + 2).fill(0xffffffff);
    padded.set(words, 1);
    const out = new Uint16Array(80).fill(1);
    unpackBits(padded.subarray(1, 1 + words.length), 11, 77, out);
    expect(out.subarray(0, 77)).toEqual(values);
    expect([...out.subarray(77)]).toEqual([1, 1, 1]);
  });
});
