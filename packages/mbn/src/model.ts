import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerError, decodeContainer, encodeContainer, type SectionArray } from './container.ts';
import { bitsFor, packBits, unpackBits } from './bitpack.ts';
import { featureCount, type LayerInput } from './layer.ts';
import { keptCount, type TMbnParams } from './params.ts';
import { sampleDistinct, streamState, xoshiro128ss } from './rng.ts';
import type { PcaModel } from './pca.ts';
import { applicationHeader, applicationSections, readApplication, type ApplicationTag, type FittedApplication } from './application.ts';

export const MODEL_FILE = 'model.cmbn';
/**
 * 2: upper-layer banks bit-packed at ⌈log₂ k_prev⌉ bits per id, feature bitsets not stored but
 * redrawn at load from (seed, layer, v) — the first draws of each clustering's stream, ~1–2 s at
 * MNIST-70k — so the 70k default model is ~170 MB instead of ~297 MB. 1: u16 banks and stored
 * bitsets; still read.
 */
export const MODEL_FORMAT_VERSION = 2;
const MAGIC = new TextEncoder().encode('CMBNMDL\x01');

/**
 * What prediction needs of one layer. Centres are data points, and many clusterings share
 * points, so each layer stores a "bank": the distinct training rows used as centres by any of its
 * clusterings (raw input rows for layer 1, previous-layer code rows above). Each clustering then
 * stores its centres as positions in the bank, and its kept features as a bitset.
 */
export interface ModelLayer {
  layer: number;
  k: number;
  V: number;
  nFeatures: number;
  input: { kind: 'dense'; d: number; dtype: 'uint8' | 'float32' } | { kind: 'code'; V: number; k: number };
  bankRows: number;
  bank: Uint8Array | Float32Array | Uint16Array;
  /** V × ceil(nFeatures/8) bytes, bit f of clustering v set when feature f is kept. */
  featureBits: Uint8Array;
  /** V × k positions into the bank. */
  centres: Uint16Array | Uint32Array;
}

export interface MbnModel {
  params: TMbnParams;
  ks: number[];
  trainPoints: number;
  inputDims: number;
  inputDType: 'uint8' | 'float32';
  layers: ModelLayer[];
  pca: PcaModel;
  /** The application fitted on the embedding (application.ts); k-means: { k, centroids }. */
  application: FittedApplication;
}

export function bitsetBytes(nFeatures: number): number {
  return (nFeatures + 7) >>> 3;
}

/** Decodes clustering v's kept features from the bitset, ascending. */
export function keptFeatures(layer: ModelLayer, v: number): Uint32Array {
  const bytes = bitsetBytes(layer.nFeatures);
  const bits = layer.featureBits.subarray(v * bytes, (v + 1) * bytes);
  let count = 0;
  for (let i = 0; i < bytes; i++) {
    let b = bits[i]!;
    while (b) {
      b &= b - 1;
      count++;
    }
  }
  const out = new Uint32Array(count);
  let o = 0;
  for (let i = 0; i < bytes; i++) {
    const b = bits[i]!;
    if (b === 0) continue;
    for (let j = 0; j < 8; j++) if (b & (1 << j)) out[o++] = i * 8 + j;
  }
  return out;
}

/**
 * Rebuilds what prediction needs of a trained layer from its input and the random streams.
 * Clustering v's draws are drawClusteringUnsorted's: its kept features straight into the bitset
 * through keptBitsFromStream (the same draws, without the Rng class: ~5× faster, and these are
 * ~225M draws at MNIST-70k), then its centres from the same stream where that left it.
 */
