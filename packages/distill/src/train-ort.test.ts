import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONV } from './architecture.ts';
import { loadTf } from './backend.ts';
import { createStudentPredictor } from './predictor.ts';
import { Rng } from './rng.ts';
import { loadStudent, saveStudent } from './student-files.ts';
import type { StudentSpec } from './spec.ts';
import { blobs, eventLoopTurns } from './test-blobs.ts';
import { buildMlpTrainGraph, createTrainSession, trainStudentOrt, type OrtLoss } from './train-ort.ts';
import { trainStudent } from './train.ts';

// train.test.ts's spec, so the thresholds mean the same.
const spec: StudentSpec = { hidden: [32], target: 'labels', epochs: 20, batchSize: 32, learningRate: 5e-3, validationSplit: 0.2, patience: 3, seed: 7 };

describe('trainStudentOrt', () => {
  it('recovers well-separated blobs exactly (hard labels), and trainStudent dispatches to it', async () => {
    const train = blobs(600, 20, 5, 1);
    const epochs: number[] = [];
    const student = await trainStudentOrt(train.x, { kind: 'labels', labels: train.labels, classes: 5 }, spec, { onEpoch: (e) => epochs.push(e.epoch), threads: 1 });
    expect(student.epochs).toBe(epochs.length);
    expect(student.history.valAcc!.at(-1)).toBeGreaterThanOrEqual(0.99);
    expect(student.layers.map((l) => [l.inDim, l.outDim, l.activation])).toEqual([[20, 32, 'relu'], [32, 5, 'softmax']]);
    const p = await createStudentPredictor(student);
    expect(Array.from((await p.predict(train.x)).labels!)).toEqual(Array.from(train.labels));
    await p.dispose();
    const viaDispatch = await trainStudent(train.x, { kind: 'labels', labels: train.labels, classes: 5 }, spec, { trainer: 'ort', threads: 1 });
    expect(viaDispatch.layers[0]!.weight).toEqual(student.layers[0]!.weight);
    // The dispatcher calibrates whichever trainer ran.
    expect(viaDispatch.activationRanges).toHaveLength(2);
    expect(student.activationRanges).toBeUndefined();
    // It saves and loads as a student like any other, naming its trainer.
    expect(student.backend).toBe('onnxruntime');
    const dir = await mkdtemp(join(tmpdir(), 'cmbn-train-ort-'));
    try {
      await saveStudent(student, dir);
      const loaded = await loadStudent(dir);
      expect(loaded.backend).toBe('onnxruntime');
      expect(loaded.layers[1]!.weight).toEqual(student.layers[1]!.weight);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('learns from soft targets', async () => {
    const data = blobs(400, 8, 3, 4);
    const soft = new Float32Array(400 * 3).fill(0.1);
    for (let i = 0; i < 400; i++) soft[i * 3 + data.labels[i]!] = 0.8;
    const student = await trainStudentOrt(data.x, { kind: 'labels', labels: data.labels, classes: 3, soft }, spec);
    expect(student.history.valAcc!.at(-1)).toBeGreaterThanOrEqual(0.99);
    const p = await createStudentPredictor(student);
    expect(Array.from((await p.predict(data.x)).labels!)).toEqual(Array.from(data.labels));
    await p.dispose();
  });

  it('learns an embedding target (MSE on standardised targets, de-standardised outputs)', async () => {
    const data = blobs(800, 10, 4, 3);
    const dim = 3;
    const values = new Float64Array(800 * dim);
    for (let i = 0; i < 800; i++) for (let j = 0; j < dim; j++) values[i * dim + j] = 100 + 50 * data.centres[data.labels[i]! * 10 + j]! * (j + 1);
    const student = await trainStudentOrt(data.x, { kind: 'embedding', values, dim }, { ...spec, target: 'embedding', epochs: 40, patience: 5 }, { threads: 1 });
    expect(student.history.valAcc).toBeUndefined();
    expect(student.layers.at(-1)!.activation).toBe('linear');
    const p = await createStudentPredictor(student, { runtime: 'tfjs' });
    const out = (await p.predict(data.x)).values!;
    await p.dispose();
    let se = 0;
    for (let i = 0; i < values.length; i++) se += (out[i]! - values[i]!) ** 2;
    expect(Math.sqrt(se / values.length)).toBeLessThan(5);
  });

  it('is bit-reproducible for a seed and thread count, and the seed matters', async () => {
    const data = blobs(700, 8, 3, 5);
    const target = { kind: 'labels' as const, labels: data.labels, classes: 3 };
    // Two hidden layers and a short last batch (560 = 17·32 + 16): every graph path runs.
    const s = { ...spec, hidden: [64, 32], epochs: 3 };
    const a = await trainStudentOrt(data.x, target, s, { threads: 2 });
    const b = await trainStudentOrt(data.x, target, s, { threads: 2 });
    const c = await trainStudentOrt(data.x, target, { ...s, seed: 8 }, { threads: 2 });
    for (let l = 0; l < 3; l++) {
      expect(a.layers[l]!.weight).toEqual(b.layers[l]!.weight);
      expect(a.layers[l]!.bias).toEqual(b.layers[l]!.bias);
    }
    expect(a.history).toEqual(b.history);
    expect(a.layers[0]!.weight).not.toEqual(c.layers[0]!.weight);
  });

  it("follows tfjs's trainer step for step: the same split, batch order, init and Adam", async () => {
    // Not bit-identical (summation order differs), but the same path: losses agree to float rounding.
    const data = blobs(300, 8, 3, 9, 0.5);
    const target = { kind: 'labels' as const, labels: data.labels, classes: 3 };
    const s = { ...spec, hidden: [16, 16], epochs: 4, patience: 4, lrDecay: 0.5 };
    const tfjs = await trainStudent(data.x, target, s);
    const viaOrt = await trainStudentOrt(data.x, target, s);
    expect(viaOrt.epochs).toBe(tfjs.epochs);
    for (const key of ['loss', 'valLoss'] as const) {
      viaOrt.history[key].forEach((v, i) => expect(Math.abs(v - tfjs.history[key][i]!)).toBeLessThan(1e-4 * Math.max(1, tfjs.history[key][i]!)));
    }
    for (let i = 0; i < tfjs.layers[0]!.weight.length; i++) expect(viaOrt.layers[0]!.weight[i]!).toBeCloseTo(tfjs.layers[0]!.weight[i]!, 3);
  });

  for (const loss of ['softmax-cross-entropy', 'mse'] as OrtLoss[]) {
    it(`computes one batch's ${loss} loss and gradients as tfjs's autodiff does`, async () => {
      const { tf } = await loadTf();
      const dims = [6, 5, 4, 3];
      const m = 7;
      const rng = new Rng(3, 0);
      const rand = (len: number, scale = 1) => Float32Array.from({ length: len }, () => (rng.next() * 2 - 1) * scale);
      const x = rand(m * dims[0]!);
      const y = loss === 'mse' ? rand(m * 3) : Float32Array.from({ length: m * 3 }, (_, i) => (i % 3 === i % 7 % 3 ? 0.6 : 0.2));
      const params = dims.slice(1).flatMap((out, l) => [rand(dims[l]! * out, 0.8), rand(out, 0.3)]);
      const session = await createTrainSession(buildMlpTrainGraph(dims, loss, true), 1);
      const feeds: Record<string, ort.Tensor> = {
        X: new ort.Tensor('float32', x, [m, dims[0]!]),
        Y: new ort.Tensor('float32', y, [m, 3]),
        Inv: new ort.Tensor('float32', Float32Array.of(loss === 'mse' ? 1 / (m * 3) : 1 / m), []),
      };
      for (let l = 0; l < 3; l++) {
        feeds[`W${l}`] = new ort.Tensor('float32', params[2 * l]!, [dims[l]!, dims[l + 1]!]);
        feeds[`B${l}`] = new ort.Tensor('float32', params[2 * l + 1]!, [dims[l + 1]!]);
      }
      const out = await session.run(feeds);
      await session.release();

      const vars = params.map((p, k) => tf.variable(k % 2 === 0 ? tf.tensor2d(p, [dims[k / 2]!, dims[k / 2 + 1]!]) : tf.tensor1d(p)));
      const { value, grads } = tf.variableGrads(() => {
        let h = tf.tensor2d(x, [m, dims[0]!]);
        for (let l = 0; l < 3; l++) {
          h = tf.add(tf.matMul(h, vars[2 * l]!), vars[2 * l + 1]!);
          if (l < 2) h = tf.relu(h);
        }
        const yt = tf.tensor2d(y, [m, 3]);
        return (loss === 'mse' ? tf.losses.meanSquaredError(yt, h) : tf.losses.softmaxCrossEntropy(yt, h)) as ReturnType<typeof tf.scalar>;
      }, vars);
      expect((out.Loss!.data as Float32Array)[0]!).toBeCloseTo(value.dataSync()[0]!, 5);
      vars.forEach((v, k) => {
        const name = `d${k % 2 === 0 ? 'W' : 'B'}${k >> 1}`;
        const got = out[name]!.data as Float32Array;
        const want = grads[v.name]!.dataSync();
        expect(got.length).toBe(want.length);
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 + 1e-4 * Math.abs(want[i]!));
      });
      tf.dispose([value, ...Object.values(grads), ...vars]);
    });
  }

  it('stops between batches when its signal is aborted, with the reason', async () => {
    const data = blobs(640, 8, 3, 2);
    const ctl = new AbortController();
    let batches = 0;
    const run = trainStudentOrt(data.x, { kind: 'labels', labels: data.labels, classes: 3 }, { ...spec, epochs: 50, patience: 50 }, {
      signal: ctl.signal,
      onBatch: () => {
        if (++batches === 5) ctl.abort(new Error('run r1 was cancelled'));
      },
    });
    await expect(run).rejects.toThrow(/run r1 was cancelled/);
    expect(batches).toBe(5);
  });

  it('gives the event loop a turn after every batch', async () => {
    const data = blobs(640, 8, 3, 2);
    const { batches, starved } = await eventLoopTurns((onBatch) => trainStudentOrt(data.x, { kind: 'labels', labels: data.labels, classes: 3 }, { ...spec, epochs: 2 }, { onBatch }));
    expect(batches).toBe(2 * Math.ceil(512 / 32));
    expect(starved).toBe(0);
  });

  it('refuses a conv student (naming the tfjs trainer), a mismatched target, and an unknown trainer', async () => {
    const img = { rows: 10, cols: 64, dtype: 'uint8' as const, data: new Uint8Array(640) };
    const labels = { kind: 'labels' as const, labels: new Int32Array(10), classes: 2 };
    await expect(trainStudentOrt(img, labels, { ...spec, architecture: DEFAULT_CONV })).rejects.toThrow(/mlp student only.*tfjs trainer/);
    await expect(trainStudent(img, labels, { ...spec, architecture: DEFAULT_CONV }, { trainer: 'ort' })).rejects.toThrow(/tfjs trainer/);
    await expect(trainStudentOrt(img, { kind: 'embedding', values: new Float64Array(10), dim: 1 }, spec)).rejects.toThrow(/target/);
    await expect(trainStudent(img, labels, spec, { trainer: 'onnx' as 'ort' })).rejects.toThrow(/unknown trainer/);
  });
});
