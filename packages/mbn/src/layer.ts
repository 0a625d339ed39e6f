import { sampleDistinct, sortedDistinctBelow, streamFor } from './rng.ts';
import { keptCount } from './params.ts';

/** The bottom layer's input: the raw data, row-major. uint8 stays uint8 so centres are stored compactly. */
export interface DenseInput {
  kind: 'dense';
  n: number;
  d: number;
  dtype: 'uint8' | 'float32';
  data: Uint8Array | Float32Array;
}

/** An upper layer's input: the previous layer's one-hot code, stored as the V winning ids per row. */
export interface CodeInput {
  kind: 'code';
  n: number;
  /** Clusterings of the previous layer. */
  V: number;
  /** Centres per clustering of the previous layer; feature (v, id) is v*k + id. */
  k: number;
  ids: Uint16Array;
}

export type LayerInput = DenseInput | CodeInput;

export function featureCount(input: LayerInput): number {
  return input.kind === 'dense' ? input.d : input.V * input.k;
}

export interface ClusteringDraw {
  /** Kept feature indices: ascending from drawClustering, in draw order from drawClusteringUnsorted. */
  features: Uint32Array;
  /** Centre j is data point centres[j]. */
  centres: Uint32Array;
}

/**
 * Every random choice of clustering v of layer `layer` comes from its own stream keyed by
 * (seed, layer, v), so a shard can be computed anywhere, in any order, any number of times.
 */
export function drawClustering(
  seed: number,
  layer: number,
  v: number,
  nFeatures: number,
  nPoints: number,
  a: number,
  k: number,
): ClusteringDraw {
  const draw = drawClusteringUnsorted(seed, layer, v, nFeatures, nPoints, a, k);
  return { features: sortedDistinctBelow(draw.features, nFeatures), centres: draw.centres };
}

/**
 * The same draws with the kept features in draw order: for callers that use them as a set (the
 * model's bitsets), the sort — the dearest part of a draw at ~571k features — is not needed.
 */
export function drawClusteringUnsorted(
  seed: number,
  layer: number,
  v: number,
  nFeatures: number,
  nPoints: number,
  a: number,
  k: number,
): ClusteringDraw {
  const rng = streamFor(seed, layer, v);
  const features = sampleDistinct(rng, nFeatures, keptCount(nFeatures, a));
  const centres = sampleDistinct(rng, nPoints, k);
  return { features, centres };
}

/**
 * Copies the kept columns of the selected rows into a dense float32 block.
 * rows === null selects every row in order.
 */
export function gatherDense(
  src: Uint8Array | Float32Array,
  cols: number,
  rows: Uint32Array | null,
  nRows: number,
  features: Uint32Array,
  out: Float32Array,
): Float32Array {
  const m = features.length;
  for (let i = 0; i < nRows; i++) {
    const base = (rows === null ? i : rows[i]!) * cols;
    const o = i * m;
    for (let f = 0; f < m; f++) out[o + f] = src[base + features[f]!]!;
  }
  return out;
}

/** Copies whole code rows (all V ids) of the selected points. */
export function gatherCodeRows(ids: Uint16Array, V: number, rows: Uint32Array, out: Uint16Array): Uint16Array {
  for (let j = 0; j < rows.length; j++) {
    const r = rows[j]! * V;
    out.set(ids.subarray(r, r + V), j * V);
  }
  return out;
}
