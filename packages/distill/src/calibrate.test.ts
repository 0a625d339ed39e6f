/**
 * Calibrated int8 students: the ranges are those of the tensors the int8 graph quantises, and with
 * them a row's prediction no longer depends on the rows batched beside it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { activationRanges } from './calibrate.ts';
import { readMnist } from './mnist-fixture.ts';
import { studentGraph, uint8Quantisation } from './onnx-student.ts';
import { createStudentPredictor } from './predictor.ts';
import { glorotUniform, Rng } from './rng.ts';
import type { StudentInput, StudentLayer, TrainedStudent } from './types.ts';

function randomStudent(dims: number[], dtype: 'uint8' | 'float32', kind: 'labels' | 'embedding' = 'labels'): TrainedStudent {
  const rng = new Rng(4, 2);
  const layers: StudentLayer[] = dims.slice(0, -1).map((d, l) => ({
    weight: glorotUniform(rng, d, dims[l + 1]!),
    bias: Float32Array.from({ length: dims[l + 1]! }, (_, j) => Math.sin(j) * 0.1),
    inDim: d,
    outDim: dims[l + 1]!,
    activation: l < dims.length - 2 ? 'relu' : kind === 'labels' ? 'softmax' : 'linear',
  }));
  return {
    signature: { inputDims: dims[0]!, inputDType: dtype, normalisation: { kind: 'scale', scale: dtype === 'uint8' ? 1 / 255 : 1 }, output: { kind, size: dims.at(-1)! } },
    backend: 'wasm',
    seconds: 0,
    epochs: 1,
    history: { loss: [1], valLoss: [1] },
    layers,
  };
}

/** Float64 forward pass in plain JS: each layer's input range, the reference for the measured one. */
function referenceRanges(s: TrainedStudent, x: StudentInput): Array<[number, number]> {
  const ranges: Array<[number, number]> = s.layers.map(() => [Infinity, -Infinity]);
  for (let r = 0; r < x.rows; r++) {
    let h = Array.from(x.data.subarray(r * x.cols, (r + 1) * x.cols));
    s.layers.forEach((layer, l) => {
      for (const v of h) ranges[l] = [Math.min(ranges[l]![0], v), Math.max(ranges[l]![1], v)];
      const inScale = l === 0 ? s.signature.normalisation.scale : 1;
      const next = Array.from(layer.bias, Number);
      for (let i = 0; i < layer.inDim; i++) for (let j = 0; j < layer.outDim; j++) next[j]! += h[i]! * inScale * layer.weight[i * layer.outDim + j]!;
      h = layer.activation === 'relu' ? next.map((v) => Math.max(0, v)) : next;
    });
  }
  return ranges;
}

async function labelsByBatch(s: TrainedStudent, x: StudentInput, batches: number[], threads = 1): Promise<Int32Array[]> {
  const out: Int32Array[] = [];
  for (const batchRows of batches) {
    const p = await createStudentPredictor(s, { precision: 'int8', batchRows, threads });
    out.push((await p.predict(x)).labels!);
    await p.dispose();
  }
  return out;
}

const differing = (a: Int32Array, b: Int32Array) => a.reduce((n, v, i) => n + (v !== b[i] ? 1 : 0), 0);

