import { assignSparseGroup, buildSparseGroupIndex, nearestCentresDense, sparseGroupSize, type DenseBackend } from '@cmbn/kernels';
import { drawClustering, featureCount, gatherCodeRows, gatherDense, type LayerInput } from './layer.ts';

/** One unit of distributable work: clusterings v0..v1-1 of one layer. */
export interface ShardSpec {
  /** 1-based layer number. */
  layer: number;
  v0: number;
  v1: number;
  k: number;
  seed: number;
  a: number;
  kernel: 'euclidean' | 'linear';
}

/** The integer work a shard did, for the benches' bounds (never part of the result). */
export interface ShardWork {
  /** Score increments of the sparse kernel (0 for a dense layer): the matches themselves. */
  sparseIncrements: number;
}

/**
 * Encodes every point of the layer input by clusterings v0..v1-1.
 * Returns the n × (v1−v0) block of winning centre ids, row-major.
 *
 * This is the single function that the in-process trainer, its worker threads and the BullMQ
 * workers all call, so every path produces the same bytes for the same shard. `work`, when given,
 * gets the sparse kernel's increments added to it.
 */
export async function computeShard(input: LayerInput, spec: ShardSpec, backend: DenseBackend, work?: ShardWork): Promise<Uint16Array> {
  const { layer, v0, v1, k, seed, a, kernel } = spec;
  if (!(v1 > v0)) throw new RangeError(`empty shard ${v0}..${v1}`);
  if (k > input.n) throw new RangeError(`k=${k} exceeds the ${input.n} points of layer ${layer}`);
  const n = input.n;
  const width = v1 - v0;
  const out = new Uint16Array(n * width);
  const nFeatures = featureCount(input);

  if (input.kind === 'dense') {
    let xs: Float32Array | undefined;
    let cs: Float32Array | undefined;
    for (let v = v0; v < v1; v++) {
      const { features, centres } = drawClustering(seed, layer, v, nFeatures, n, a, k);
      const m = features.length;
      xs ??= new Float32Array(n * m);
      cs ??= new Float32Array(k * m);
      gatherDense(input.data, input.d, null, n, features, xs);
      gatherDense(input.data, input.d, centres, k, features, cs);
      await nearestCentresDense(backend, xs, n, m, cs, k, kernel, out, width, v - v0);
    }
  } else {
    // Clusterings go in groups that share one merged inverted index (see the kernel): the
    // per-(point, previous clustering) lookups are then paid once per group, not per clustering.
    const G = sparseGroupSize(k, width);
    for (let g0 = v0; g0 < v1; g0 += G) {
      const group = [];
      for (let v = g0; v < Math.min(v1, g0 + G); v++) {
        const { features, centres } = drawClustering(seed, layer, v, nFeatures, n, a, k);
        group.push({ keptFeatures: features, centreCodes: gatherCodeRows(input.ids, input.V, centres, new Uint16Array(k * input.V)) });
      }
      const increments = assignSparseGroup(buildSparseGroupIndex(input.V, input.k, group, k), input.ids, n, out, width, g0 - v0);
      if (work) work.sparseIncrements += increments;
    }
  }
  return out;
}

/** Writes a shard's block into the layer's full n × V code. */
export function placeShard(block: Uint16Array, n: number, v0: number, v1: number, V: number, ids: Uint16Array): void {
  const width = v1 - v0;
  for (let i = 0; i < n; i++) ids.set(block.subarray(i * width, (i + 1) * width), i * V + v0);
}

/** Splits V clusterings into shards of at most `size` clusterings. */
export function planShards(V: number, size: number): { v0: number; v1: number }[] {
  const shards: { v0: number; v1: number }[] = [];
  for (let v0 = 0; v0 < V; v0 += size) shards.push({ v0, v1: Math.min(V, v0 + size) });
  return shards;
}
