import { describe, expect, it } from 'vitest';
import { loadTf } from './backend.ts';
import { createStudentPredictor } from './predictor.ts';
import type { StudentSpec } from './spec.ts';
import { blobs, eventLoopTurns } from './test-blobs.ts';
import { trainStudent } from './train.ts';

const spec: StudentSpec = { hidden: [32], target: 'labels', epochs: 20, batchSize: 32, learningRate: 5e-3, validationSplit: 0.2, patience: 3, seed: 7 };

describe('trainStudent', () => {
  it('recovers well-separated blobs exactly and leaks no tensors', async () => {
    const { tf } = await loadTf();
    const train = blobs(600, 20, 5, 1);
    const test = blobs(500, 20, 5, 2);
    test.x.data.set(test.x.data.map((v, i) => train.centres[(test.labels[Math.floor(i / 20)]! * 20) + (i % 20)]! + (v - test.centres[(test.labels[Math.floor(i / 20)]! * 20) + (i % 20)]!)));
    const before = tf.memory().numTensors;
    const epochs: number[] = [];
    const student = await trainStudent(train.x, { kind: 'labels', labels: train.labels, classes: 5 }, spec, { onEpoch: (e) => epochs.push(e.epoch) });
    expect(tf.memory().numTensors).toBe(before);
    expect(student.backend).toBe('wasm');
    expect(student.epochs).toBe(epochs.length);
    expect(student.history.valAcc!.at(-1)).toBe(1);
    expect(student.layers.map((l) => [l.inDim, l.outDim, l.activation])).toEqual([[20, 32, 'relu'], [32, 5, 'softmax']]);
    // Calibrated on its training inputs (calibrate.ts): the raw float input, then a ReLU output.
    expect(student.activationRanges).toHaveLength(2);
    const [lo, hi] = [train.x.data.reduce((a, b) => Math.min(a, b)), train.x.data.reduce((a, b) => Math.max(a, b))];
    expect(student.activationRanges![0]).toEqual([lo, hi]);
    expect(student.activationRanges![1]![0]).toBe(0);
    const p = await createStudentPredictor(student);
    const { labels } = await p.predict(test.x);
    await p.dispose();
    expect(Array.from(labels!)).toEqual(Array.from(test.labels));
  });

  it('is deterministic for a seed, and the seed matters', async () => {
    const data = blobs(200, 8, 3, 5);
    const target = { kind: 'labels' as const, labels: data.labels, classes: 3 };
    const s = { ...spec, epochs: 2 };
    const a = await trainStudent(data.x, target, s);
    const b = await trainStudent(data.x, target, s);
    const c = await trainStudent(data.x, target, { ...s, seed: 8 });
    expect(a.layers[0]!.weight).toEqual(b.layers[0]!.weight);
    expect(a.history).toEqual(b.history);
    expect(a.layers[0]!.weight).not.toEqual(c.layers[0]!.weight);
  });

  it('stops early and restores the best epoch (patience 1 on a rising validation loss)', async () => {
    const data = blobs(300, 8, 3, 9, 0.5);
    // An absurd learning rate makes the validation loss go up after the first epochs.
    const s = { ...spec, epochs: 30, patience: 1, learningRate: 0.5 };
    const student = await trainStudent(data.x, { kind: 'labels', labels: data.labels, classes: 3 }, s);
    const vl = student.history.valLoss;
    const bestEpoch = vl.indexOf(Math.min(...vl));
    // It stopped early (well before the 30 allowed), patience + 1 = 2 epochs after its best one.
    expect(student.epochs).toBeLessThan(30);
    expect(student.epochs - 1 - bestEpoch).toBe(2);
    // That the weights returned are the best epoch's is checked on scripted losses in epochs.test.ts.
  });

  it('learns an embedding target (MSE on standardised targets, de-standardised outputs)', async () => {
    const { tf } = await loadTf();
    const data = blobs(800, 10, 4, 3);
    const dim = 3;
    // Target: a fixed affine map of the centre of each point's blob, far from zero mean / unit scale.
    const values = new Float64Array(800 * dim);
    for (let i = 0; i < 800; i++) for (let j = 0; j < dim; j++) values[i * dim + j] = 100 + 50 * data.centres[data.labels[i]! * 10 + j]! * (j + 1);
    const before = tf.memory().numTensors;
    const student = await trainStudent(data.x, { kind: 'embedding', values, dim }, { ...spec, hidden: [32], target: 'embedding', epochs: 40, patience: 5 });
    expect(tf.memory().numTensors).toBe(before);
    expect(student.signature.output).toEqual({ kind: 'embedding', size: dim });
    expect(student.layers.at(-1)!.activation).toBe('linear');
    for (const runtime of ['onnxruntime', 'tfjs'] as const) {
      const p = await createStudentPredictor(student, { runtime });
      const out = (await p.predict(data.x)).values!;
      await p.dispose();
      let se = 0;
      for (let i = 0; i < values.length; i++) se += (out[i]! - values[i]!) ** 2;
      // The targets have std ≈ 70 around 100: an RMS error of a few percent of that means the
      // de-standardisation was folded in correctly (a missing fold would be off by ~100).
      expect(Math.sqrt(se / values.length)).toBeLessThan(5);
    }
  });

  it('learns from soft targets (cross-entropy against probabilities) and leaks no tensors', async () => {
    const { tf } = await loadTf();
    const data = blobs(400, 8, 3, 4);
    // Mostly-right soft labels: 0.8 on the true blob, 0.1 on each other.
    const soft = new Float32Array(400 * 3).fill(0.1);
    for (let i = 0; i < 400; i++) soft[i * 3 + data.labels[i]!] = 0.8;
    const before = tf.memory().numTensors;
    const student = await trainStudent(data.x, { kind: 'labels', labels: data.labels, classes: 3, soft }, { ...spec, epochs: 20 });
    expect(tf.memory().numTensors).toBe(before);
    expect(student.history.valAcc!.at(-1)).toBe(1);
    const p = await createStudentPredictor(student);
    expect(Array.from((await p.predict(data.x)).labels!)).toEqual(Array.from(data.labels));
    await p.dispose();
    await expect(trainStudent(data.x, { kind: 'labels', labels: data.labels, classes: 3, soft: soft.subarray(3) }, spec)).rejects.toThrow(/soft targets/);
  });

  it('decays the Adam step on a plateau: same first epoch, a different path after the first non-improving one', async () => {
    const data = blobs(300, 8, 3, 9, 0.5);
    const s = { ...spec, epochs: 8, patience: 8, learningRate: 0.5 };
    const target = { kind: 'labels' as const, labels: data.labels, classes: 3 };
    const plain = await trainStudent(data.x, target, s);
    const decayed = await trainStudent(data.x, target, { ...s, lrDecay: 0.1 });
    expect(decayed.history.loss[0]).toBe(plain.history.loss[0]);
    expect(decayed.history.loss).not.toEqual(plain.history.loss);
    await expect(trainStudent(data.x, target, { ...s, lrDecay: 1.5 })).rejects.toThrow(/lrDecay/);
  });

  it('rejects a target that does not match the spec', async () => {
    const data = blobs(20, 4, 2, 1);
    await expect(trainStudent(data.x, { kind: 'embedding', values: new Float64Array(20), dim: 1 }, spec)).rejects.toThrow(/target/);
  });

  it('gives the event loop a turn after every batch (timers such as a BullMQ lock renewal run mid-epoch)', async () => {
    const data = blobs(640, 8, 3, 2);
    const target = { kind: 'labels' as const, labels: data.labels, classes: 3 };
    // A timer armed before each batch must have fired by the next batch: no batch-to-batch stretch
    // of the event loop is held by training. (Counts turns, not time.)
    const { batches, starved, fired } = await eventLoopTurns((onBatch) => trainStudent(data.x, target, { ...spec, epochs: 2, batchSize: 32, validationSplit: 0.2 }, { onBatch }));
    expect(batches).toBe(2 * Math.ceil(512 / 32));
    expect(starved).toBe(0);
    expect(fired).toBeGreaterThanOrEqual(batches);
  });

  it('stops between batches when its signal is aborted, with the reason', async () => {
    const data = blobs(640, 8, 3, 2);
    const ctl = new AbortController();
    let batches = 0;
    const run = trainStudent(data.x, { kind: 'labels', labels: data.labels, classes: 3 }, { ...spec, epochs: 50, patience: 50, batchSize: 32 }, {
      signal: ctl.signal,
      onBatch: () => {
        if (++batches === 5) ctl.abort(new Error('run r1 was cancelled'));
      },
    });
    await expect(run).rejects.toThrow(/run r1 was cancelled/);
    expect(batches).toBe(5);
  });
});
