import { describe, expect, it } from 'vitest';
import { fmtDuration, fmtParams } from './format.ts';
import { layerRows } from './layer-rates.ts';

describe('layerRows', () => {
  it('rates a finished layer from its seconds and the running one from the progress seen', () => {
    const layers = [
      { layer: 1, k: 500, status: 'DONE', shardsDone: 8, shardsTotal: 8, seconds: 4 },
      { layer: 2, k: 250, status: 'RUNNING', shardsDone: 5, shardsTotal: 8, seconds: null },
      { layer: 3, k: 125, status: 'PENDING', shardsDone: 0, shardsTotal: 8, seconds: null },
    ];
    const seen = new Map([[2, { first: { t: 10_000, done: 1 }, last: { t: 12_000, done: 5 } }]]);
    const [l1, l2, l3] = layerRows(layers, 16, seen, 13_000);
    expect(l1).toMatchObject({ elapsed: 4, clusteringsPerSecond: 4, shardsPerSecond: 2 });
    expect(l2).toMatchObject({ elapsed: 3, shardsPerSecond: 2, clusteringsPerSecond: 4 });
    expect(l3).toMatchObject({ elapsed: null, shardsPerSecond: null, clusteringsPerSecond: null });
  });
});

describe('format', () => {
  it('durations and params', () => {
    expect(fmtDuration(3.21)).toBe('3.2 s');
    expect(fmtDuration(75)).toBe('1 min 15 s');
    expect(fmtDuration(4000)).toBe('1 h 6 min');
    expect(fmtDuration(null)).toBe('—');
    expect(fmtParams({ seed: 1, V: 100, k: [10, 5], zeta: 'x' })).toBe('V=100 k=10/5 seed=1 zeta=x');
  });
});
