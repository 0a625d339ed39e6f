import { describe, expect, it } from 'vitest';
import { parseParams, resolveKs } from './params.ts';
import { autoShardCount, balancedShards, clusteringSeconds, layerShape, MAX_SHARDS, MIN_SHARDS, planLayerShards, SHARD_COUNT_MULTIPLE, type LayerShape } from './shard-plan.ts';

function shapes(n: number, d: number, V: number, layers: number): LayerShape[] {
  return Array.from({ length: layers }, (_, i) => layerShape(i + 1, n, d, V));
}

describe('shard plan', () => {
  it('covers 0..V exactly once, in order, with balanced sizes, larger first, for real schedules', () => {
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
        const sizes = plan.map((p) => p.v1 - p.v0);
        expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        for (let s = 1; s < sizes.length; s++) expect(sizes[s]!).toBeLessThanOrEqual(sizes[s - 1]!);
        expect(plan.length).toBeLessThanOrEqual(MAX_SHARDS);
        expect(plan.length).toBeGreaterThanOrEqual(Math.min(V, MIN_SHARDS));
        if (plan.length < V) expect(plan.length % SHARD_COUNT_MULTIPLE).toBe(0);
      });
    }
  });

  it('cuts the costly bottom layer finer than the cheap upper layers (MNIST 10k, V=100)', () => {
    const params = parseParams({ V: 100 });
    const ks = resolveKs(10_000, params);
    const all = shapes(10_000, 784, 100, ks.length);
    const counts = all.map((shape, i) => autoShardCount(100, shape, ks[i]!, params.a));
    // The bottom layer (k=5000 over 392 kept pixels) is ~0.55 s a clustering, ~55 s in all: 56 shards.
    expect(counts[0]).toBe(56);
    for (let i = 1; i < counts.length; i++) expect(counts[i]!).toBeLessThanOrEqual(counts[i - 1]!);
    expect(counts[counts.length - 1]).toBe(MIN_SHARDS);
    const cost = ks.map((k, i) => clusteringSeconds(all[i]!, k, params.a));
    for (let i = 2; i < cost.length; i++) expect(cost[i]!).toBeLessThan(cost[i - 1]!);
  });

  it('balancedShards puts the remainder on the first shards', () => {
    expect(balancedShards(10, 4)).toEqual([
      { v0: 0, v1: 3 },
      { v0: 3, v1: 6 },
      { v0: 6, v1: 8 },
      { v0: 8, v1: 10 },
    ]);
  });

  it('uses the run’s fixed shard size when it has one', () => {
    expect(planLayerShards(10, { kind: 'code', n: 100, V: 10 }, 5, 0.5, 4)).toEqual([
      { v0: 0, v1: 4 },
      { v0: 4, v1: 8 },
      { v0: 8, v1: 10 },
    ]);
  });
});
