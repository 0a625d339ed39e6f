/**
 * How a distributed layer is cut into shards. A shard's result never depends on the plan (every
 * clustering draws from its own (seed, layer, v) stream), so the plan is purely about throughput:
 *
 * - every shard pays a fixed cost outside the kernel (queue round trips, job completion, the
 *   coordinator's bookkeeping; the output's fsync is ~1 ms of it): ~20–40 ms on the reference
 *   machine, the gap between a layer's wall time and its shards' compute time;
 * - cheap upper layers cut as finely as the bottom one are dominated by that cost, and two workers
 *   on two cores then slow each other down: measured with `bench:scaling` (MNIST 10k, V=100), a
 *   fixed 2 clusterings per shard (450 shards over 9 layers) gave 1.65–1.73× for 2 workers against
 *   1, a fixed 10 gave 2.02× but leaves only 10 bottom-layer shards for a pool of workers.
 *
 * So each layer's shard count is chosen from an estimate of one clustering's cost: about
 * TARGET_SHARD_SECONDS of work per shard, between MIN_SHARDS and MAX_SHARDS shards (when V allows),
 * a multiple of SHARD_COUNT_MULTIPLE, with balanced sizes, larger first: of the plans measured with
 * `bench:scaling` (docs/ARCHITECTURE.md, "Shards", has the table) it scaled best, 2.00× for 2 workers.
 */
import { keptCount } from './params.ts';
import { planShards } from './shard.ts';

/** Work per shard the plan aims for, in reference-machine seconds (the fixed cost is then ≤ ~4%). */
export const TARGET_SHARD_SECONDS = 1;
/** Fewest shards per layer (when V allows): keeps a handful of workers busy on every layer. */
export const MIN_SHARDS = 8;
/** Most shards per layer: bounds the queue and bookkeeping for large V. */
export const MAX_SHARDS = 64;
/** Shard counts are rounded up to a multiple of this. */
export const SHARD_COUNT_MULTIPLE = 8;

/**
 * Cost model of one clustering, fitted to per-shard timings on the reference machine (2-core Xeon,
 * one ORT thread per worker; MNIST 10k, V=100): the dense bottom layer is a GEMM plus the exact
 * verification, ~0.028 ns per multiply-add (k=5000, 392 kept features: ~0.55 s); a sparse layer
 * pays per point for every kept feature's inverted list (~30 ns) and for scanning k counters
 * (~5.5 ns each). Measured one-worker compute per layer, seconds (model in brackets): 55 (55), then
 * 15.4 (15.2), 6.6 (8.4), 4.5 (5.0), 2.4 (3.3), 2.1 (2.4), 1.6 (2.0), 1.6 (1.8), 1.7 (1.6). Only the
 * ratios between layers matter for the plan; the constants set the scale.
 */
const DENSE_SECONDS_PER_MAC = 2.8e-11;
const SPARSE_SECONDS_PER_FEATURE = 30e-9;
const SPARSE_SECONDS_PER_CENTRE = 5.5e-9;

/** What a layer's cost depends on: n points of d dense columns, or of V one-hot codes (upper layers). */
export type LayerShape = { kind: 'dense'; n: number; d: number } | { kind: 'code'; n: number; V: number };

/** The shape of layer `layer` (1-based) of a run on n × d data with V clusterings per layer. */
export function layerShape(layer: number, n: number, d: number, V: number): LayerShape {
  return layer === 1 ? { kind: 'dense', n, d } : { kind: 'code', n, V };
}

/** Estimated seconds of one clustering of `k` centres over this layer input (see the cost model above). */
export function clusteringSeconds(shape: LayerShape, k: number, a: number): number {
  if (shape.kind === 'dense') return shape.n * k * keptCount(shape.d, a) * DENSE_SECONDS_PER_MAC;
  // A point has V active one-hot features, of which a clustering keeps a fraction a on average.
  return shape.n * (a * shape.V * SPARSE_SECONDS_PER_FEATURE + k * SPARSE_SECONDS_PER_CENTRE);
}

/**
 * Shards for one layer: its estimated work over TARGET_SHARD_SECONDS, within MIN_SHARDS..MAX_SHARDS,
 * rounded up to a multiple of SHARD_COUNT_MULTIPLE (so 2, 4 or 8 workers split a layer evenly), and
 * never more than V.
 */
export function autoShardCount(V: number, shape: LayerShape, k: number, a: number): number {
  const wanted = Math.ceil((V * clusteringSeconds(shape, k, a)) / TARGET_SHARD_SECONDS);
  const bounded = Math.min(MAX_SHARDS, Math.max(MIN_SHARDS, wanted));
  return Math.max(1, Math.min(V, Math.ceil(bounded / SHARD_COUNT_MULTIPLE) * SHARD_COUNT_MULTIPLE));
}

/**
 * V clusterings in `count` contiguous shards whose sizes differ by at most one, the larger ones
 * first. Workers take shards in queue order, so the last ones to start (the layer's tail, where
 * workers run out of work one by one) are the smallest: longest-processing-time-first scheduling.
 */
export function balancedShards(V: number, count: number): { v0: number; v1: number }[] {
  const shards: { v0: number; v1: number }[] = [];
  const base = Math.floor(V / count);
  const bigger = V % count;
  let v0 = 0;
  for (let s = 0; s < count; s++) {
    const size = base + (s < bigger ? 1 : 0);
    shards.push({ v0, v1: v0 + size });
    v0 += size;
  }
  return shards;
}

/**
 * A layer's shards: `shardSize` clusterings each when the run fixed one, else autoShardCount
 * balanced shards. The same arguments always give the same plan, so a restarted coordinator
 * re-plans a layer identically.
 */
export function planLayerShards(V: number, shape: LayerShape, k: number, a: number, shardSize?: number | null): { v0: number; v1: number }[] {
  return shardSize ? planShards(V, shardSize) : balancedShards(V, autoShardCount(V, shape, k, a));
}
