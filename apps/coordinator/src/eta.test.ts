import { describe, expect, it } from 'vitest';
import { parseParams, resolveKs } from '@cmbn/mbn';
import { mbnEtaSeconds } from './eta.ts';

const ks = resolveKs(10_000, parseParams({ V: 100 }));
const base = { n: 10_000, d: 784, V: 100, a: 0.5, ks };

describe('mbnEtaSeconds', () => {
  it('is null before the current layer has a finished shard', () => {
    expect(mbnEtaSeconds({ ...base, layer: 1, shardsDone: 0, shardsTotal: 50, elapsedSeconds: 3 })).toBeNull();
  });

  it('on the top layer is the rest of that layer at its observed rate', () => {
    expect(mbnEtaSeconds({ ...base, layer: ks.length, shardsDone: 3, shardsTotal: 9, elapsedSeconds: 1.5 })).toBeCloseTo(3, 9);
  });

  it('adds the later layers, scaled by how fast the workers were against the cost model', () => {
    const halfway = { ...base, layer: 1, shardsDone: 25, shardsTotal: 50 };
    const slow = mbnEtaSeconds({ ...halfway, elapsedSeconds: 40 })!;
    const fast = mbnEtaSeconds({ ...halfway, elapsedSeconds: 20 })!;
    // The rest of layer 1 alone would be 40 s / 20 s; the upper layers add to both, in proportion.
    expect(slow).toBeGreaterThan(40);
    expect(fast).toBeCloseTo(slow / 2, 9);
    // On MNIST 10k, V=100 the upper layers measured 0.65× the bottom layer's compute (shard-plan.ts).
    const upperOverBottom = (slow - 40) / 80;
    expect(upperOverBottom).toBeGreaterThan(0.5);
    expect(upperOverBottom).toBeLessThan(0.9);
  });
});
