import { describe, expect, it } from 'vitest';
import { createDenseBackend, nearestCentresSparse } from '@cmbn/kernels';
import { clusteringAccuracy, nmi } from '@cmbn/metrics';
import { trainMbn, trainWith, type LayerRunner } from './train.ts';
import { computeShard } from './shard.ts';
import { drawClustering, featureCount, gatherCodeRows, type LayerInput } from './layer.ts';
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

  it("counts each sparse layer's score increments: the one-clustering reference's count, whatever the threads and shards", async () => {
    const { x } = mnistSlice(600);
    const params = { V: 12, clusters: 10, seed: 7 };
    const one = await trainMbn(x, params, { threads: 1, shardSize: 5 });
    const two = await trainMbn(x, params, { threads: 2, shardSize: 1 });
    // The reference: every clustering of every sparse layer through the one-clustering kernel,
    // which counts its increments itself, on the layer inputs an in-process runner saw.
    const inputs: LayerInput[] = [];
    const backend = await createDenseBackend({ threads: 1 });
    const runner: LayerRunner = async (input, specs, onShardDone) => {
      inputs.push(input);
      const blocks = [];
      for (const s of specs) {
        blocks.push(await computeShard(input, s, backend));
        onShardDone(s);
      }
      return blocks;
    };
    const ref = await trainWith(x, params, runner, { shardSize: 4 });
    await backend.dispose();
    expect(ref.layerIncrements).toBeUndefined(); // a runner that does not count says nothing
    const expected = inputs.map((input, l) => {
      if (input.kind !== 'code') return 0;
      const stats = { accumulations: 0 };
      const out = new Uint16Array(input.n);
      for (let v = 0; v < ref.params.V; v++) {
        const { features, centres } = drawClustering(ref.params.seed, l + 1, v, featureCount(input), input.n, ref.params.a, ref.ks[l]!);
        const centreCodes = gatherCodeRows(input.ids, input.V, centres, new Uint16Array(centres.length * input.V));
        nearestCentresSparse(input.ids, input.n, input.V, input.k, features, centreCodes, ref.ks[l]!, out, 1, 0, stats);
      }
      return stats.accumulations;
    });
    expect(expected[0]).toBe(0);
    expect(expected.slice(1).every((c) => c > 0)).toBe(true);
    expect(one.layerIncrements).toEqual(expected);
    expect(two.layerIncrements).toEqual(expected);
    expect(ref.modelHash).toBe(one.modelHash);
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