describe('activationRanges', () => {
  it('measures each layer input that the int8 graph quantises, the same on every run', async () => {
    for (const dtype of ['uint8', 'float32'] as const) {
      const s = randomStudent([10, 7, 5, 3], dtype, 'embedding');
      const data = dtype === 'uint8' ? Uint8Array.from({ length: 300 * 10 }, (_, i) => (i * 89 + 7) % 256) : Float32Array.from({ length: 300 * 10 }, (_, i) => Math.cos(i * 0.77) * 3 - 0.5);
      const x: StudentInput = { rows: 300, cols: 10, dtype, data };
      const got = await activationRanges(s, x);
      const want = referenceRanges(s, x);
      expect(got).toHaveLength(3);
      for (let l = 0; l < 3; l++) {
        expect(got[l]![0]).toBeCloseTo(want[l]![0], 4);
        expect(got[l]![1]).toBeCloseTo(want[l]![1], 4);
      }
      // A hidden layer after ReLU starts at 0; a float input below it.
      expect(got[1]![0]).toBe(0);
      if (dtype === 'float32') expect(got[0]![0]).toBeLessThan(0);
      expect(await activationRanges(s, x)).toEqual(got);
    }
  });

  it('makes a row\'s int8 label independent of its batch, where the batch-range graph is not', async () => {
    const test = readMnist('t10k');
    const x: StudentInput = { rows: 2000, cols: 784, dtype: 'uint8', data: test.x.data.subarray(0, 2000 * 784) };
    const s = randomStudent([784, 256, 256, 10], 'uint8');
    // Uncalibrated (DynamicQuantizeLinear): the batch's own range sets the scale, so labels move.
    const [d1, dAll] = await labelsByBatch(s, x, [1, 2000]);
    expect(differing(d1!, dAll!)).toBeGreaterThan(0);
    s.activationRanges = await activationRanges(s, x);
    const [c1, c7, cAll] = await labelsByBatch(s, x, [1, 7, 2000]);
    expect(differing(c1!, cAll!)).toBe(0);
    expect(differing(c7!, cAll!)).toBe(0);
    const [c2threads] = await labelsByBatch(s, x, [333], 2);
    expect(differing(c2threads!, cAll!)).toBe(0);
    // And it is still the fp32 network, to int8 precision.
    const f = await createStudentPredictor(s, { precision: 'fp32' });
    const fp = (await f.predict(x)).labels!;
    await f.dispose();
    expect(differing(cAll!, fp)).toBeLessThan(0.03 * x.rows);
  });

  it('is the QDQ form onnxruntime fuses: every hidden layer one QGemm, no per-batch quantisation', async () => {
    const s = randomStudent([784, 64, 32, 10], 'uint8');
    const test = readMnist('t10k', 500);
    s.activationRanges = await activationRanges(s, test.x);
    const dir = await mkdtemp(join(tmpdir(), 'cmbn-qdq-'));
    try {
      const optimised = join(dir, 'optimised.onnx');
      const session = await ort.InferenceSession.create(studentGraph(s, { precision: 'int8' }).bytes, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimised });
      await session.release();
      const ops = onnxProto.onnx.ModelProto.decode(await readFile(optimised)).graph!.node!.map((n) => n.opType);
      expect(ops.filter((o) => o === 'QGemm')).toHaveLength(2);
      expect(ops).not.toContain('DynamicQuantizeLinear');
      expect(ops).not.toContain('DynamicQuantizeMatMul');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('saturates values beyond the calibrated range instead of wrapping, with an asymmetric zero point on float input', async () => {
    // One linear layer y = x·1 on float input calibrated on [-1, 3]: outside it the graph clamps.
    const s = randomStudent([1, 1], 'float32', 'embedding');
    s.layers[0] = { weight: Float32Array.of(1), bias: Float32Array.of(0), inDim: 1, outDim: 1, activation: 'linear' };
    s.activationRanges = await activationRanges(s, { rows: 2, cols: 1, dtype: 'float32', data: Float32Array.of(-1, 3) });
    expect(s.activationRanges).toEqual([[-1, 3]]);
    const q = uint8Quantisation(-1, 3);
    expect(q.zeroPoint).toBe(64);
    const p = await createStudentPredictor(s, { precision: 'int8', threads: 1 });
    const v = (await p.predict({ rows: 4, cols: 1, dtype: 'float32', data: Float32Array.of(-1, 3, 40, -40) })).values!;
    await p.dispose();
    const step = q.scale;
    expect(v[0]!).toBeCloseTo(-1, 1);
    expect(Math.abs(v[1]! - 3)).toBeLessThanOrEqual(step);
    expect(v[2]).toBe(v[1]);
    expect(v[3]).toBe(v[0]);
  });

  it('stops at an aborted signal, and turns the event loop between batches', async () => {
    const s = randomStudent([784, 16, 10], 'uint8');
    const x = readMnist('t10k', 5000).x;
    const ac = new AbortController();
    ac.abort(new Error('cancelled by test'));
    await expect(activationRanges(s, x, { signal: ac.signal })).rejects.toThrow(/cancelled by test/);
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    try {
      await activationRanges(s, x);
    } finally {
      clearInterval(tick);
    }
    // 5000 rows are three batches of 2048: a timer gets a turn at least between them.
    expect(turns).toBeGreaterThanOrEqual(2);
  });

  it('refuses an empty input, NaN input and a NaN activation with the layer named', async () => {
    const s = randomStudent([2, 2, 2], 'float32');
    await expect(activationRanges(s, { rows: 0, cols: 2, dtype: 'float32', data: new Float32Array(0) })).rejects.toThrow(/at least one input row/);
    await expect(activationRanges(s, { rows: 1, cols: 3, dtype: 'float32', data: Float32Array.of(1, 1, 1) })).rejects.toThrow(/3 columns, the student takes 2/);
    await expect(activationRanges(s, { rows: 2, cols: 2, dtype: 'float32', data: Float32Array.of(1, 1, 1, Number.NaN) })).rejects.toThrow(/row 1 holds NaN/);
    // (A NaN weight under a ReLU can come out as 0; a linear hidden layer passes it on.)
    s.layers[0]!.activation = 'linear';
    s.layers[0]!.weight[0] = Number.NaN;
    await expect(activationRanges(s, { rows: 1, cols: 2, dtype: 'float32', data: Float32Array.of(1, 1) })).rejects.toThrow(/layer 1's input is NaN/);
  });
});
