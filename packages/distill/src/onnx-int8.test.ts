/**
 * The int8 graph must compute the same on every x86-64 CPU a pulled student is deployed to. Without
 * VNNI, onnxruntime's uint8×int8 MatMulInteger adds pairs of products into a saturating int16, so
 * full-range int8 weights (±127) against uint8 activations near 255 overflow there. The weights are
 * therefore 7-bit (onnx-student.ts INT8_WEIGHT_MAX). The worst case below (every pixel 255, every
 * weight at the code's limit) checks the bound itself, independently of the CPU under the test, and
 * the int8 graph against exact arithmetic, which fails on an AVX2-only CPU if the bound is violated.
 */
import { describe, expect, it } from 'vitest';
import { activationRanges } from './calibrate.ts';
import { INT8_WEIGHT_MAX, quantizeColumns, uint8Quantisation } from './onnx-student.ts';
import { createStudentPredictor } from './predictor.ts';
import type { TrainedStudent } from './types.ts';

describe('int8 weights', () => {
  it('never pair two products past int16 (2 · 255 · max code ≤ 32767)', () => {
    expect(2 * 255 * INT8_WEIGHT_MAX).toBeLessThanOrEqual(32_767);
    const w = Float32Array.from({ length: 64 * 8 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));
    const { q } = quantizeColumns(w, 64, 8);
    expect(Math.max(...Array.from(q, Math.abs))).toBe(INT8_WEIGHT_MAX);
  });

  it('gives exact sums on saturating inputs: all-255 pixels against weights at the limit', async () => {
    const d = 256;
    const out = 2;
    // Column 0 all +1, column 1 alternating ±1: every product is at the code's extreme.
    const weight = Float32Array.from({ length: d * out }, (_, i) => (i % out === 0 ? 1 : (Math.floor(i / out) % 2 ? -1 : 1)));
    const student: TrainedStudent = {
      signature: { inputDims: d, inputDType: 'uint8', normalisation: { kind: 'scale', scale: 1 / 255 }, output: { kind: 'embedding', size: out } },
      backend: 'wasm',
      seconds: 0,
      epochs: 1,
      history: { loss: [0], valLoss: [0] },
      layers: [{ weight, bias: new Float32Array(out), inDim: d, outDim: out, activation: 'linear' }],
    };
    const x = new Uint8Array(3 * d);
    x.fill(255, 0, d); // row 0: all 255 → sums 256 and 0
    for (let i = 0; i < d; i++) x[d + i] = i % 2 ? 0 : 255; // row 1: 255 where column 1 is +1 → 128 and 128
    for (let i = 0; i < d; i++) x[2 * d + i] = 200; // row 2: all 200 → 200.8 and 0
    const p = await createStudentPredictor(student, { runtime: 'onnxruntime', precision: 'int8', threads: 1 });
    const values = (await p.predict({ rows: 3, cols: d, dtype: 'uint8', data: x })).values!;
    await p.dispose();
    const exact = [256, 0, 128, 128, (200 / 255) * 256, 0];
    for (let i = 0; i < exact.length; i++) expect(values[i]!).toBeCloseTo(exact[i]!, 3);

    // Calibrated, the same extreme layer is a hidden QDQ layer (onnxruntime's QGemm, the same u8×s8
    // kernels), followed by an identity layer: exact up to the half step of its uint8 output code.
    const twoLayers: TrainedStudent = {
      ...student,
      layers: [
        { ...student.layers[0]!, activation: 'relu' },
        { weight: Float32Array.of(1, 0, 0, 1), bias: new Float32Array(out), inDim: out, outDim: out, activation: 'linear' },
      ],
    };
    const xs = { rows: 3, cols: d, dtype: 'uint8' as const, data: x };
    twoLayers.activationRanges = await activationRanges(twoLayers, xs);
    const q = await createStudentPredictor(twoLayers, { runtime: 'onnxruntime', precision: 'int8', threads: 1 });
    const qValues = (await q.predict(xs)).values!;
    await q.dispose();
    const halfStep = uint8Quantisation(...twoLayers.activationRanges[1]!).scale / 2;
    for (let i = 0; i < exact.length; i++) expect(Math.abs(qValues[i]! - exact[i]!)).toBeLessThanOrEqual(halfStep + 1e-3);
  });
});
