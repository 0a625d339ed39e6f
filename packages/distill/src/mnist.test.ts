/**
 * Real-data checks on MNIST (kept small for speed): training works (true labels as the target),
 * both prediction runtimes agree, and the saved files load with tf.loadLayersModel.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTf } from './backend.ts';
import { readMnist } from './mnist-fixture.ts';
import { createStudentPredictor } from './predictor.ts';
import { DEFAULT_STUDENT_SPEC } from './spec.ts';
import { isStudentDir, loadStudent, saveStudent } from './student-files.ts';
import { trainStudent } from './train.ts';
import type { TrainedStudent } from './types.ts';

const train = readMnist('train', 3000);
const test = readMnist('t10k', 2000);
let student: TrainedStudent;
let dir: string;

function accuracy(pred: Int32Array, truth: Int32Array): number {
  let hit = 0;
  for (let i = 0; i < truth.length; i++) if (pred[i] === truth[i]) hit++;
  return hit / truth.length;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cmbn-student-'));
  const { tf } = await loadTf();
  const before = tf.memory().numTensors;
  student = await trainStudent(train.x, { kind: 'labels', labels: train.labels, classes: 10 }, { ...DEFAULT_STUDENT_SPEC, epochs: 5 });
  expect(tf.memory().numTensors).toBe(before);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('student on MNIST (3,000 training digits, true labels)', () => {
  it('reaches > 0.85 held-out accuracy, the same on onnxruntime and tfjs', async () => {
    const ort = await createStudentPredictor(student, { runtime: 'onnxruntime', threads: 2, precision: 'fp32' });
    const tfp = await createStudentPredictor(student, { runtime: 'tfjs' });
    const a = (await ort.predict(test.x)).labels!;
    const b = (await tfp.predict(test.x)).labels!;
    await ort.dispose();
    await tfp.dispose();
    expect(accuracy(a, test.labels)).toBeGreaterThan(0.85);
    // The graphs differ only in float rounding (ORT folds 1/255 into W0 and sums in another order),
    // so a disagreement needs two logits within ~1e-6: expect none on 2,000 digits.
    expect(accuracy(a, b)).toBe(1);
  });

  it('int8 onnxruntime prediction (quantised weights, uint8 activations) matches fp32 on ≥ 99% of digits', async () => {
    const fp32 = await createStudentPredictor(student, { precision: 'fp32', threads: 2 });
    const int8 = await createStudentPredictor(student, { precision: 'int8', threads: 2 });
    const a = (await fp32.predict(test.x)).labels!;
    const b = (await int8.predict(test.x)).labels!;
    await fp32.dispose();
    await int8.dispose();
    expect(accuracy(b, a)).toBeGreaterThanOrEqual(0.99);
    expect(accuracy(b, test.labels)).toBeGreaterThan(0.85);
  });

  it('saves tfjs layers-model files that tf.loadLayersModel reads, and loads back bit-exactly', async () => {
    const { files } = await saveStudent(student, dir, { source: 'mnist-true-labels' });
    expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(['model.int8.onnx', 'model.json', 'model.onnx', 'student.json', 'weights.bin']);
    expect(await isStudentDir(dir)).toBe(true);
    expect(await isStudentDir(tmpdir())).toBe(false);
    const meta = JSON.parse(await readFile(join(dir, 'student.json'), 'utf8'));
    expect(meta).toMatchObject({ format: 'cmbn-student', version: 1, signature: student.signature, meta: { source: 'mnist-true-labels' } });

    const loaded = await loadStudent(dir);
    expect(loaded.layers).toEqual(student.layers);
    expect(loaded.signature).toEqual(student.signature);
    expect(loaded.history).toEqual(student.history);

    const { tf } = await loadTf();
    const mj = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    const bin = await readFile(join(dir, 'weights.bin'));
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: mj.modelTopology,
        weightSpecs: mj.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      }),
    );
    const n = 500;
    const xs = tf.tidy(() => tf.mul(tf.tensor2d(Float32Array.from(test.x.data.subarray(0, n * 784)), [n, 784]), 1 / 255));
    const probs = model.predict(xs) as Tensor;
    const viaTfjs = (await tf.argMax(probs, 1).data()) as Int32Array;
    const p = await createStudentPredictor(loaded, { precision: 'fp32' });
    const viaOrt = (await p.predict({ rows: n, cols: 784, dtype: 'uint8', data: test.x.data.subarray(0, n * 784) })).labels!;
    await p.dispose();
    expect(accuracy(viaTfjs, viaOrt)).toBe(1);
    tf.dispose([xs, probs]);
    model.dispose();
  });
});
