/**
 * Model file I/O at paper scale, against "just writing/reading and hashing the bytes" in the same
 * process run. Builds a synthetic model with the shapes of MNIST-70k under the toolbox defaults
 * (7 layers, V=400, N=70,000, k = 1428 … 22; layer 1's bank the uint8 rows, layers 2–7 bit-packed
 * code rows; random but valid ids, centres, PCA and centroids — no training, so it runs in
 * seconds), then per round times:
 *
 *   save:  serializeModel; saveModel; baseline writeFile + sha256 of the same bytes
 *   load:  loadModel (split by phase: readFile, decode, unpack per layer, sections, sha256);
 *          materialising every layer's feature bitsets (what predict pays on first use);
 *          baseline readFile + sha256 of the same file
 *
 * Rounds alternate which of subject and baseline goes first, so load on the machine hits both
 * alike; medians are reported. Headline: loadModel / (readFile + sha256). The loaded model is
 * checked field by field against the synthetic one and re-serialised to the same bytes.
 *
 * Then, per round, the first predict of one point through createMbnPredictor (--threads, default
 * every core) after a fresh load: its threads redrawing their own share of the bitsets, against the
 * bitsets redrawn on the calling thread first.
 *
 *   npm run bench:model-io -- [--n 70000] [--V 400] [--d 784] [--k 1428,714,…] [--rounds 3] [--seed 1] [--threads T] [--json]
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { bitsetBytes, deserializeModel, loadModel, saveModel, serializeModel, sha256Hex, type LoadTimings, type MbnModel, type ModelLayer } from '../src/model.ts';
import { keptCount, parseParams, resolveKs } from '../src/params.ts';
import { createMbnPredictor } from '../src/predict-pool.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '70000' },
    V: { type: 'string', default: '400' },
    d: { type: 'string', default: '784' },
    k: { type: 'string' },
    clusters: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const predictThreads = values.threads ? Number(values.threads) : availableParallelism();
const n = Number(values.n);
const d = Number(values.d);
const rounds = Number(values.rounds);
for (const [name, v] of [['n', n], ['d', d], ['rounds', rounds]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
}
const params = parseParams({
  V: Number(values.V),
  seed: Number(values.seed),
  clusters: Number(values.clusters),
  ...(values.k ? { k: values.k.split(',').map(Number) } : {}),
});
const ks = resolveKs(n, params);
const log = (s: string) => process.stderr.write(`${s}\n`);

/** xorshift32: fast seeded filler for the synthetic arrays (their values only need to be valid). */
function filler(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** How many distinct points V·k draws of k distinct points out of n hit, in expectation. */
const expectedDistinct = (draws: number) => Math.max(1, Math.min(n, Math.round(n * (1 - Math.exp(-draws / n)))));

function syntheticModel(): MbnModel {
  const next = filler(params.seed + 1);
  const { V } = params;
  const layers: ModelLayer[] = ks.map((k, i) => {
    const layer = i + 1;
    const bankRows = expectedDistinct(V * k);
    const centres = bankRows <= 65_536 ? new Uint16Array(V * k) : new Uint32Array(V * k);
    for (let t = 0; t < centres.length; t++) centres[t] = next() % bankRows;
    if (i === 0) {
      const bank = new Uint8Array(bankRows * d);
      for (let t = 0; t < bank.length; t++) bank[t] = next() & 255;
      return { layer, k, V, nFeatures: d, input: { kind: 'dense', d, dtype: 'uint8' }, bankRows, bank, featureBits: new Uint8Array(V * bitsetBytes(d)), centres };
    }
    const kPrev = ks[i - 1]!;
    const bank = new Uint16Array(bankRows * V);
    for (let t = 0; t < bank.length; t++) bank[t] = next() % kPrev;
    // featureBits are not stored in format 2; zeros here, and the loaded ones are checked by count.
    return { layer, k, V, nFeatures: V * kPrev, input: { kind: 'code', V, k: kPrev }, bankRows, bank, featureBits: new Uint8Array(0), centres };
  });
  const c = params.clusters;
  const dim = V * ks[ks.length - 1]!;
  const f64 = (len: number) => Float64Array.from({ length: len }, () => next() / 2 ** 32 - 0.5);
  return {
    params,
    ks,
    trainPoints: n,
    inputDims: d,
    inputDType: 'uint8',
    layers,
    pca: { dim, c, mean: f64(dim), basis: f64(c * dim), eigenvalues: f64(c) },
    application: { kind: 'kmeans', state: { k: c, centroids: f64(c * c) } },
  };
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}

/** The loaded model must be the synthetic one, and its redrawn bitsets must keep keptCount features each. */
function check(got: MbnModel, want: MbnModel, bytes: Uint8Array): void {
  got.layers.forEach((l, i) => {
    const w = want.layers[i]!;
    if (!sameBytes(l.bank, w.bank) || !sameBytes(l.centres, w.centres) || l.bankRows !== w.bankRows) throw new Error(`layer ${l.layer}: loaded bank/centres differ`);
    const bytesPer = bitsetBytes(l.nFeatures);
    const m = keptCount(l.nFeatures, got.params.a);
    for (const v of [0, l.V - 1]) {
      let count = 0;
      for (const b of l.featureBits.subarray(v * bytesPer, (v + 1) * bytesPer)) count += popcount8[b]!;
      if (count !== m) throw new Error(`layer ${l.layer} clustering ${v}: ${count} kept features, expected ${m}`);
    }
  });
  if (!sameBytes(got.pca.basis, want.pca.basis) || !sameBytes(got.pca.mean, want.pca.mean)) throw new Error('loaded PCA differs');
  if (!sameBytes(serializeModel(got), bytes)) throw new Error('the loaded model does not re-serialise to the same bytes');
}
const popcount8 = Uint8Array.from({ length: 256 }, (_, b) => [0, 1, 2, 3, 4, 5, 6, 7].reduce((s, j) => s + ((b >> j) & 1), 0));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
async function time<T>(f: () => Promise<T> | T): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await f();
  return [out, performance.now() - t0];
}
function materialise(model: MbnModel): number {
  let set = 0;
  for (const l of model.layers) set += l.featureBits.length;
  return set;
}

