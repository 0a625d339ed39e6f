import { describe, expect, it } from 'vitest';
import type { Matrix } from '@cmbn/data';
import { DEFAULT_STUDENT_SPEC } from '@cmbn/distill';
import { assignNearest, assignWithStudentHead, registerApplication, trainMbn, type Application, type KMeansState } from '@cmbn/mbn';
import { distillStudent } from './distill-student.ts';
import { softClusterTargets, softTargetsFromHead } from './soft-targets.ts';
import { centroidHead, createStudentLabeler, headForModel, studentHeadFrom } from './student-labeler.ts';

const DIMS = 16;

/** Four well-separated blobs in 16 dims, point i in blob i mod 4 (a known answer). */
function blobs(perBlob: number): { x: Matrix; truth: Int32Array } {
  const n = perBlob * 4;
  const data = new Float32Array(n * DIMS);
  const truth = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    truth[i] = i % 4;
    for (let t = 0; t < DIMS; t++) data[i * DIMS + t] = (t % 4 === i % 4 ? 40 : 0) + Math.sin(i * 7.1 + t * 3.3);
  }
  return { x: { rows: n, cols: DIMS, dtype: 'float32', data }, truth };
}

/** An application without a student head ("embedding only" in spirit): every point gets label 0. */
const oneLabel: Application<null> = {
  kind: 'one-label',
  fit: () => null,
  assign: (_s, _e, n) => new Int32Array(n),
  sections: () => [],
  read: () => null,
};
registerApplication(oneLabel);

const spec = { ...DEFAULT_STUDENT_SPEC, hidden: [32], epochs: 25, learningRate: 1e-2, validationSplit: 0, patience: 25, batchSize: 32 };

describe("the student head goes through the MBN application's interface", () => {
  it('k-means: student.json head is the published nearest-centroid JSON, and it labels like MBN', async () => {
    const { x } = blobs(30);
    const r = await trainMbn(x, { V: 20, k1: 30, clusters: 4, seed: 2 }, { threads: 1 });
    const { k, centroids } = r.model.application.state as KMeansState;
    const head = headForModel(r.model)!;
    // Byte for byte what student.json held before the seam (centroidHead of the model's centroids).
    expect(JSON.stringify(head)).toBe(JSON.stringify({ kind: 'nearest-centroid', k, centroids: Array.from(centroids) }));
    expect(head).toEqual(centroidHead(centroids, k));
    const c = r.model.pca.c;
    expect(assignWithStudentHead(studentHeadFrom(head), r.embedding, x.rows, c)).toEqual(r.labels);
    expect(assignNearest(r.embedding, x.rows, c, centroids, k)).toEqual(r.labels);
    const mbnHead = studentHeadFrom(head);
    expect(softTargetsFromHead(r.embedding, x.rows, c, mbnHead, 0.25)).toEqual(softClusterTargets(r.embedding, x.rows, c, centroids, k, 0.25));
    expect(() => softTargetsFromHead(r.embedding, x.rows, c + 1, mbnHead, 0.25)).toThrow(/need 4×/);
  });

  it('distillStudent: an embedding student carries the k-means head; an application without a head refuses that target', async () => {
    const { x, truth } = blobs(40);
    const km = await trainMbn(x, { V: 20, k1: 40, clusters: 4, seed: 2 }, { threads: 1 });
    const common = { x, mbnLabels: km.labels, mbnEmbedding: km.embedding, classes: 4, trainTrueLabels: truth, threads: 1, timingPoints: 40, studentTimingSeconds: 0.05, precision: 'fp32' as const };
    const emb = await distillStudent({ ...common, spec: { ...spec, target: 'embedding' }, mbnModel: km.model });
    expect(emb.head).toEqual(headForModel(km.model));
    // The labeler turns the student's embedding into labels through the head exactly as k-means would.
    const labeler = await createStudentLabeler(emb.student, { head: emb.head!, threads: 1, precision: 'fp32' });
    try {
      const out = await labeler.predict(x);
      const { k, centroids } = km.model.application.state as KMeansState;
      expect(out.labels).toEqual(assignNearest(Float64Array.from(out.values!), x.rows, km.model.pca.c, centroids, k));
    } finally {
      await labeler.dispose();
    }
    // Quality is not this test's subject; well above chance (~0.25–0.4) says the head is the model's own.
    expect(emb.evaluation.agreement).toBeGreaterThan(0.6);

    const none = await trainMbn(x, { V: 20, k1: 40, clusters: 4, seed: 2, application: 'one-label' }, { threads: 1 });
    expect(none.labels.every((l) => l === 0)).toBe(true);
    expect(headForModel(none.model)).toBeUndefined();
    await expect(distillStudent({ ...common, mbnLabels: none.labels, mbnEmbedding: none.embedding, spec: { ...spec, target: 'embedding' }, mbnModel: none.model })).rejects.toThrow(
      /application 'one-label' has none/,
    );
  }, 60_000);
});
