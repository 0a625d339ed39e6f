import { describe, expect, it } from 'vitest';
import type { Matrix } from '@cmbn/data';
import { DEFAULT_STUDENT_SPEC } from '@cmbn/distill';
import { predict, trainMbn } from '@cmbn/mbn';
import { createDenseBackend } from '@cmbn/kernels';
import { labelAgreement } from '@cmbn/metrics';
import { distillStudent } from './distill-student.ts';

const DIMS = 12;

/** Three blobs in 12 dims, point i in blob i mod 3, rows from `from` on (so two calls give disjoint points). */
function blobs(n: number, from: number): Matrix {
  const data = new Float32Array(n * DIMS);
  for (let i = 0; i < n; i++) {
    const j = from + i;
    for (let t = 0; t < DIMS; t++) data[i * DIMS + t] = (t % 3 === j % 3 ? 30 : 0) + 4 * Math.sin(j * 7.1 + t * 3.3);
  }
  return { rows: n, cols: DIMS, dtype: 'float32', data };
}

const spec = { ...DEFAULT_STUDENT_SPEC, hidden: [16], epochs: 4, learningRate: 1e-2, validationSplit: 0, patience: 4, batchSize: 16 };

describe('distillStudent: a transfer set (points MBN did not train on, labelled by its predict)', () => {
  it('trains exactly the student of the training points followed by the transfer rows with MBN predict labels', async () => {
    const x = blobs(60, 0);
    const transfer = blobs(45, 60);
    const mbn = await trainMbn(x, { V: 20, k1: 20, clusters: 3, seed: 4 }, { threads: 1 });
    const common = { classes: 3, spec, mbnModel: mbn.model, threads: 1, timingPoints: 20, studentTimingSeconds: 0.02, precision: 'fp32' as const };
    const progress: Array<[number, number]> = [];
    const withTransfer = await distillStudent({ ...common, x, mbnLabels: mbn.labels, mbnEmbedding: mbn.embedding, transfer, onAugment: (d, t) => progress.push([d, t]) });
    expect(withTransfer.transferred).toBe(45);
    expect(withTransfer.augmented).toBe(0);
    expect(progress.at(-1)).toEqual([45, 45]);

    // The same student, by hand: MBN's predict labels the transfer rows, appended after the training points.
    const backend = await createDenseBackend({ threads: 1 });
    const p = await predict(mbn.model, transfer, backend);
    await backend.dispose();
    const all = new Float32Array((x.rows + transfer.rows) * DIMS);
    all.set(x.data as Float32Array);
    all.set(transfer.data as Float32Array, x.rows * DIMS);
    const labels = Int32Array.from([...mbn.labels, ...p.labels]);
    const embedding = Float64Array.from([...mbn.embedding, ...p.embedding]);
    const byHand = await distillStudent({ ...common, x: { rows: x.rows + transfer.rows, cols: DIMS, dtype: 'float32', data: all }, mbnLabels: labels, mbnEmbedding: embedding, augment: 0 });
    expect(withTransfer.student.layers.map((l) => Array.from(l.weight))).toEqual(byHand.student.layers.map((l) => Array.from(l.weight)));

    // Without the transfer set the student differs (it saw 60 points, not 105).
    const without = await distillStudent({ ...common, x, mbnLabels: mbn.labels, mbnEmbedding: mbn.embedding });
    expect(without.transferred).toBe(0);
    expect(without.student.layers.map((l) => Array.from(l.weight))).not.toEqual(byHand.student.layers.map((l) => Array.from(l.weight)));
  }, 60_000);

  it('refuses a transfer set of other columns or dtype before any work', async () => {
    const x = blobs(30, 0);
    const mbn = await trainMbn(x, { V: 10, k1: 10, clusters: 3, seed: 1 }, { threads: 1 });
    const base = { x, mbnLabels: mbn.labels, mbnEmbedding: mbn.embedding, classes: 3, spec, mbnModel: mbn.model, threads: 1 };
    await expect(distillStudent({ ...base, transfer: { rows: 5, cols: DIMS + 1, dtype: 'float32', data: new Float32Array(5 * (DIMS + 1)) } })).rejects.toThrow(/13 float32 columns; the training points have 12 float32/);
    await expect(distillStudent({ ...base, transfer: { rows: 5, cols: DIMS, dtype: 'uint8', data: new Uint8Array(5 * DIMS) } })).rejects.toThrow(/12 uint8 columns/);
  }, 30_000);

  it("with an eval set, returns both labellings of the held-out points and MBN's embedding of them", async () => {
    const x = blobs(60, 0);
    const held = blobs(30, 200);
    const mbn = await trainMbn(x, { V: 20, k1: 20, clusters: 3, seed: 2 }, { threads: 1 });
    const r = await distillStudent({ x, mbnLabels: mbn.labels, mbnEmbedding: mbn.embedding, classes: 3, spec, mbnModel: mbn.model, threads: 1, studentTimingSeconds: 0.02, precision: 'fp32', evalSet: { x: held, name: 'held' } });
    const backend = await createDenseBackend({ threads: 1 });
    const p = await predict(mbn.model, held, backend);
    await backend.dispose();
    const ep = r.evalPredictions!;
    expect(ep.mbn).toEqual(p.labels);
    expect(ep.mbnEmbedding).toEqual(p.embedding);
    expect(ep.student).toHaveLength(30);
    expect(r.evaluation.on).toBe('eval');
    expect(r.evaluation.agreement).toBe(labelAgreement(ep.student, ep.mbn));
  }, 60_000);
});