const tBuild = performance.now();
const model = syntheticModel();
log(`synthetic model: n=${n} V=${params.V} ks=${ks.join(',')} bankRows=${model.layers.map((l) => l.bankRows).join(',')} (${((performance.now() - tBuild) / 1000).toFixed(1)} s to build)`);

const dir = await mkdtemp(join(tmpdir(), 'cmbn-model-io-'));
const samples: Record<string, number[]> = {};
const add = (name: string, ms: number) => (samples[name] ??= []).push(ms);
let fileBytes = 0;
let modelHash = '';
try {
  for (let r = 0; r < rounds; r++) {
    const subjectFirst = r % 2 === 0;
    // save
    const [bytes, tSer] = await time(() => serializeModel(model));
    add('serializeModel', tSer);
    fileBytes = bytes.length;
    const rawPath = join(dir, 'raw.bin');
    const baseWrite = async () => {
      const [, tw] = await time(() => writeFile(rawPath, bytes));
      const [, th] = await time(() => sha256Hex(bytes));
      add('baseline.writeFile', tw);
      add('baseline.sha256(write)', th);
      add('baseline.writeFile+sha256', tw + th);
    };
    const subjectSave = async () => {
      const [saved, ts] = await time(() => saveModel(dir, bytes));
      modelHash = saved.modelHash;
      add('saveModel', ts);
    };
    if (subjectFirst) await subjectSave().then(baseWrite);
    else await baseWrite().then(subjectSave);
    await rm(rawPath);
    // load
    const path = join(dir, 'model.cmbn');
    const baseRead = async () => {
      const [buf, tr] = await time(() => readFile(path));
      const [h, th] = await time(() => sha256Hex(buf));
      if (h !== modelHash) throw new Error('baseline hash differs from saveModel');
      add('baseline.readFile', tr);
      add('baseline.sha256(read)', th);
      add('baseline.readFile+sha256', tr + th);
    };
    let loaded: MbnModel | undefined;
    const subjectLoad = async () => {
      const timings: LoadTimings = {};
      const [out, tl] = await time(() => loadModel(dir, timings));
      if (out.modelHash !== modelHash) throw new Error('loadModel hash differs from saveModel');
      add('loadModel', tl);
      const [, tm] = await time(() => materialise(out.model));
      add('featureBits (all layers, first read)', tm);
      add('loadModel + featureBits', tl + tm);
      for (const [k, v] of Object.entries(timings)) add(`loadModel.${k}`, v);
      loaded = out.model;
    };
    if (subjectFirst) await subjectLoad().then(baseRead);
    else await baseRead().then(subjectLoad);
    check(loaded!, model, bytes);
    log(`round ${r + 1}/${rounds}: load ${samples.loadModel!.at(-1)!.toFixed(0)} ms (+ bitsets ${samples['featureBits (all layers, first read)']!.at(-1)!.toFixed(0)} ms), readFile+sha256 ${samples['baseline.readFile+sha256']!.at(-1)!.toFixed(0)} ms; save ${samples.saveModel!.at(-1)!.toFixed(0)} ms, serialize ${tSer.toFixed(0)} ms, writeFile+sha256 ${samples['baseline.writeFile+sha256']!.at(-1)!.toFixed(0)} ms`);
  }
  // First predict through createMbnPredictor after a load: the threads redraw their own share of
  // the bitsets (lazy, the default) against the bitsets redrawn on the calling thread first (what a
  // spread of the layers used to force). Both pay the same preparation of one point's centres.
  const one = { rows: 1, cols: d, dtype: 'uint8' as const, data: new Uint8Array(d).fill(128) };
  const firstPredict = async (name: string, drawFirst: boolean) => {
    const { model: m } = await loadModel(dir);
    const [, t] = await time(async () => {
      if (drawFirst) materialise(m);
      const p = createMbnPredictor(m, { threads: predictThreads });
      try {
        await p.predict(one);
      } finally {
        await p.dispose();
      }
    });
    add(name, t);
  };
  for (let r = 0; r < rounds; r++) {
    const order: [string, boolean][] = [['predictor first predict (threads redraw their share)', false], ['predictor first predict (bitsets redrawn on the caller first)', true]];
    for (const [name, drawFirst] of r % 2 === 0 ? order : order.reverse()) await firstPredict(name, drawFirst);
    log(`round ${r + 1}/${rounds}: first predict ${samples['predictor first predict (threads redraw their share)']!.at(-1)!.toFixed(0)} ms lazy, ${samples['predictor first predict (bitsets redrawn on the caller first)']!.at(-1)!.toFixed(0)} ms redrawn first`);
  }
  // deserializeModel on bytes already in memory, for the in-memory callers (the distill worker)
  const bytes = await readFile(join(dir, 'model.cmbn'));
  const [, tDes] = await time(() => deserializeModel(bytes));
  add('deserializeModel (in memory)', tDes);
} finally {
  await rm(dir, { recursive: true, force: true });
}

