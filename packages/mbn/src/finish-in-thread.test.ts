import { describe, expect, it } from 'vitest';
import { createDenseBackend } from '@cmbn/kernels';
import { finishTrainingInThread, transferableInput } from './finish-in-thread.ts';
import type { CodeInput, LayerInput } from './layer.ts';
import { parseParams, type TMbnParams } from './params.ts';
import { computeShard } from './shard.ts';
import { mnistSlice } from './test-fixtures.ts';
import { assembleLayer, finishTraining, trainWith, type LayerRunner, type TrainProgress, type TrainResult } from './train.ts';

/** Trains in-process on 400 MNIST digits and keeps what the finish step sees: every layer's input and the top code. */
async function trained(params: TMbnParams): Promise<{ local: TrainResult; inputs: LayerInput[]; top: CodeInput }> {
  const { x } = mnistSlice(400);
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
  return { local, inputs, top: top! };
}

/** A copy that owns its buffer, as the coordinator's store reads do (so the thread may take it). */
function own(input: LayerInput): LayerInput {
  return input.kind === 'code' ? { ...input, ids: input.ids.slice() } : { ...input, data: input.data.slice() };
}
const bufferOf = (input: LayerInput) => (input.kind === 'code' ? input.ids.buffer : input.data.buffer);

describe('finishTrainingInThread', () => {
  it('gives the same model, labels and embedding as the in-process finish, and reports its stages', async () => {
    const params = parseParams({ V: 8, clusters: 10, seed: 5 });
    const { local, inputs, top } = await trained(params);
    // finishTraining (all inputs at once) agrees with trainWith (each section built as its layer ends).
    expect(finishTraining(inputs, top, params, local.ks).modelHash).toBe(local.modelHash);

    const stages: TrainProgress['stage'][] = [];
    const threaded = await finishTrainingInThread({ top: own(top) as CodeInput, input: (l) => own(inputs[l - 1]!) }, params, local.ks, (p) => stages.push(p.stage));
    expect(threaded.modelHash).toBe(local.modelHash);
    expect(threaded.modelBytes).toEqual(local.modelBytes);
    expect(threaded.labels).toEqual(local.labels);
    expect(threaded.embedding).toEqual(local.embedding);
    expect(threaded.c).toBe(local.model.pca.c);
    expect(stages).toEqual(['pca', 'kmeans', 'model']);
  });

  it('transfers the inputs one layer at a time: each is detached before the next is asked for', async () => {
    const params = parseParams({ V: 8, clusters: 10, seed: 5 });
    const { local, inputs, top } = await trained(params);
    const mine = own(top) as CodeInput;
    const given: LayerInput[] = [];
    const asked: number[] = [];
    const detachedWhenAsked: boolean[] = [];
    const res = await finishTrainingInThread(
      {
        top: mine,
        input: (l) => {
          asked.push(l);
          // The top code went with the thread's start; the previous input went when it was posted.
          detachedWhenAsked.push(mine.ids.byteLength === 0 && given.every((g) => bufferOf(g).byteLength === 0));
          const g = own(inputs[l - 1]!);
          given.push(g);
          return g;
        },
      },
      params,
      local.ks,
    );
    expect(res.modelHash).toBe(local.modelHash);
    expect(asked).toEqual(local.ks.map((_, i) => i + 1));
    expect(detachedWhenAsked).toEqual(local.ks.map(() => true));
    expect(given.map((g) => bufferOf(g).byteLength)).toEqual(local.ks.map(() => 0));
  });

  it('copies a window into a bigger buffer instead of detaching the rest of it', () => {
    const big = new Uint8Array(1 << 20).fill(7);
    const window: LayerInput = { kind: 'dense', n: 10, d: 10, dtype: 'uint8', data: big.subarray(1000, 1100) };
    const { input, transfer } = transferableInput(window);
    expect(transfer).toHaveLength(1);
    expect(transfer[0]).not.toBe(big.buffer);
    expect(input.kind === 'dense' && input.data).toEqual(big.subarray(1000, 1100));
    // A file read: the whole buffer but the .npy header, so that buffer itself goes.
    const file = new Uint8Array(128 + 200_000);
    const code: CodeInput = { kind: 'code', n: 1000, V: 100, k: 5, ids: new Uint16Array(file.buffer, 128, 100_000) };
    expect(transferableInput(code).transfer).toEqual([file.buffer]);
  });

  it('rejects with the thread’s error instead of hanging', async () => {
    const params = parseParams({ V: 2, clusters: 3, seed: 1 });
    const top = (): CodeInput => ({ kind: 'code', n: 50, V: 2, k: 4, ids: new Uint16Array(100) });
    // A code input where layer 1 must be dense: the thread throws.
    await expect(finishTrainingInThread({ top: top(), input: top }, params, [4])).rejects.toThrow(/finishing the model failed: layer 1 input must be dense/);
  });

  it('rejects when an input cannot be had', async () => {
    const params = parseParams({ V: 2, clusters: 3, seed: 1 });
    const top: CodeInput = { kind: 'code', n: 50, V: 2, k: 4, ids: new Uint16Array(100) };
    await expect(
      finishTrainingInThread(
        {
          top,
          input: () => {
            throw new Error('artifact gone');
          },
        },
        params,
        [4],
      ),
    ).rejects.toThrow(/artifact gone/);
  });
});
