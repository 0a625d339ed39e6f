import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDenseBackend, type DenseBackend } from '@cmbn/kernels';
import { trainMbn, type TrainResult } from './train.ts';
import { predict, PredictError, type Prediction, type PredictInput } from './predict.ts';
import { predictReference } from './predict-reference.ts';
import { createMbnPredictor, predictorThreads, splitClusterings } from './predict-pool.ts';
import { deserializeModel, featureBitsDrawn, type MbnModel } from './model.ts';
import { mnistSlice } from './test-fixtures.ts';

const TRAIN = 800;
const HELD_OUT = 300;
let trained: TrainResult;
let model: MbnModel;
let train: PredictInput;
let heldOut: PredictInput;
let backend: DenseBackend;
let reference: Prediction;

function bytesOf(p: Prediction): { embedding: Uint8Array; labels: Uint8Array; ids: Uint16Array; V: number; k: number } {
  return {
    embedding: new Uint8Array(p.embedding.buffer, p.embedding.byteOffset, p.embedding.byteLength),
    labels: new Uint8Array(p.labels.buffer, p.labels.byteOffset, p.labels.byteLength),
    ids: p.topCode.ids,
    V: p.topCode.V,
    k: p.topCode.k,
  };
}

beforeAll(async () => {
  const { x } = mnistSlice(TRAIN + HELD_OUT);
  train = { ...x, rows: TRAIN, data: x.data.subarray(0, TRAIN * 784) };
  heldOut = { ...x, rows: HELD_OUT, data: x.data.slice(TRAIN * 784) };
  // V=25 (not a multiple of 2 or 4) so the threads' shares are uneven.
  trained = await trainMbn(train, { V: 25, seed: 5 }, { threads: 2 });
  model = deserializeModel(trained.modelBytes);
  backend = await createDenseBackend({ threads: 2 });
  reference = await predictReference(model, heldOut, backend);
}, 120_000);
afterAll(async () => {
  await backend?.dispose();
});

describe('MBN predict fast paths', () => {
  it('the reference reproduces training: the training points get their training codes, labels and embedding', async () => {
    const p = await predictReference(model, train, backend);
    expect(p.topCode.ids).toEqual(trained.topCode.ids);
    expect(p.labels).toEqual(trained.labels);
    expect(p.embedding).toEqual(trained.embedding);
  });

  it('in-process predict gives the reference bytes on held-out and training points', async () => {
    expect(bytesOf(await predict(model, heldOut, backend))).toEqual(bytesOf(reference));
    const p = await predict(model, train, backend);
    expect(p.topCode.ids).toEqual(trained.topCode.ids);
    expect(p.labels).toEqual(trained.labels);
  });

  it('the threaded predictor gives the same bytes with 1, 2 and 4 threads, with and without its cache, call after call', async () => {
    const runs: Prediction[] = [];
    for (const opts of [{ threads: 1 }, { threads: 2 }, { threads: 4, cacheBytes: 0 }, { threads: 2, cacheBytes: 300_000 }]) {
      const predictor = createMbnPredictor(model, opts);
      try {
        expect(predictor.threads).toBe(opts.threads);
        // The second and third calls use what the first one prepared (where the budget kept it).
        runs.push(await predictor.predict(heldOut));
        runs.push(await predictor.predict(heldOut));
        const t = await predictor.predict(train);
        expect(t.topCode.ids).toEqual(trained.topCode.ids);
        expect(t.labels).toEqual(trained.labels);
        expect(t.embedding).toEqual(trained.embedding);
      } finally {
        await predictor.dispose();
      }
    }
    for (const p of runs) expect(bytesOf(p)).toEqual(bytesOf(reference));
  }, 120_000);

  it('on a freshly loaded model the threads redraw their own share of the kept-feature bitsets: same bytes, none redrawn on the calling thread', async () => {
    for (const threads of [2, 3]) {
      const fresh = deserializeModel(trained.modelBytes);
      expect(fresh.layers.every(featureBitsDrawn)).toBe(false);
      const p = createMbnPredictor(fresh, { threads });
      try {
        expect(p.backend).toBeUndefined();
        expect(bytesOf(await p.predict(heldOut))).toEqual(bytesOf(reference));
        // The threads say which dense backend they ran (one thread each: OpenBLAS when built).
        expect(p.backend).toMatch(/^(openblas|onnxruntime-cpu)$/);
      } finally {
        await p.dispose();
      }
      // Creating and using the predictor read no layer's bitsets here (a spread would have).
      expect(fresh.layers.some(featureBitsDrawn)).toBe(false);
    }
  });

  it('overlapping calls and single points give the reference answers', async () => {
    const predictor = createMbnPredictor(model, { threads: 2 });
    try {
      const one = (i: number): PredictInput => ({ ...heldOut, rows: 1, data: heldOut.data.subarray(i * 784, (i + 1) * 784) });
      const [a, b, c] = await Promise.all([predictor.predict(one(0)), predictor.predict(heldOut), predictor.predict(one(HELD_OUT - 1))]);
      expect(bytesOf(b)).toEqual(bytesOf(reference));
      expect(a.labels[0]).toBe(reference.labels[0]);
      expect(c.labels[0]).toBe(reference.labels[HELD_OUT - 1]);
      expect(Array.from(c.topCode.ids)).toEqual(Array.from(reference.topCode.ids.subarray((HELD_OUT - 1) * 25, HELD_OUT * 25)));
    } finally {
      await predictor.dispose();
    }
  }, 60_000);

  it('rejects bad input with the reason, and a disposed predictor', async () => {
    const predictor = createMbnPredictor(model, { threads: 2 });
    await expect(predictor.predict({ ...heldOut, cols: 783 })).rejects.toThrow(/783 columns but the model was trained on 784/);
    await expect(predictor.predict({ ...heldOut, rows: 0 })).rejects.toBeInstanceOf(PredictError);
    await expect(predictor.predict({ ...heldOut, rows: HELD_OUT + 1 })).rejects.toThrow(/need rows × cols/);
    await predictor.dispose();
    await expect(predictor.predict(heldOut)).rejects.toThrow(/disposed/);
    expect(() => createMbnPredictor(model, { threads: 0 })).toThrow(/threads must be a positive integer/);
    await expect(predict(model, { ...heldOut, cols: 10 }, backend)).rejects.toBeInstanceOf(PredictError);
  });

  it('caps threads at the clusterings per layer and splits them evenly', () => {
    expect(splitClusterings(21, 4)).toEqual([
      { v0: 0, v1: 5 },
      { v0: 5, v1: 10 },
      { v0: 10, v1: 15 },
      { v0: 15, v1: 21 },
    ]);
    expect(predictorThreads(model, 64)).toBe(25);
    expect(predictorThreads(model, 3)).toBe(3);
  });
});
