/**
 * The saved ONNX files are the graphs the predictor runs, they carry their signature in
 * metadata_props, and plain onnxruntime-node (no cmbn code) gets the predictor's outputs from them.
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activationRanges } from './calibrate.ts';
import { ONNX_SIGNATURE_KEY, ZOnnxSignature } from './onnx-files.ts';
import { createStudentPredictor } from './predictor.ts';
import { loadStudent, readStudentMeta, saveStudent } from './student-files.ts';
import type { StudentLayer, TrainedStudent } from './types.ts';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cmbn-onnx-files-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function student(kind: 'labels' | 'embedding', dtype: 'uint8' | 'float32'): TrainedStudent {
  const d = 12;
  const w = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(s * 13 + i * 2.3));
  const out = kind === 'labels' ? 4 : 3;
  const layers: StudentLayer[] = [
    { weight: w(d * 16, 1), bias: w(16, 2), inDim: d, outDim: 16, activation: 'relu' },
    { weight: w(16 * out, 3), bias: w(out, 4), inDim: 16, outDim: out, activation: kind === 'labels' ? 'softmax' : 'linear' },
  ];
  return {
    signature: { inputDims: d, inputDType: dtype, normalisation: { kind: 'scale', scale: dtype === 'uint8' ? 1 / 255 : 1 }, output: { kind, size: out } },
    backend: 'wasm',
    seconds: 0,
    epochs: 1,
    history: { loss: [1], valLoss: [1] },
    layers,
  };
}

function inputs(n: number, d: number, dtype: 'uint8' | 'float32') {
  const data = dtype === 'uint8' ? Uint8Array.from({ length: n * d }, (_, i) => (i * 97 + 31) % 256) : Float32Array.from({ length: n * d }, (_, i) => Math.cos(i * 1.3) * 2);
  return { rows: n, cols: d, dtype, data } as const;
}

describe('portable ONNX files', () => {
  for (const [kind, dtype, calibrated] of [
    ['labels', 'uint8', true],
    ['embedding', 'float32', true],
    ['labels', 'uint8', false],
    ['embedding', 'float32', false],
  ] as const) {
    it(`${kind} on ${dtype}, ${calibrated ? 'calibrated' : 'uncalibrated (saved before calibration)'}: model.onnx and model.int8.onnx run in bare onnxruntime with the predictor's outputs`, async () => {
      const dir = join(root, `${kind}-${dtype}-${calibrated}`);
      const s = student(kind, dtype);
      if (calibrated) s.activationRanges = await activationRanges(s, inputs(200, 12, dtype));
      await saveStudent(s, dir, { note: 'x' });
      expect((await loadStudent(dir)).activationRanges).toEqual(s.activationRanges);
      expect((await readdir(dir)).sort()).toEqual(['model.int8.onnx', 'model.json', 'model.onnx', 'student.json', 'weights.bin']);
      const sj = JSON.parse(await readFile(join(dir, 'student.json'), 'utf8'));
      const sig = ZOnnxSignature.parse(sj.onnx);
      expect(sig).toMatchObject({ input: { name: 'X', shape: ['n', 12], dtype }, output: { kind } });
      expect(kind === 'labels' ? sig.output.classes : sig.output.embeddingSize).toBe(s.signature.output.size);
      const x = inputs(50, 12, dtype);
      for (const precision of ['fp32', 'int8'] as const) {
        const bytes = await readFile(join(dir, sig.files[precision]));
        const model = onnxProto.onnx.ModelProto.decode(bytes);
        const props = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
        expect(JSON.parse(props[ONNX_SIGNATURE_KEY]!)).toEqual(sig);
        expect(props['cmbn.precision']).toBe(precision);
        if (precision === 'int8') {
          const ops = new Set(model.graph!.node!.map((n) => n.opType));
          // Calibrated: the standard QDQ form of a statically quantised net; before calibration: per-batch ranges.
          expect([ops.has('QuantizeLinear'), ops.has('DequantizeLinear'), ops.has('DynamicQuantizeLinear')]).toEqual([calibrated, calibrated, !calibrated]);
        }

        const session = await ort.InferenceSession.create(bytes);
        const feeds = { [sig.input.name]: new ort.Tensor(sig.input.dtype, x.data, [x.rows, x.cols]) };
        const got = (await session.run(feeds))[sig.output.name]!;
        await session.release();
        const p = await createStudentPredictor(await loadStudent(dir), { precision, threads: 1 });
        const want = await p.predict(x);
        await p.dispose();
        // More than one label: a constant answer would match whatever the weights were.
        if (kind === 'labels') expect(new Set(got.data as Int32Array).size).toBeGreaterThan(1);
        if (kind === 'labels') expect(Array.from(got.data as Int32Array)).toEqual(Array.from(want.labels!));
        else expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want.values!));
      }
      expect(await readStudentMeta(dir)).toEqual({ note: 'x' });
    });
  }

  it('saving twice writes the same bytes; a student.json with a bad field is refused naming it', async () => {
    const a = join(root, 'a');
    const b = join(root, 'b');
    await saveStudent(student('labels', 'uint8'), a);
    await saveStudent(student('labels', 'uint8'), b);
    for (const f of ['model.onnx', 'model.int8.onnx']) expect((await readFile(join(a, f))).equals(await readFile(join(b, f)))).toBe(true);
    const sj = JSON.parse(await readFile(join(b, 'student.json'), 'utf8'));
    sj.signature.inputDims = 0;
    await writeFile(join(b, 'student.json'), JSON.stringify(sj));
    await expect(loadStudent(b)).rejects.toThrow(/student\.json: signature\.inputDims/);
  });
});
