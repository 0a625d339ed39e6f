import { describe, expect, it } from 'vitest';
import { createDenseBackend } from '@cmbn/kernels';
import { clusteringAccuracy } from '@cmbn/metrics';
import {
  applicationKinds,
  assignApplication,
  assignWithStudentHead,
  fitApplication,
  registerApplication,
  studentHeadMargins,
  studentHeadOf,
  type Application,
} from './application.ts';
import { kmeansApplication, type KMeansState } from './application-kmeans.ts';
import { ContainerError } from './container.ts';
import { deserializeModel, serializeModel } from './model.ts';
import { parseParams, ParamsError } from './params.ts';
import { predict } from './predict.ts';
import { trainMbn } from './train.ts';
import { gaussianBlobs, mnistSlice } from './test-fixtures.ts';

const header = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(12, 12 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true)));

/**
 * The second application, in the test only: the first `clusters` training points of the embedding
 * are the centres, labels by the nearest of them. It proves the seam: nothing outside this
 * registration knows it, yet training, the model file, predict and the student head all carry it.
 */
interface FirstKState {
  k: number;
  points: Float64Array;
}
const firstK: Application<FirstKState> = {
  kind: 'first-k',
  fit(embedding, _n, dim, params) {
    return { k: params.clusters, points: embedding.slice(0, params.clusters * dim) };
  },
  assign(state, embedding, n, dim) {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = Infinity;
      for (let j = 0; j < state.k; j++) {
        let d = 0;
        for (let t = 0; t < dim; t++) d += (embedding[i * dim + t]! - state.points[j * dim + t]!) ** 2;
        if (d < best) {
          best = d;
          out[i] = j;
        }
      }
    }
    return out;
  },
  sections: (state) => [['first-k.points', state.points]],
  meta: (state) => ({ k: state.k }),
  read(meta, file, dim, what) {
    const k = (meta as { k?: unknown } | undefined)?.k;
    if (typeof k !== 'number') throw new ContainerError(`${what}: first-k needs meta.k`);
    const points = file.section<Float64Array>('first-k.points', 'f64');
    if (points.length !== k * dim) throw new ContainerError(`${what}: first-k.points has ${points.length} values, need ${k}×${dim}`);
    return { k, points };
  },
  studentHead: (state) => ({ kind: 'nearest-centroid', k: state.k, centroids: state.points }),
};
registerApplication(firstK);

describe('k-means application: byte compatibility', () => {
  // sha256 of model.cmbn from these exact trainings, computed with the code at 450676d (before the
  // application seam); a k-means model must keep its bytes, so these must never change. (The output
  // step is named: it was the default then, and the default has since become 'toolbox'.)
  const GOLDEN = [
    { name: 'float32 blobs', data: () => gaussianBlobs(60, 4, 16, 1).x, params: { V: 20, k1: 40, clusters: 4, seed: 3, outputStep: 'centred-pca' as const }, hash: '5d77b2260ce95f3fc74ba400609fa2d98e55f40fb33c4d781614f211f891dd9b', bytes: 31960 },
    {
      name: 'uint8 MNIST, uncentred PCA, 3 restarts',
      data: () => mnistSlice(300).x,
      params: { V: 8, clusters: 5, kmeansRestarts: 3, outputStep: 'uncentred-pca' as const, seed: 11 },
      hash: '2f80986d97394e60f1a379e8b8a19fd9b11112c01d285658247cd027d6875a67',
      bytes: 248352,
    },
  ];
  for (const g of GOLDEN) {
    it(`${g.name}: the modelHash is the one written before the seam, and the file reads back to the same bytes`, async () => {
      const r = await trainMbn(g.data(), g.params, { threads: 1 });
      expect(r.modelHash).toBe(g.hash);
      expect(r.modelBytes.length).toBe(g.bytes);
      expect(header(r.modelBytes)).not.toContain('"application"');
      expect(header(r.modelBytes)).toContain('"name":"kmeans.centroids"');
      const back = deserializeModel(r.modelBytes);
      expect(back.application.kind).toBe('kmeans');
      expect((back.application.state as KMeansState).k).toBe(g.params.clusters);
      expect(serializeModel(back)).toEqual(r.modelBytes);
    });
  }

  it("an explicit application: 'kmeans' is the same run as none (params are part of the hash)", () => {
    expect(parseParams({ application: 'kmeans' })).toEqual(parseParams({}));
    expect(Object.keys(parseParams({ application: 'kmeans' }))).not.toContain('application');
    expect(parseParams({ application: 'first-k' }).application).toBe('first-k');
    expect(() => parseParams({ application: 'gmm' })).toThrow(ParamsError);
    expect(() => parseParams({ application: 'gmm' })).toThrow(/unknown application 'gmm' \(known: kmeans, first-k\)/);
  });

  it("the k-means student head labels exactly like the application's assign", () => {
    const { x } = gaussianBlobs(30, 3, 5, 4);
    const e = Float64Array.from(x.data);
    const fitted = fitApplication(e, x.rows, x.cols, parseParams({ clusters: 3, kmeansRestarts: 2 }), 9);
    const head = studentHeadOf(fitted)!;
    expect(head.kind).toBe('nearest-centroid');
    const labels = assignApplication(fitted, e, x.rows, x.cols);
    expect(assignWithStudentHead(head, e, x.rows, x.cols)).toEqual(labels);
    expect(new Set(labels).size).toBe(3);
    expect(() => assignWithStudentHead({ ...head, k: 4 }, e, x.rows, x.cols)).toThrow(/need 4×5/);
  });

  it('the nearest-centroid margin is the gap between the two nearest centroid distances', () => {
    const head = { kind: 'nearest-centroid' as const, k: 3, centroids: Float64Array.from([0, 0, 4, 0, 0, 10]) };
    // (1,0): distances 1, 3, √101 → 2; (2,0): on the boundary of the first two → 0; (0,9): 1 from the third, 9 from the first → 8.
    const e = Float64Array.from([1, 0, 2, 0, 0, 9]);
    expect(Array.from(studentHeadMargins(head, e, 3, 2))).toEqual([2, 0, 8]);
    expect(studentHeadMargins({ ...head, k: 1, centroids: Float64Array.from([0, 0]) }, e, 3, 2)[0]).toBe(Infinity);
    expect(() => studentHeadMargins({ ...head, k: 4 }, e, 3, 2)).toThrow(/need 4×2/);
    expect(() => studentHeadMargins(head, e, 4, 2)).toThrow(/embedding has 6 values, need 4×2/);
  });
});

