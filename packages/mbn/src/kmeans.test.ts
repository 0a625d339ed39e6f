import { clusteringAccuracy } from '@cmbn/metrics';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignNearest, kmeans } from './kmeans.ts';
import { streamFor } from './rng.ts';

/** c Gaussian blobs in dim dimensions, centres 20 apart along the axes, σ = 1 */
function blobs(nPer: number, c: number, dim: number, seed: number): { x: Float64Array; truth: Int32Array; n: number } {
  const rng = streamFor(seed, 99);
  const n = nPer * c;
  const x = new Float64Array(n * dim);
  const truth = new Int32Array(n);
  const gauss = (): number => {
    // Box–Muller; 1 − u avoids log(0)
    const u = 1 - rng.nextFloat();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextFloat());
  };
  for (let i = 0; i < n; i++) {
    const cl = i % c;
    truth[i] = cl;
    for (let t = 0; t < dim; t++) x[i * dim + t] = (t === cl % dim ? 20 * (1 + Math.floor(cl / dim)) : 0) + gauss();
  }
  return { x, truth, n };
}

describe('kmeans', () => {
  it('recovers well-separated Gaussian blobs exactly', () => {
    for (const [c, dim] of [[3, 2], [5, 5], [8, 4]] as const) {
      const { x, truth, n } = blobs(60, c, dim, c);
      const res = kmeans(x, n, dim, c, { seed: 1 });
      expect(clusteringAccuracy(truth, res.labels)).toBe(1);
      expect(res.iterations).toBeGreaterThan(0);
    }
  });

  it('labels equal assignNearest with the returned centroids, and inertia matches', () => {
    const { x, n } = blobs(40, 4, 3, 7);
    const res = kmeans(x, n, 3, 6, { seed: 3, restarts: 3 });
    expect(Array.from(assignNearest(x, n, 3, res.centroids, 6))).toEqual(Array.from(res.labels));
    let inertia = 0;
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < 3; t++) inertia += (x[i * 3 + t]! - res.centroids[res.labels[i]! * 3 + t]!) ** 2;
    }
    expect(res.inertia).toBeCloseTo(inertia, 9);
  });

  it('is deterministic for a seed and depends on it', () => {
    const rng = streamFor(5);
    const n = 300;
    const x = Float64Array.from({ length: n * 2 }, () => rng.nextFloat());
    const a = kmeans(x, n, 2, 7, { seed: 11 });
    const b = kmeans(x, n, 2, 7, { seed: 11 });
    expect(b).toEqual(a);
    const c = kmeans(x, n, 2, 7, { seed: 12, restarts: 1 });
    const d = kmeans(x, n, 2, 7, { seed: 11, restarts: 1 });
    expect(Array.from(c.centroids)).not.toEqual(Array.from(d.centroids));
    // more restarts can only lower (or keep) the inertia: restart 0 is shared
    expect(a.inertia).toBeLessThanOrEqual(d.inertia);
  });

  it('c = 1 gives the mean', () => {
    const x = Float64Array.from([0, 0, 2, 0, 4, 6]);
    const res = kmeans(x, 3, 2, 1, { seed: 0 });
    expect(Array.from(res.centroids)).toEqual([2, 2]);
    expect(Array.from(res.labels)).toEqual([0, 0, 0]);
    // (4+4) + (0+4) + (4+16) = 32
    expect(res.inertia).toBe(32);
  });

  it('c = n puts every point in its own cluster with zero inertia', () => {
    const rng = streamFor(8);
    const n = 25;
    const x = Float64Array.from({ length: n * 3 }, () => rng.nextFloat());
    const res = kmeans(x, n, 3, n, { seed: 2, restarts: 2 });
    expect(res.inertia).toBe(0);
    expect(new Set(res.labels).size).toBe(n);
  });

  it('handles duplicate points (more centres than distinct points) deterministically', () => {
    const x = Float64Array.from([1, 1, 1, 5, 5, 5]);
    const res = kmeans(x, 6, 1, 3, { seed: 0 });
    expect(res.inertia).toBe(0);
    expect(kmeans(x, 6, 1, 3, { seed: 0 })).toEqual(res);
    expect(Array.from(assignNearest(x, 6, 1, res.centroids, 3))).toEqual(Array.from(res.labels));
  });

  it('labels always reproduce through assignNearest (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 8 }),
        (n, dim, seed, cRaw) => {
          const rng = streamFor(seed, 1);
          // coarse grid values so ties and duplicates happen
          const x = Float64Array.from({ length: n * dim }, () => rng.nextInt(4));
          const c = Math.min(cRaw, n);
          const res = kmeans(x, n, dim, c, { seed, restarts: 2 });
          expect(Array.from(assignNearest(x, n, dim, res.centroids, c))).toEqual(Array.from(res.labels));
          for (const v of res.centroids) expect(Number.isFinite(v)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('assignNearest breaks ties to the lowest index', () => {
    // point 1 is equidistant from centroids 0 and 2 (and 1 is farther)
    const labels = assignNearest(Float64Array.from([0, 1, 2]), 3, 1, Float64Array.from([0, 5, 2]), 3);
    expect(Array.from(labels)).toEqual([0, 0, 2]);
  });

  it('rejects bad arguments', () => {
    const x = new Float64Array(4);
    expect(() => kmeans(x, 2, 2, 3, { seed: 0 })).toThrow(/c ≤ n/);
    expect(() => kmeans(x, 2, 2, 0, { seed: 0 })).toThrow(/1 ≤ c/);
    expect(() => kmeans(x, 3, 2, 1, { seed: 0 })).toThrow(/expected n·dim/);
  });
});
