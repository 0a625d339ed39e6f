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
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeContainer } from './container.ts';
import { keptBitsFromStream, loadModel, saveModel, sha256Hex, type LoadTimings, type ModelLayer } from './model.ts';
import { predict } from './predict.ts';
import { keptCount, parseParams } from './params.ts';
import { sampleDistinct, streamFor, streamState } from './rng.ts';

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
  sections.push(['pca.mean', model.pca.mean], ['pca.basis', model.pca.basis], ['pca.eigenvalues', model.pca.eigenvalues], ['kmeans.centroids', (model.application.state as { centroids: Float64Array }).centroids]);
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
    // Trained with the step version 1 files imply, so that the round trip can be byte-exact.
    const r = await trainMbn(x, { V: 10, seed: 2, outputStep: 'centred-pca' }, { threads: 1 });
    const back = deserializeModel(serializeV1(r.model));
    expect(back.params.outputStep).toBe('centred-pca');
    back.layers.forEach((l, i) => expect(l.bank).toEqual(r.model.layers[i]!.bank));
    expect(serializeModel(back)).toEqual(r.modelBytes);
  });

  it('names an unknown version', async () => {
    const { x } = mnistSlice(200);
    const r = await trainMbn(x, { V: 4, seed: 2 }, { threads: 1 });
    // Patch the header's digit in place: decoding the whole file as text would mangle its binary sections.
    const needle = new TextEncoder().encode(`"version":${MODEL_FORMAT_VERSION}`);
    const at = Buffer.from(r.modelBytes).indexOf(Buffer.from(needle));
    expect(at).toBeGreaterThan(0);
    const bumped = r.modelBytes.slice();
    bumped[at + needle.length - 1] = '9'.charCodeAt(0);
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

/** The kept-feature bitsets as they were computed before the inlined kernel: sampleDistinct on each stream. */
function referenceBits(seed: number, a: number, layer: number, V: number, nFeatures: number): Uint8Array {
  const bytes = bitsetBytes(nFeatures);
  const bits = new Uint8Array(V * bytes);
  const m = keptCount(nFeatures, a);
  for (let v = 0; v < V; v++) {
    for (const f of sampleDistinct(streamFor(seed, layer, v), nFeatures, m)) bits[v * bytes + (f >>> 3)] = bits[v * bytes + (f >>> 3)]! | (1 << (f & 7));
  }
  return bits;
}

/** A random but valid model: k not powers of two, code ids up to k_prev − 1, banks around the u16/u32 centre-index edge. */
function randomModel(seed: number, ks: number[], V: number, d: number, rows: number[]): MbnModel {
  let s = seed | 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const params = parseParams({ V, k: ks, seed, a: 0.4 });
  const layers: ModelLayer[] = ks.map((k, i) => {
    const bankRows = rows[i]!;
    const centres = bankRows <= 65_536 ? new Uint16Array(V * k) : new Uint32Array(V * k);
    for (let t = 0; t < centres.length; t++) centres[t] = next() % bankRows;
    const nFeatures = i === 0 ? d : V * ks[i - 1]!;
    const featureBits = redrawFeatureBits(params, i + 1, V, nFeatures);
    if (i === 0) {
      const bank = Uint8Array.from({ length: bankRows * d }, () => next() & 255);
      return { layer: 1, k, V, nFeatures, input: { kind: 'dense', d, dtype: 'uint8' }, bankRows, bank, featureBits, centres };
    }
    const bank = Uint16Array.from({ length: bankRows * V }, () => next() % ks[i - 1]!);
    return { layer: i + 1, k, V, nFeatures, input: { kind: 'code', V, k: ks[i - 1]! }, bankRows, bank, featureBits, centres };
  });
  const c = 3;
  const dim = V * ks[ks.length - 1]!;
  const f64 = (len: number) => Float64Array.from({ length: len }, () => next() / 2 ** 32);
  return {
    params,
    ks,
    trainPoints: Math.max(...rows),
    inputDims: d,
    inputDType: 'uint8',
    layers,
    pca: { dim, c, mean: f64(dim), basis: f64(c * dim), eigenvalues: f64(c) },
    application: { kind: 'kmeans', state: { k: 4, centroids: f64(4 * c) } },
  };
}

function expectSameModel(got: MbnModel, want: MbnModel): void {
  expect(got.params).toEqual(want.params);
  expect([got.ks, got.trainPoints, got.inputDims, got.inputDType]).toEqual([want.ks, want.trainPoints, want.inputDims, want.inputDType]);
  expect(got.layers.length).toBe(want.layers.length);
  got.layers.forEach((l, i) => {
    const w = want.layers[i]!;
    expect([l.layer, l.k, l.V, l.nFeatures, l.bankRows, l.input]).toEqual([w.layer, w.k, w.V, w.nFeatures, w.bankRows, w.input]);
    expect(l.bank).toEqual(w.bank);
    expect(l.centres).toEqual(w.centres);
    expect(l.featureBits).toEqual(w.featureBits);
  });
  expect(got.pca).toEqual(want.pca);
  expect(got.application).toEqual(want.application);
}

describe('model load path (issue 10)', () => {
  it('property: deserialize(serialize(m)) is m field by field, and re-serialises to the same bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        // k_prev decides the packed width; 3, 5, 33, 1000 are not powers of two, 2 and 64 are.
        fc.array(fc.constantFrom(2, 3, 5, 33, 64, 1000), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 6 }),
        (seed, ks, V) => {
          const rows = ks.map((_, i) => 1 + ((seed >>> i) % 70));
          const m = randomModel(seed, ks, V, 5 + (seed % 11), rows);
          const bytes = serializeModel(m);
          const back = deserializeModel(bytes);
          expectSameModel(back, m);
          expect(serializeModel(back)).toEqual(bytes);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('round-trips the 16-bit edges: ids of a k_prev = 65535 layer, and banks of 65536 (u16 centres) and 65537 rows (u32 centres)', () => {
    const m = randomModel(7, [65535, 2, 3], 1, 3, [65536, 65537, 5]);
    expect(m.layers.map((l) => l.centres.BYTES_PER_ELEMENT)).toEqual([2, 4, 2]);
    const bytes = serializeModel(m);
    expect(decodeContainer<{ layers: { bankBits?: number }[] }>(bytes, bytes.subarray(0, 8), 'm').meta.layers[1]!.bankBits).toBe(16);
    expectSameModel(deserializeModel(bytes), m);
  });

  it('decodes from an unaligned buffer and from a Buffer, and the copied sections do not alias the file', () => {
    const m = randomModel(11, [33, 5], 3, 7, [20, 9]);
    const bytes = serializeModel(m);
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    expectSameModel(deserializeModel(unaligned), m);
    const buf = Buffer.from(bytes);
    const back = deserializeModel(buf);
    buf.fill(0);
    expectSameModel(back, m);
  });

  it('the inlined redraw kernel is sampleDistinct step for step, rejections included, at a layer-2 size', () => {
    // At n = 571,200 nextInt rejects ~19 draws per clustering, so the slow path is exercised.
    const n = 571_200;
    const m = keptCount(n, 0.5);
    const perm = new Uint32Array(n);
    let rejected = 0;
    for (let v = 0; v < 3; v++) {
      for (let i = 0; i < n; i++) perm[i] = i;
      const bits = new Uint8Array(bitsetBytes(n));
      rejected += keptBitsFromStream(streamState(1, 2, v), n, m, perm, bits, 0);
      expect(bits).toEqual(referenceBits(1, 0.5, 2, v + 1, n).subarray(v * bits.length, (v + 1) * bits.length));
    }
    expect(rejected).toBeGreaterThan(0);
  });

  it('redrawFeatureBits equals the reference for dense and sparse-regime keep fractions, whole and by clustering range', () => {
    for (const [nFeatures, a] of [[1000, 0.5], [4099, 0.05], [33, 0.97], [1, 0.5]] as const) {
      const want = referenceBits(3, a, 4, 6, nFeatures);
      expect(redrawFeatureBits({ seed: 3, a }, 4, 6, nFeatures)).toEqual(want);
      const out = new Uint8Array(want.length);
      redrawFeatureBits({ seed: 3, a }, 4, 6, nFeatures, out, 0, 2);
      redrawFeatureBits({ seed: 3, a }, 4, 6, nFeatures, out, 2, 6);
      expect(out).toEqual(want);
    }
    expect(() => redrawFeatureBits({ seed: 3, a: 0.5 }, 4, 6, 100, new Uint8Array(10))).toThrow(/output holds 10 bytes, need 78/);
  });

  it('a trained model saved and loaded gives the same bytes, hash and predictions; bitsets are redrawn on first read', async () => {
    const { x } = mnistSlice(600);
    const r = await trainMbn(x, { V: 12, seed: 4 }, { threads: 2 });
    const dir = await mkdtemp(join(tmpdir(), 'cmbn-model-load-'));
    const backend = await createDenseBackend({ threads: 1 });
    try {
      const saved = await saveModel(dir, r.modelBytes);
      expect(saved.modelHash).toBe(r.modelHash);
      expect(sha256Hex(await readFile(saved.path))).toBe(r.modelHash);
      const timings: LoadTimings = {};
      const loaded = await loadModel(dir, timings);
      expect(loaded.modelHash).toBe(r.modelHash);
      expect(loaded.modelBytes).toBe(r.modelBytes.length);
      expect(Object.keys(timings).some((k) => k.endsWith('.redraw'))).toBe(false);
      const want = await predict(r.model, x, backend);
      const got = await predict(loaded.model, x, backend);
      expect(got.labels).toEqual(want.labels);
      expect(got.embedding).toEqual(want.embedding);
      expect(Object.keys(timings).filter((k) => k.endsWith('.redraw')).length).toBe(r.model.layers.length);
      expectSameModel(loaded.model, r.model);
      expect(serializeModel(loaded.model)).toEqual(r.modelBytes);
    } finally {
      await backend.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('loadModel names a directory without a model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cmbn-model-none-'));
    try {
      await expect(loadModel(dir)).rejects.toThrow(/no MBN model here \(expected model\.cmbn\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a section whose length is corrupt', () => {
    const m = randomModel(5, [3], 4, 4, [6]);
    const text = new TextDecoder('latin1').decode(serializeModel(m));
    // 4 × 3 = 12 centres: "12" → "-9" keeps the header's length.
    const bad = Uint8Array.from(text.replace('"name":"layer1.centres","dtype":"u16","length":12', '"name":"layer1.centres","dtype":"u16","length":-9'), (ch) => ch.charCodeAt(0));
    expect(bad.length).toBe(text.length);
    expect(() => deserializeModel(bad, 'm.cmbn')).toThrow(/m\.cmbn: section layer1\.centres has a bad offset or length/);
  });
});