export function buildModelLayer(input: LayerInput, layer: number, k: number, params: TMbnParams): ModelLayer {
  const { V, seed, a } = params;
  const n = input.n;
  const nFeatures = featureCount(input);
  const bytes = bitsetBytes(nFeatures);
  const featureBits = new Uint8Array(V * bytes);
  const kept = keptCount(nFeatures, a);
  const identity = new Uint32Array(nFeatures);
  for (let i = 0; i < nFeatures; i++) identity[i] = i;
  const perm = new Uint32Array(nFeatures);
  const draws: Uint32Array[] = [];
  const used = new Uint8Array(n);
  for (let v = 0; v < V; v++) {
    const st = streamState(seed, layer, v);
    perm.set(identity);
    keptBitsFromStream(st, nFeatures, kept, perm, featureBits, v * bytes);
    const centres = sampleDistinct(xoshiro128ss(st[0]!, st[1]!, st[2]!, st[3]!), n, k);
    for (let j = 0; j < centres.length; j++) used[centres[j]!] = 1;
    draws.push(centres);
  }
  const position = new Int32Array(n).fill(-1);
  let bankRows = 0;
  for (let i = 0; i < n; i++) if (used[i]) position[i] = bankRows++;
  const centres = bankRows <= 65_536 ? new Uint16Array(V * k) : new Uint32Array(V * k);
  draws.forEach((c, v) => {
    for (let j = 0; j < k; j++) centres[v * k + j] = position[c[j]!]!;
  });

  let bank: ModelLayer['bank'];
  let inputMeta: ModelLayer['input'];
  if (input.kind === 'dense') {
    const d = input.d;
    bank = input.dtype === 'uint8' ? new Uint8Array(bankRows * d) : new Float32Array(bankRows * d);
    for (let i = 0; i < n; i++) {
      const p = position[i]!;
      if (p >= 0) bank.set(input.data.subarray(i * d, (i + 1) * d), p * d);
    }
    inputMeta = { kind: 'dense', d, dtype: input.dtype };
  } else {
    const Vp = input.V;
    bank = new Uint16Array(bankRows * Vp);
    for (let i = 0; i < n; i++) {
      const p = position[i]!;
      if (p >= 0) bank.set(input.ids.subarray(i * Vp, (i + 1) * Vp), p * Vp);
    }
    inputMeta = { kind: 'code', V: Vp, k: input.k };
  }
  return { layer, k, V, nFeatures, input: inputMeta, bankRows, bank, featureBits, centres };
}

interface ModelHeader {
  format: 'cmbn-mbn';
  version: number;
  params: TMbnParams;
  ks: number[];
  trainPoints: number;
  inputDims: number;
  inputDType: 'uint8' | 'float32';
  layers: (Omit<ModelLayer, 'bank' | 'featureBits' | 'centres'> & { bankBits?: number })[];
  pca: { dim: number; c: number };
  clusters: number;
  /** Absent for k-means (so format 1/2 files read as k-means); see application.ts. */
  application?: ApplicationTag;
}

/**
 * Serialises a model. The bytes are a pure function of the model (no timestamps, no host
 * facts), so sha256(bytes) — the modelHash — identifies the trained model.
 */
export function serializeModel(model: MbnModel): Uint8Array {
  const header: ModelHeader = {
    format: 'cmbn-mbn',
    version: MODEL_FORMAT_VERSION,
    params: model.params,
    ks: model.ks,
    trainPoints: model.trainPoints,
    inputDims: model.inputDims,
    inputDType: model.inputDType,
    layers: model.layers.map(({ layer, k, V, nFeatures, input, bankRows }) =>
      input.kind === 'code' ? { layer, k, V, nFeatures, input, bankRows, bankBits: bitsFor(input.k) } : { layer, k, V, nFeatures, input, bankRows },
    ),
    pca: { dim: model.pca.dim, c: model.pca.c },
    clusters: model.params.clusters,
    ...applicationHeader(model.application),
  };
  const sections: [string, SectionArray][] = [];
  model.layers.forEach((l) => {
    const bank = l.input.kind === 'code' ? packBits(l.bank as Uint16Array, bitsFor(l.input.k)) : l.bank;
    sections.push([`layer${l.layer}.bank`, bank], [`layer${l.layer}.centres`, l.centres]);
  });
  sections.push(['pca.mean', model.pca.mean], ['pca.basis', model.pca.basis], ['pca.eigenvalues', model.pca.eigenvalues]);
  sections.push(...applicationSections(model.application));
  return encodeContainer(MAGIC, header, sections);
}

/**
 * Milliseconds per phase of a load, filled in when passed (packages/mbn/bench/model-io.bench.ts):
 * `decode`, `layer<l>.unpack`, `layer<l>.redraw` (when that layer's bitsets are first read),
 * `sections` (the copied arrays), and loadModel's `readFile` and `sha256`.
 */
export type LoadTimings = Record<string, number>;

function timed<T>(timings: LoadTimings | undefined, name: string, f: () => T): T {
  if (!timings) return f();
  const t0 = performance.now();
  const out = f();
  timings[name] = (timings[name] ?? 0) + performance.now() - t0;
  return out;
}

/**
 * Gives a layer its featureBits as a value computed on first read and then kept: redrawing them
 * is ~10 s of CPU at MNIST-70k (225M draws), which prediction pays once, on its first pass over
 * the layer, and a load that only inspects, re-serialises or hashes the model never pays.
 * Assigning replaces the value.
 */
