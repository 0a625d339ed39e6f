import { describe, expect, it } from 'vitest';
import { ParamsError, parseParams, resolveKs } from './params.ts';

describe('resolveKs', () => {
  it('follows Zhang\'s defaults on MNIST 70k', () => {
    // k1 = min(35000, ⌊1e8/70000⌋ = 1428); halve while ≥ 1.5·10 = 15
    expect(resolveKs(70_000, parseParams({}))).toEqual([1428, 714, 357, 178, 89, 44, 22]);
  });

  it('follows the defaults on 10k points', () => {
    // k1 = min(5000, 10000); 19 ≥ 15 is kept, 9 is not
    expect(resolveKs(10_000, parseParams({}))).toEqual([5000, 2500, 1250, 625, 312, 156, 78, 39, 19]);
  });

  it('honours k1, delta and clusters', () => {
    expect(resolveKs(1000, parseParams({ k1: 100, delta: 0.25, clusters: 2 }))).toEqual([100, 25, 6]);
  });

  it('lets an explicit k list override the rule', () => {
    expect(resolveKs(100, parseParams({ k: [50, 7, 3] }))).toEqual([50, 7, 3]);
  });

  it('rejects k larger than the number of points', () => {
    expect(() => resolveKs(10, parseParams({ k1: 11 }))).toThrow(ParamsError);
    expect(() => resolveKs(10, parseParams({ k1: 11 }))).toThrow(/only 10 points/);
  });

  it('rejects impossible params with readable messages', () => {
    expect(() => parseParams({ V: 0 })).toThrow(/V/);
    expect(() => parseParams({ a: 0 })).toThrow(/a/);
    expect(() => parseParams({ a: 1.5 })).toThrow(/a/);
    expect(() => parseParams({ delta: 1 })).toThrow(/delta/);
    expect(() => parseParams({ bogus: 1 })).toThrow(ParamsError);
    expect(parseParams({ a: 1 }).a).toBe(1);
  });
});
