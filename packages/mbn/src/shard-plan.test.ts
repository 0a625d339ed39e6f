import { describe, expect, it } from 'vitest';
import { parseParams, resolveKs } from './params.ts';
import { autoShardSize, clusteringSeconds, MAX_SHARDS, MIN_SHARDS, planLayerShards, type LayerShape } from './shard-plan.ts';

function shapes(n: number, d: number, V: number, layers: number): LayerShape[] {
  return Array.from({ length: layers }, (_, i) => (i === 0 ? { kind: 'dense', n, d } : { kind: 'code', n, V }));
}

describe('shard plan', () => {
  it('covers 0..V exactly once, in order, for every layer of real schedules', () => {
    for (const [n, V] of [
      [10_000, 100],
      [70_000, 400],
      [600, 12],
      [50, 1],
    ] as const) {
      const params = parseParams({ V });
      const ks = resolveKs(n, params);
      shapes(n, 784, V, ks.length).forEach((shape, i) => {
        const plan = planLayerShards(V, shape, ks[i]!, params.a);
        expect(plan[0]!.v0).toBe(0);
        expect(plan[plan.length - 1]!.v1).toBe(V);
        for (let s = 1; s < plan.length; s++) expect(plan[s]!.v0).toBe(plan[s - 1]!.v1);
        expect(plan.every((p) => p.v1 > p.v0)).toBe(true);
        expect(plan.length).toBeLessThanOrEqual(MAX_SHARDS);
        expect(plan.length).toBeGreaterThanOrEqual(Math.min(V, MIN_SHARDS));
      });
    }
  });

  it('gives the cheap upper layers bigger shards than the dense bottom layer (MNIST 10k, V=100)', () => {
    const params = parseParams({ V: 100 });
    const ks = resolveKs(10_000, params);
    const sizes = shapes(10_000, 784, 100, ks.length).map((shape, i) => autoShardSize(100, shape, ks[i]!, params.a));
    // The bottom layer (k=5000 over 392 kept pixels) is ~0.5 s a clustering: 2 per shard.
    expect(sizes[0]).toBe(2);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]!).toBeGreaterThanOrEqual(sizes[i - 1]!);
    expect(sizes[sizes.length - 1]).toBe(Math.floor(100 / MIN_SHARDS));
    // Estimated costs fall with k.
    const cost = ks.map((k, i) => clusteringSeconds(shapes(10_000, 784, 100, ks.length)[i]!, k, params.a));
    for (let i = 2; i < cost.length; i++) expect(cost[i]!).toBeLessThan(cost[i - 1]!);
  });

  it('uses the run’s fixed shard size when it has one', () => {
    const plan = planLayerShards(10, { kind: 'code', n: 100, V: 10 }, 5, 0.5, 4);
    expect(plan).toEqual([
      { v0: 0, v1: 4 },
      { v0: 4, v1: 8 },
      { v0: 8, v1: 10 },
    ]);
  });
});
