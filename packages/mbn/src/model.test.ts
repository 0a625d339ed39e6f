import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDenseBackend, nearestCentresSparse } from '@cmbn/kernels';
import { bitsFor, packBits, unpackBits } from './bitpack.ts';
import { encodeContainer } from './container.ts';
import { drawClustering, featureCount, gatherCodeRows, type CodeInput } from './layer.ts';
import { bitsetBytes, deserializeModel, MODEL_FORMAT_VERSION, redrawFeatureBits, serializeModel, type MbnModel } from './model.ts';
import { computeShard } from './shard.ts';
import { denseInput, trainMbn } from './train.ts';
import { mnistSlice } from './test-fixtures.ts';

/** The version-1 writer (u16 banks, stored feature bitsets), kept here to test that v1 files still read. */
function serializeV1(model: MbnModel): Uint8Array {
  const { outputStep: _unused, ...params } = model.params;
  const header = {
    format: 'cmbn-mbn',
    version: 1,
    params,
    ks: model.ks,
    trainPoints: model.trainPoints,
    inputDims: model.inputDims,
    inputDType: model.inputDType,
    layers: model.layers.map(({ layer, k, V, nFeatures, input, bankRows }) => ({ layer, k, V, nFeatures, input, bankRows })),
    pca: { dim: model.pca.dim, c: model.pca.c },
    clusters: model.params.clusters,
  };
  const sections: [string, Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array][] = [];
  model.layers.forEach((l) => sections.push([`layer${l.layer}.bank`, l.bank], [`layer${l.layer}.features`, l.featureBits], [`layer${l.layer}.centres`, l.centres]));
  sections.push(['pca.mean', model.pca.mean], ['pca.basis', model.pca.basis], ['pca.eigenvalues', model.pca.eigenvalues], ['kmeans.centroids', model.centroids]);
  return encodeContainer(new TextEncoder().encode('CMBNMDL\x01'), header, sections);
}

describe('bit packing', () => {
  it('bitsFor is ⌈log₂ k⌉, at least 1', () => {
    expect([1, 2, 3, 4, 5, 44, 1428, 65535, 65536].map(bitsFor)).toEqual([1, 1, 2, 2, 3, 6, 11, 16, 16]);
  });
  it('property: unpack(pack(x)) = x for every width', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.array(fc.nat(), { maxLength: 300 }), (bits, raw) => {
        const values = Uint16Array.from(raw, (v) => v % (1 << bits));
        const words = packBits(values, bits);
        expect(words.length).toBe(Math.ceil((values.length * bits) / 32));
        expect(unpackBits(words, bits, values.length)).toEqual(values);
      }),
      { numRuns: 300 },
    );
  });
  it('refuses a value that does not fit', () => {
    expect(() => packBits(Uint16Array.from([4]), 2)).toThrow(RangeError);
  });
});

describe('model format', () => {
  it('v2: packed banks and redrawn bitsets give back the same model, smaller, with the same predictions path', async () => {
    const { x } = mnistSlice(800);
    const r = await trainMbn(x, { V: 30, seed: 5 }, { threads: 2 });
    const bytes = r.modelBytes;
    const back = deserializeModel(bytes);
    expect(back.layers.length).toBe(r.model.layers.length);
    back.layers.forEach((l, i) => {
      const o = r.model.layers[i]!;
      expect(l.bank).toEqual(o.bank);
      expect(l.featureBits).toEqual(o.featureBits);
      expect(l.centres).toEqual(o.centres);
    });
    expect(serializeModel(back)).toEqual(bytes);
    const v1 = serializeV1(r.model);
    expect(bytes.length).toBeLessThan(v1.length);
    expect(new TextDecoder().decode(bytes.subarray(12, 200))).toContain(`"version":${MODEL_FORMAT_VERSION}`);
  });

  it('reads version 1 files, as centred-PCA models', async () => {
    const { x } = mnistSlice(400);
    const r = await trainMbn(x, { V: 10, seed: 2 }, { threads: 1 });
    const back = deserializeModel(serializeV1(r.model));
    expect(back.params.outputStep).toBe('centred-pca');
    back.layers.forEach((l, i) => expect(l.bank).toEqual(r.model.layers[i]!.bank));
    expect(serializeModel(back)).toEqual(r.modelBytes);
  });

  it('names an unknown version', async () => {
    const { x } = mnistSlice(200);
    const r = await trainMbn(x, { V: 4, seed: 2 }, { threads: 1 });
    const text = new TextDecoder().decode(r.modelBytes);
    const bumped = new TextEncoder().encode(text.replace(`"version":${MODEL_FORMAT_VERSION}`, '"version":9'));
    expect(() => deserializeModel(bumped, 'm.cmbn')).toThrow(/m\.cmbn: model format version 9 is not supported/);
  });

  it('redrawFeatureBits equals the kept features drawClustering gives', () => {
    const nFeatures = 1000;
    const bits = redrawFeatureBits({ seed: 9, a: 0.3 }, 3, 5, nFeatures);
    for (let v = 0; v < 5; v++) {
      const { features } = drawClustering(9, 3, v, nFeatures, 50, 0.3, 7);
      const want = new Uint8Array(bitsetBytes(nFeatures));
      for (const f of features) want[f >>> 3] = want[f >>> 3]! | (1 << (f & 7));
      expect(bits.subarray(v * want.length, (v + 1) * want.length)).toEqual(want);
    }
  });
});

describe('computeShard on a real code', () => {
  it('the grouped sparse kernel gives the ids of one-clustering-at-a-time, for every shard width', async () => {
    const { x } = mnistSlice(1000);
    const backend = { name: 'unused', unitRoundoff: 0 } as never; // the sparse path never touches it
    const dense = await createDenseBackend({ threads: 1 });
    try {
      const spec1 = { layer: 1, v0: 0, v1: 40, k: 300, seed: 3, a: 0.5, kernel: 'euclidean' as const };
      const code: CodeInput = { kind: 'code', n: 1000, V: 40, k: 300, ids: await computeShard(denseInput(x), spec1, dense) };
      for (const [v0, v1] of [[0, 40], [3, 4], [5, 22]] as const) {
        const spec = { layer: 2, v0, v1, k: 150, seed: 3, a: 0.5, kernel: 'euclidean' as const };
        const got = await computeShard(code, spec, backend);
        const want = new Uint16Array(1000 * (v1 - v0));
        const centreCodes = new Uint16Array(150 * 40);
        for (let v = v0; v < v1; v++) {
          const { features, centres } = drawClustering(3, 2, v, featureCount(code), 1000, 0.5, 150);
          gatherCodeRows(code.ids, 40, centres, centreCodes);
          nearestCentresSparse(code.ids, 1000, 40, 300, features, centreCodes, 150, want, v1 - v0, v - v0);
        }
        expect(got).toEqual(want);
      }
    } finally {
      await dense.dispose();
    }
  });
});
