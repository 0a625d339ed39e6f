/**
 * The conv student: trains (seeded), and its three runtimes agree — the ONNX graphs (Gather → Reshape →
 * dense ops), the tfjs predictor (im2col), and the saved tfjs layers model (a real Conv2D) — which checks
 * the im2col order against tfjs's own convolution. Bad architectures are refused with clear errors.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkArchitecture, type StudentArchitecture } from './architecture.ts';
import { loadTf } from './backend.ts';
import { createStudentPredictor } from './predictor.ts';
import type { StudentSpec } from './spec.ts';
import { loadStudent, saveStudent } from './student-files.ts';
import { blobs } from './test-blobs.ts';
import { trainStudent } from './train.ts';

const conv: StudentArchitecture = { kind: 'conv', filters: 4, kernel: 3, stride: 2 };
const spec: StudentSpec = { architecture: conv, hidden: [16], target: 'labels', epochs: 15, batchSize: 32, learningRate: 5e-3, validationSplit: 0.2, patience: 3, seed: 3 };

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cmbn-conv-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** 9×9 "images": blobs in 81 dims, as uint8. */
function images(n: number, seed: number) {
  const b = blobs(n, 81, 3, seed, 0.1);
  const data = Uint8Array.from(b.x.data, (v) => Math.max(0, Math.min(255, Math.round((v + 1.5) * 80))));
  return { x: { rows: n, cols: 81, dtype: 'uint8' as const, data }, labels: b.labels };
}

describe('conv student', () => {
  it('trains to the blobs, deterministically, and every runtime gives the same labels', async () => {
    const { tf } = await loadTf();
    // One draw of blob centres: the first 600 rows train, the last 300 are held out.
    const all = images(900, 1);
    const train = { x: { ...all.x, rows: 600, data: all.x.data.subarray(0, 600 * 81) }, labels: all.labels.subarray(0, 600) };
    const held = { x: { ...all.x, rows: 300, data: all.x.data.subarray(600 * 81) }, labels: all.labels.subarray(600) };
    const before = tf.memory().numTensors;
    const student = await trainStudent(train.x, { kind: 'labels', labels: train.labels, classes: 3 }, spec);
    expect(tf.memory().numTensors).toBe(before);
    expect(student.architecture).toEqual(conv);
    // 9×9 → 4×4 positions (stride 2, no padding) × 4 filters = 64 inputs of the hidden layer.
    expect(student.layers.map((l) => [l.inDim, l.outDim, l.activation])).toEqual([[9, 4, 'relu'], [64, 16, 'relu'], [16, 3, 'softmax']]);
    const again = await trainStudent(train.x, { kind: 'labels', labels: train.labels, classes: 3 }, spec);
    expect(again.layers[0]!.weight).toEqual(student.layers[0]!.weight);

    const dir = join(root, 'conv');
    await saveStudent(student, dir);
    const loaded = await loadStudent(dir);
    expect(loaded.architecture).toEqual(conv);
    expect(loaded.layers).toEqual(student.layers);
    // Calibrated (trainStudent) through the conv's patches, and kept by the files: the int8 graph below is the QDQ one.
    expect(loaded.activationRanges).toHaveLength(student.layers.length);
    expect(loaded.activationRanges).toEqual(student.activationRanges);

    const x = held.x;
    const ortP = await createStudentPredictor(loaded, { precision: 'fp32', threads: 1 });
    const want = Array.from((await ortP.predict(x)).labels!);
    await ortP.dispose();
    expect(want.filter((l, i) => l === held.labels[i]).length / 300).toBeGreaterThan(0.95);
    const tfjsP = await createStudentPredictor(loaded, { runtime: 'tfjs' });
    expect(Array.from((await tfjsP.predict(x)).labels!)).toEqual(want);
    await tfjsP.dispose();

    const session = await ort.InferenceSession.create(await readFile(join(dir, 'model.onnx')));
    const out = await session.run({ X: new ort.Tensor('uint8', x.data, [300, 81]) });
    await session.release();
    expect(Array.from(out.labels!.data as Int32Array)).toEqual(want);
    const int8 = await ort.InferenceSession.create(await readFile(join(dir, 'model.int8.onnx')));
    const out8 = Array.from((await int8.run({ X: new ort.Tensor('uint8', x.data, [300, 81]) })).labels!.data as Int32Array);
    await int8.release();
    const p8 = await createStudentPredictor(loaded, { threads: 1 });
    expect(Array.from((await p8.predict(x)).labels!)).toEqual(out8);
    await p8.dispose();
    expect(out8.filter((l, i) => l === want[i]).length).toBeGreaterThanOrEqual(297);

    // The saved tfjs layers model runs a real Conv2D on normalised input.
    const mj = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const weights = await readFile(join(dir, 'weights.bin'));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: mj.weightsManifest[0].weights, weightData: new Uint8Array(weights).buffer }),
    );
    const viaLayers = tf.tidy(() => tf.argMax(model.predict(tf.tensor2d(Float32Array.from(x.data, (v) => v / 255), [300, 81])) as never, 1).dataSync());
    model.dispose();
    const differ = Array.from(viaLayers).filter((l, i) => l !== want[i]).length;
    // float32 summation order differs between Conv2D and the GEMM on patches: a near-tie may flip.
    expect(differ).toBeLessThanOrEqual(1);
  });

  it('refuses non-square input, oversized kernels and unknown architectures with clear errors', async () => {
    const b = blobs(40, 50, 2, 1);
    const target = { kind: 'labels' as const, labels: b.labels, classes: 2 };
    await expect(trainStudent(b.x, target, spec)).rejects.toThrow(/conv student needs square single-channel images; rows of 50 columns are not a square/);
    expect(() => checkArchitecture({ kind: 'conv', filters: 4, kernel: 11, stride: 1 }, 81)).toThrow(/kernel 11 is larger than the 9×9 image/);
    expect(() => checkArchitecture({ kind: 'transformer' })).toThrow(/unknown student architecture "transformer" \(known: mlp, conv\)/);
    expect(() => checkArchitecture({ kind: 'conv', filters: 0, kernel: 3, stride: 1 })).toThrow(/architecture conv: filters/);
  });
});
