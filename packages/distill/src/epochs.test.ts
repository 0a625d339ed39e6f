import { describe, expect, it } from 'vitest';
import { runEpochs, type EpochHooks } from './epochs.ts';
import type { StudentSpec } from './spec.ts';

const spec: StudentSpec = { hidden: [4], target: 'labels', epochs: 10, batchSize: 4, learningRate: 1e-3, validationSplit: 0.2, patience: 1, seed: 3 };

/** Hooks whose validation loss follows `losses`; each epoch's "weights" are one value: the epoch's number. */
function scripted(losses: number[]): EpochHooks & { epoch: number; lrScale: number[]; rowsSeen: number[][] } {
  const h = {
    epoch: 0,
    lrScale: [] as number[],
    rowsSeen: [] as number[][],
    step(rows: Int32Array) {
      h.rowsSeen.push(Array.from(rows));
      return 1;
    },
    validate() {
      h.epoch++;
      return { loss: losses[h.epoch - 1]!, acc: 0.5 };
    },
    snapshot: () => [Float32Array.of(h.epoch)],
    scaleLearningRate(f: number) {
      h.lrScale.push(f);
    },
  };
  return h;
}

describe('runEpochs', () => {
  it("stops after patience + 1 epochs without improvement and returns the best epoch's weights", async () => {
    const hooks = scripted([3, 2, 2.5, 2.6, 1, 0.5]);
    const r = await runEpochs({ ...spec, lrDecay: 0.5 }, 10, true, {}, hooks);
    // Epoch 2 is the best; epochs 3 and 4 do not improve; patience 1 stops after epoch 4, before
    // the better epochs 5 and 6 that a loop without early stopping would have reached.
    expect(r.epochs).toBe(4);
    expect(r.history.valLoss).toEqual([3, 2, 2.5, 2.6]);
    expect(r.history.valAcc).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(Array.from(r.bestWeights[0]!)).toEqual([2]);
    // The plateau decay ran once per epoch without improvement.
    expect(hooks.lrScale).toEqual([0.5, 0.5]);
  });

  it('runs every epoch while the loss improves, and visits every training row once per epoch', async () => {
    const hooks = scripted([5, 4, 3]);
    const r = await runEpochs({ ...spec, epochs: 3 }, 10, false, {}, hooks);
    expect(r.epochs).toBe(3);
    expect(Array.from(r.bestWeights[0]!)).toEqual([3]);
    expect(r.history.valAcc).toBeUndefined();
    expect(hooks.lrScale).toEqual([]); // lrDecay unset: no decay
    // Batches of 4, 4 and 2 rows; each epoch a permutation of 0..9, reshuffled after the first.
    const epochsRows = [0, 1, 2].map((e) => hooks.rowsSeen.slice(e * 3, e * 3 + 3));
    expect(epochsRows[0]!.map((b) => b.length)).toEqual([4, 4, 2]);
    for (const rows of epochsRows) expect(rows.flat().sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(epochsRows[1]!.flat()).not.toEqual(epochsRows[0]!.flat());
  });

  it('fails clearly when the validation loss is not finite', async () => {
    await expect(runEpochs(spec, 10, true, {}, scripted([1, Number.NaN]))).rejects.toThrow(/diverged at epoch 2 .*lower learningRate/);
  });
});
