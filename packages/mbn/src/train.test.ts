import { describe, expect, it } from 'vitest';
import { createDenseBackend } from '@cmbn/kernels';
import { clusteringAccuracy, nmi } from '@cmbn/metrics';
import { trainMbn } from './train.ts';
import { predict } from './predict.ts';
import { deserializeModel, serializeModel, sha256Hex } from './model.ts';
import { gaussianBlobs, mnistSlice } from './test-fixtures.ts';

describe('trainMbn', () => {
  it('recovers well-separated Gaussian blobs exactly', async () => {
    const { x, labels } = gaussianBlobs(60, 4, 16, 1);
    const r = await trainMbn(x, { V: 20, k1: 40, clusters: 4, seed: 3 }, { threads: 2 });
    expect(r.ks[0]).toBe(40);
    expect(clusteringAccuracy(labels, r.labels)).toBe(1);
  });

  it('gives the same modelHash whatever the thread count and shard size', async () => {
    const { x } = mnistSlice(600);
    const params = { V: 12, clusters: 10, seed: 7 };
    const one = await trainMbn(x, params, { threads: 1, shardSize: 5 });
    const two = await trainMbn(x, params, { threads: 2, shardSize: 1 });
    const four = await trainMbn(x, params, { threads: 4, shardSize: 3 });
    expect(two.modelHash).toBe(one.modelHash);
    expect(four.modelHash).toBe(one.modelHash);
    expect(sha256Hex(one.modelBytes)).toBe(one.modelHash);
    // A different seed is a different model.
    const other = await trainMbn(x, { ...params, seed: 8 }, { threads: 2 });
    expect(other.modelHash).not.toBe(one.modelHash);
  });

  it('round-trips the model and predict() reproduces the training labels and embedding', async () => {
    const { x, labels } = mnistSlice(1000);
    const r = await trainMbn(x, { V: 100, seed: 1 }, { threads: 2 });
    expect(r.ks).toEqual([500, 250, 125, 62, 31, 15]);
    const bytes = serializeModel(r.model);
    expect(bytes).toEqual(r.modelBytes);
    const model = deserializeModel(bytes);
    expect(serializeModel(model)).toEqual(bytes);
    const backend = await createDenseBackend({ threads: 2 });
    try {
      const p = await predict(model, x, backend);
      expect(p.labels).toEqual(r.labels);
      expect(p.embedding).toEqual(r.embedding);
    } finally {
      await backend.dispose();
    }
    // Real digits: 1,000 of them with V=100 cluster at ACC ≈ 0.58–0.64, NMI ≈ 0.60–0.64 over seeds
    // (chance is ~0.12); the full quality bar (10k digits) is `npm run bench:quality`.
    expect(clusteringAccuracy(labels, r.labels)).toBeGreaterThan(0.5);
    expect(nmi(labels, r.labels)).toBeGreaterThan(0.5);
  });

  it('rejects impossible params before doing any work', async () => {
    const { x } = mnistSlice(50);
    await expect(trainMbn(x, { k1: 51 }, { threads: 1 })).rejects.toThrow(/only 50 points/);
  });
});