describe('a second application through the seam (first-k, registered in this test only)', () => {
  it('trains, serialises as a tagged section, reads back, and predict reproduces the training labels', async () => {
    const { x, labels: truth } = gaussianBlobs(60, 4, 16, 1);
    const params = { V: 20, k1: 40, clusters: 4, seed: 3, outputStep: 'centred-pca' as const, application: 'first-k' };
    const r = await trainMbn(x, params, { threads: 1 });
    expect(r.model.application.kind).toBe('first-k');
    // The first 4 blob points are one of each blob (point i is in blob i mod 4), so first-k is exact here too.
    expect(clusteringAccuracy(truth, r.labels)).toBe(1);
    const h = header(r.modelBytes);
    expect(h).toContain('"application":{"kind":"first-k","meta":{"k":4}}');
    expect(h).toContain('"name":"first-k.points"');
    expect(h).not.toContain('kmeans.centroids');

    const back = deserializeModel(r.modelBytes, 'first-k.cmbn');
    expect(back.application.kind).toBe('first-k');
    expect((back.application.state as FirstKState).points).toEqual((r.model.application.state as FirstKState).points);
    expect(serializeModel(back)).toEqual(r.modelBytes);
    const backend = await createDenseBackend({ threads: 1 });
    try {
      const p = await predict(back, x, backend);
      expect(p.labels).toEqual(r.labels);
    } finally {
      await backend.dispose();
    }
    expect(assignWithStudentHead(studentHeadOf(back.application)!, r.embedding, x.rows, back.pca.c)).toEqual(r.labels);

    // Same data, params and seed, another application: a different model, and k-means is unaffected.
    const km = await trainMbn(x, { ...params, application: undefined }, { threads: 1 });
    expect(km.modelHash).toBe('5d77b2260ce95f3fc74ba400609fa2d98e55f40fb33c4d781614f211f891dd9b');
    expect(r.modelHash).not.toBe(km.modelHash);
  });

  it('names what is wrong with a model whose application this build does not know or whose tag is not canonical', async () => {
    const { x } = gaussianBlobs(20, 2, 4, 2);
    const r = await trainMbn(x, { V: 6, k1: 8, clusters: 2, seed: 1, application: 'first-k' }, { threads: 1 });
    const text = Buffer.from(r.modelBytes).toString('latin1');
    // Same-length edits of the header keep its length and every section offset valid.
    const edit = (from: string, to: string) => {
      expect(to.length).toBe(from.length);
      expect(text).toContain(from);
      return new Uint8Array(Buffer.from(text.replaceAll(from, to), 'latin1'));
    };
    expect(() => deserializeModel(edit('"application":"first-k"', '"application":"first-q"'), 'm.cmbn')).toThrow(
      /m\.cmbn: the header's application is 'first-k' but its params say 'first-q'/,
    );
    // Both the params and the tag name it (the section is "first-k.points", which this leaves alone).
    expect(() => deserializeModel(edit('"first-k"', '"first-q"'), 'm.cmbn')).toThrow(/m\.cmbn: application 'first-q' is not known to this build \(known: kmeans, first-k\)/);
    expect(() => deserializeModel(edit('{"kind":"first-k"', '{"kind":"kmeans" '), 'm.cmbn')).toThrow(/m\.cmbn: application 'kmeans' is written untagged/);
    expect(() => deserializeModel(edit('"meta":{"k":2}', '"meta":{"q":2}'), 'm.cmbn')).toThrow(/m\.cmbn: first-k needs meta\.k/);
  });

  it('registration checks the kind, and serialisation the section names', () => {
    expect(applicationKinds()).toEqual(['kmeans', 'first-k']);
    expect(() => registerApplication({ ...kmeansApplication })).toThrow(/already registered/);
    for (const kind of ['pca', 'layer1', 'Bad', '']) expect(() => registerApplication({ ...firstK, kind })).toThrow(/not allowed/);
    registerApplication({ ...firstK, kind: 'leaky', sections: (s: FirstKState) => [['pca.mean', s.points]] });
    const model = { ...modelStub(), application: { kind: 'kmeans', state: { k: 1, centroids: new Float64Array(2) } } };
    expect(deserializeModel(serializeModel(model)).application.state).toEqual(model.application.state);
    expect(() => serializeModel({ ...model, application: { kind: 'leaky', state: { k: 1, points: new Float64Array(2) } } })).toThrow(
      /application 'leaky' wrote section 'pca.mean'; its sections must be named 'leaky.<name>'/,
    );
  });
});

/** A layer-less model, enough for the container's header and the application sections. */
function modelStub() {
  return {
    params: parseParams({ clusters: 1 }),
    ks: [],
    trainPoints: 1,
    inputDims: 2,
    inputDType: 'float32' as const,
    layers: [],
    pca: { dim: 2, c: 2, mean: new Float64Array(2), basis: new Float64Array(4), eigenvalues: new Float64Array(2) },
  };
}
