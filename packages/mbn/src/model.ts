import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContainerError, decodeContainer, encodeContainer, type SectionArray } from './container.ts';
import { drawClustering, featureCount, type LayerInput } from './layer.ts';
import type { TMbnParams } from './params.ts';
import type { PcaModel } from './pca.ts';

export const MODEL_FILE = 'model.cmbn';
export const MODEL_FORMAT_VERSION = 1;
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
    const { features, centres } = drawClustering(seed, layer, v, nFeatures, n, a, k);
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
  layers: Omit<ModelLayer, 'bank' | 'featureBits' | 'centres'>[];
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
    layers: model.layers.map(({ layer, k, V, nFeatures, input, bankRows }) => ({ layer, k, V, nFeatures, input, bankRows })),
    pca: { dim: model.pca.dim, c: model.pca.c },
    clusters: model.params.clusters,
  };
  const sections: [string, SectionArray][] = [];
  model.layers.forEach((l) => {
    sections.push([`layer${l.layer}.bank`, l.bank], [`layer${l.layer}.features`, l.featureBits], [`layer${l.layer}.centres`, l.centres]);
  });
  sections.push(['pca.mean', model.pca.mean], ['pca.basis', model.pca.basis], ['pca.eigenvalues', model.pca.eigenvalues]);
  sections.push(['kmeans.centroids', model.centroids]);
  return encodeContainer(MAGIC, header, sections);
}

export function deserializeModel(bytes: Uint8Array, what = 'model'): MbnModel {
  const c = decodeContainer<ModelHeader>(bytes, MAGIC, what);
  const h = c.meta;
  if (h.format !== 'cmbn-mbn') throw new ContainerError(`${what}: format is ${String(h.format)}, expected cmbn-mbn`);
  if (h.version !== MODEL_FORMAT_VERSION) {
    throw new ContainerError(`${what}: model format version ${h.version} is not supported (this build reads ${MODEL_FORMAT_VERSION})`);
  }
  const layers: ModelLayer[] = h.layers.map((l) => {
    const bankType = l.input.kind === 'code' ? 'u16' : l.input.dtype === 'uint8' ? 'u8' : 'f32';
    return {
      ...l,
      bank: c.section(`layer${l.layer}.bank`, bankType),
      featureBits: c.section(`layer${l.layer}.features`, 'u8'),
      centres: c.section(`layer${l.layer}.centres`, l.bankRows <= 65_536 ? 'u16' : 'u32'),
    };
  });
  return {
    params: h.params,
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