function withLazyFeatureBits(layer: Omit<ModelLayer, 'featureBits'>, redraw: () => Uint8Array): ModelLayer {
  let bits: Uint8Array | undefined;
  undrawn.add(layer);
  return Object.defineProperty(layer, 'featureBits', {
    enumerable: true,
    configurable: true,
    get: () => {
      bits ??= redraw();
      undrawn.delete(layer);
      return bits;
    },
    set: (v: Uint8Array) => {
      bits = v;
      undrawn.delete(layer);
    },
  }) as ModelLayer;
}

/** Loaded layers whose featureBits have not been read (so not redrawn) yet. */
const undrawn = new WeakSet<object>();

/**
 * Whether reading `layer.featureBits` is free. False for a loaded layer not yet read: the read
 * redraws every clustering's bits on this thread, which createMbnPredictor avoids by having each
 * of its threads redraw only its own clusterings, in parallel.
 */
export function featureBitsDrawn(layer: ModelLayer): boolean {
  return !undrawn.has(layer);
}

export function deserializeModel(bytes: Uint8Array, what = 'model', timings?: LoadTimings): MbnModel {
  const c = timed(timings, 'decode', () => decodeContainer<ModelHeader>(bytes, MAGIC, what));
  const h = c.meta;
  if (h.format !== 'cmbn-mbn') throw new ContainerError(`${what}: format is ${String(h.format)}, expected cmbn-mbn`);
  if (h.version !== 1 && h.version !== MODEL_FORMAT_VERSION) {
    throw new ContainerError(`${what}: model format version ${h.version} is not supported (this build reads 1 and ${MODEL_FORMAT_VERSION})`);
  }
  // Version 1 predates the outputStep param; its models used centred PCA.
  const params: TMbnParams = h.version === 1 ? { ...h.params, outputStep: 'centred-pca' } : h.params;
  const layers: ModelLayer[] = h.layers.map(({ bankBits, ...l }) => {
    const centres = c.section<Uint16Array | Uint32Array>(`layer${l.layer}.centres`, l.bankRows <= 65_536 ? 'u16' : 'u32');
    if (h.version === 1) {
      const bankType = l.input.kind === 'code' ? 'u16' : l.input.dtype === 'uint8' ? 'u8' : 'f32';
      return { ...l, bank: c.section(`layer${l.layer}.bank`, bankType), featureBits: c.section(`layer${l.layer}.features`, 'u8'), centres };
    }
    let bank: ModelLayer['bank'];
    if (l.input.kind === 'code') {
      if (bankBits !== bitsFor(l.input.k)) throw new ContainerError(`${what}: layer ${l.layer} bank has ${String(bankBits)} bits per id, expected ${bitsFor(l.input.k)}`);
      // The packed words are read in place (a view of the file) and dropped: only the ids are kept.
      const words = c.view<Uint32Array>(`layer${l.layer}.bank`, 'u32');
      const length = l.bankRows * l.input.V;
      bank = timed(timings, `layer${l.layer}.unpack`, () => unpackBits(words, bankBits, length));
    } else {
      const dtype = l.input.dtype === 'uint8' ? 'u8' : 'f32';
      bank = timed(timings, 'sections', () => c.section(`layer${l.layer}.bank`, dtype));
    }
    return withLazyFeatureBits({ ...l, bank, centres }, () => timed(timings, `layer${l.layer}.redraw`, () => redrawFeatureBits(params, l.layer, l.V, l.nFeatures)));
  });
  return {
    params,
    ks: h.ks,
    trainPoints: h.trainPoints,
    inputDims: h.inputDims,
    inputDType: h.inputDType,
    layers,
    pca: {
      dim: h.pca.dim,
      c: h.pca.c,
      mean: c.section('pca.mean', 'f64'),
      basis: c.section('pca.basis', 'f64'),
      eigenvalues: c.section('pca.eigenvalues', 'f64'),
    },
    application: readApplication(h.application, params, c, h.pca.c, what),
  };
}

/**
 * The kept-feature bitsets of a layer, redrawn: clustering v's kept features are the first
 * draws of streamFor(seed, layer, v) (see drawClustering), so they need not be stored. As a set
 * they need no sort. `vFrom`/`vTo` redraw a slice of the clusterings into `out` (for threads).
 */
