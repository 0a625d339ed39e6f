import { describe, expect, it } from 'vitest';
import { createDenseBackend } from '@cmbn/kernels';
import { finishTrainingInThread } from './finish-in-thread.ts';
import type { CodeInput, LayerInput } from './layer.ts';
import { parseParams } from './params.ts';
import { computeShard } from './shard.ts';
import { mnistSlice } from './test-fixtures.ts';
import { assembleLayer, trainWith, type LayerRunner, type TrainProgress } from './train.ts';

describe('finishTrainingInThread', () => {
  it('gives the same model, labels and embedding as the in-process finish, and reports its stages', async () => {
    const { x } = mnistSlice(400);
    const params = parseParams({ V: 8, clusters: 10, seed: 5 });
    const backend = await createDenseBackend({ threads: 1, prefer: 'js' });
    const inputs: LayerInput[] = [];
    let top: CodeInput | undefined;
    const runLayer: LayerRunner = async (input, specs) => {
      inputs.push(input);
      const blocks: Uint16Array[] = [];
      for (const s of specs) blocks.push(await computeShard(input, s, backend));
      top = assembleLayer(input.n, params.V, specs[0]!.k, specs, blocks);
      return blocks;
    };
    const local = await trainWith(x, params, runLayer, { shardSize: 3 });
    await backend.dispose();

    const stages: TrainProgress['stage'][] = [];
    const threaded = await finishTrainingInThread(inputs, top!, params, local.ks, (p) => stages.push(p.stage));
    expect(threaded.modelHash).toBe(local.modelHash);
    expect(threaded.modelBytes).toEqual(local.modelBytes);
    expect(threaded.labels).toEqual(local.labels);
    expect(threaded.embedding).toEqual(local.embedding);
    expect(stages).toEqual(['pca', 'kmeans', 'model']);
  });

  it('rejects with the thread’s error instead of hanging', async () => {
    const params = parseParams({ V: 2, clusters: 3, seed: 1 });
    const top: CodeInput = { kind: 'code', n: 50, V: 2, k: 4, ids: new Uint16Array(100) };
    // A code input where layer 1 must be dense: finishTraining throws inside the thread.
    await expect(finishTrainingInThread([top], top, params, [4])).rejects.toThrow(/finishing the model failed: layer 1 input must be dense/);
  });
});