const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const ratio = (a: string, b: string) => med[a]! / med[b]!;
const result = {
  shapes: { n, V: params.V, d, ks, bankRows: model.layers.map((l) => l.bankRows) },
  predictThreads,
  fileBytes,
  modelHash,
  rounds,
  medianMs: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, Math.round(v * 10) / 10])),
  ratios: {
    'loadModel / (readFile + sha256)': ratio('loadModel', 'baseline.readFile+sha256'),
    '(loadModel + featureBits) / (readFile + sha256)': ratio('loadModel + featureBits', 'baseline.readFile+sha256'),
    'saveModel / (writeFile + sha256)': ratio('saveModel', 'baseline.writeFile+sha256'),
    'predictor first predict: redrawn on the caller / threads redraw their share': ratio('predictor first predict (bitsets redrawn on the caller first)', 'predictor first predict (threads redraw their share)'),
    '(serializeModel + saveModel) / (writeFile + sha256)': (med.serializeModel! + med.saveModel!) / med['baseline.writeFile+sha256']!,
  },
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  log(`\n${(fileBytes / 1e6).toFixed(1)} MB, median of ${rounds} rounds (ms):`);
  for (const [k, v] of Object.entries(result.medianMs)) log(`  ${k.padEnd(44)} ${v.toFixed(1).padStart(9)}`);
  log('ratios:');
  for (const [k, v] of Object.entries(result.ratios)) log(`  ${k.padEnd(52)} ${v.toFixed(2)}×`);
}