export function redrawFeatureBits(
  params: Pick<TMbnParams, 'seed' | 'a'>,
  layer: number,
  V: number,
  nFeatures: number,
  out = new Uint8Array(V * bitsetBytes(nFeatures)),
  vFrom = 0,
  vTo = V,
): Uint8Array {
  const bytes = bitsetBytes(nFeatures);
  if (out.length < V * bytes) throw new RangeError(`redrawFeatureBits: output holds ${out.length} bytes, need ${V * bytes}`);
  const m = keptCount(nFeatures, params.a);
  if (!(Number.isInteger(nFeatures) && nFeatures >= 1 && nFeatures <= 2 ** 32)) throw new RangeError(`redrawFeatureBits: bad feature count ${nFeatures}`);
  // One scratch permutation for all clusterings, reset from the identity with a memcpy.
  const identity = new Uint32Array(nFeatures);
  for (let i = 0; i < nFeatures; i++) identity[i] = i;
  const perm = new Uint32Array(nFeatures);
  for (let v = vFrom; v < vTo; v++) {
    perm.set(identity);
    keptBitsFromStream(streamState(params.seed, layer, v), nFeatures, m, perm, out, v * bytes);
  }
  return out;
}

const TWO32 = 4294967296;

/**
 * Sets, in `bits` from byte `base`, the m values sampleDistinct(rng, n, m) returns for the stream
 * whose xoshiro128** state is `st` (advanced in place), and returns how many draws nextInt
 * rejected. It is sampleDistinctDense step for step (sampleDistinctSparse holds the same
 * permutation): step i draws j = i + nextInt(n − i), swaps, emits position i. What makes it ~5×
 * faster than calling the Rng: the generator runs in locals (the class keeps its state in fields,
 * which V8 boxes as heap numbers), nextInt's rejection bound 2³² − (2³² mod N) — a float modulo,
 * a C call in V8 — is computed only when x > 2³² − N (the bound is above that, so every other x
 * is accepted: p ≈ N/2³²), and x mod N is x − ⌊x/N⌋·N, exact in doubles for x, N < 2³² (x/N is
 * at least 1/N from the next integer, far more than its rounding error). Position i is never read
 * again after step i, so it is not written back. `perm` must hold the identity on entry.
 */
export function keptBitsFromStream(st: Int32Array, n: number, m: number, perm: Uint32Array, bits: Uint8Array, base: number): number {
  if (!(Number.isInteger(m) && m >= 0 && m <= n && perm.length >= n)) throw new RangeError(`keptBitsFromStream: need 0 ≤ m ≤ n ≤ perm.length, got m=${m}, n=${n}`);
  let s0 = st[0]!;
  let s1 = st[1]!;
  let s2 = st[2]!;
  let s3 = st[3]!;
  let rejected = 0;
  let i = 0;
  while (i < m) {
    const N = n - i;
    // xoshiro128** nextU32, as in rng.ts
    const r = Math.imul(s1, 5);
    const x = Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    if (x > TWO32 - N && x >= TWO32 - (TWO32 % N)) {
      rejected++;
      continue; // nextInt draws again for the same step
    }
    const j = i + (x - Math.floor(x / N) * N);
    const pj = perm[j]!;
    perm[j] = perm[i]!;
    const at = base + (pj >>> 3);
    bits[at] = bits[at]! | (1 << (pj & 7));
    i++;
  }
  st[0] = s0;
  st[1] = s1;
  st[2] = s2;
  st[3] = s3;
  return rejected;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes DIR/model.cmbn atomically; returns its hash and size. */
export async function saveModel(dir: string, bytes: Uint8Array): Promise<{ modelHash: string; modelBytes: number; path: string }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, MODEL_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  // The write runs on libuv's thread pool; hash on this thread meanwhile (both only read `bytes`).
  const writing = writeFile(tmp, bytes);
  let modelHash: string;
  try {
    modelHash = sha256Hex(bytes);
  } finally {
    await writing;
  }
  await rename(tmp, path);
  return { modelHash, modelBytes: bytes.length, path };
}

export async function loadModel(dir: string, timings?: LoadTimings): Promise<{ model: MbnModel; modelHash: string; modelBytes: number }> {
  const path = join(dir, MODEL_FILE);
  const t0 = performance.now();
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    throw new ContainerError(`${path}: no MBN model here (expected ${MODEL_FILE})`);
  }
  if (timings) timings.readFile = performance.now() - t0;
  const model = deserializeModel(bytes, path, timings);
  return { model, modelHash: timed(timings, 'sha256', () => sha256Hex(bytes)), modelBytes: bytes.length };
}
