import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerError, decodeContainer, encodeContainer, type SectionArray } from './container.ts';
import { bitsFor, packBits, unpackBits } from './bitpack.ts';
import { drawClusteringUnsorted, featureCount, type LayerInput } from './layer.ts';
import { keptCount, type TMbnParams } from './params.ts';
import { sampleDistinct, streamFor } from './rng.ts';
import type { PcaModel } from './pca.ts';

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
  /** k-means centroids of the application, clusters × pca.c. */
  centroids: Float64Array;
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

/** Rebuilds what prediction needs of a trained layer from its input and the random streams. */
export function buildModelLayer(input: LayerInput, layer: number, k: number, params: TMbnParams): ModelLayer {
  const { V, seed, a } = params;
  const n = input.n;
  const nFeatures = featureCount(input);
  const bytes = bitsetBytes(nFeatures);
  const featureBits = new Uint8Array(V * bytes);
  const draws: Uint32Array[] = [];
  const used = new Uint8Array(n);
  for (let v = 0; v < V; v++) {
    // Kept features only become bits here, so their draw order does not matter.
    const { features, centres } = drawClusteringUnsorted(seed, layer, v, nFeatures, n, a, k);
    const base = v * bytes;
    for (let f = 0; f < features.length; f++) {
      const x = features[f]!;
      const at = base + (x >>> 3);
      featureBits[at] = featureBits[at]! | (1 << (x & 7));
    }
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
  };
  const sections: [string, SectionArray][] = [];
  model.layers.forEach((l) => {
    const bank = l.input.kind === 'code' ? packBits(l.bank as Uint16Array, bitsFor(l.input.k)) : l.bank;
    sections.push([`layer${l.layer}.bank`, bank], [`layer${l.layer}.centres`, l.centres]);
  });
  sections.push(['pca.mean', model.pca.mean], ['pca.basis', model.pca.basis], ['pca.eigenvalues', model.pca.eigenvalues]);
  sections.push(['kmeans.centroids', model.centroids]);
  return encodeContainer(MAGIC, header, sections);
}

export function deserializeModel(bytes: Uint8Array, what = 'model'): MbnModel {
  const c = decodeContainer<ModelHeader>(bytes, MAGIC, what);
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
      bank = unpackBits(c.section(`layer${l.layer}.bank`, 'u32'), bankBits, l.bankRows * l.input.V);
    } else {
      bank = c.section(`layer${l.layer}.bank`, l.input.dtype === 'uint8' ? 'u8' : 'f32');
    }
    return { ...l, bank, featureBits: redrawFeatureBits(params, l.layer, l.V, l.nFeatures), centres };
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
    centroids: c.section('kmeans.centroids', 'f64'),
  };
}

/**
 * The kept-feature bitsets of a layer, redrawn: clustering v's kept features are the first
 * draws of streamFor(seed, layer, v) (see drawClustering), so they need not be stored. As a set
 * they need no sort.
 */
export function redrawFeatureBits(params: Pick<TMbnParams, 'seed' | 'a'>, layer: number, V: number, nFeatures: number): Uint8Array {
  const bytes = bitsetBytes(nFeatures);
  const bits = new Uint8Array(V * bytes);
  const m = keptCount(nFeatures, params.a);
  for (let v = 0; v < V; v++) {
    const features = sampleDistinct(streamFor(params.seed, layer, v), nFeatures, m);
    const base = v * bytes;
    for (let t = 0; t < m; t++) {
      const x = features[t]!;
      bits[base + (x >>> 3)] = bits[base + (x >>> 3)]! | (1 << (x & 7));
    }
  }
  return bits;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes DIR/model.cmbn atomically; returns its hash and size. */
export async function saveModel(dir: string, bytes: Uint8Array): Promise<{ modelHash: string; modelBytes: number; path: string }> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, MODEL_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
  return { modelHash: sha256Hex(bytes), modelBytes: bytes.length, path };
}

export async function loadModel(dir: string): Promise<{ model: MbnModel; modelHash: string; modelBytes: number }> {
  const path = join(dir, MODEL_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    throw new ContainerError(`${path}: no MBN model here (expected ${MODEL_FILE})`);
  }
  return { model: deserializeModel(bytes, path), modelHash: sha256Hex(bytes), modelBytes: bytes.length };
}
