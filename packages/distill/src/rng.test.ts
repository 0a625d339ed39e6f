import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { glorotUniform, permutation, Rng } from './rng.ts';

describe('rng', () => {
  it('is a pure function of (seed, stream)', () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(10), (seed, stream) => {
        const a = new Rng(seed, stream);
        const b = new Rng(seed, stream);
        for (let i = 0; i < 20; i++) expect(a.nextU32()).toBe(b.nextU32());
      }),
    );
    expect(new Rng(1, 0).nextU32()).not.toBe(new Rng(1, 1).nextU32());
  });

  it('permutation is a permutation', () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(300), (seed, n) => {
        const p = Array.from(permutation(new Rng(seed), n)).sort((x, y) => x - y);
        expect(p).toEqual(Array.from({ length: n }, (_, i) => i));
      }),
    );
  });

  it('glorot values stay inside the limit', () => {
    const w = glorotUniform(new Rng(3), 50, 30);
    const limit = Math.sqrt(6 / 80);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(limit * 0.9);
  });
});
