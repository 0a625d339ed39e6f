/**
 * How a distributed layer is cut into shards. A shard's result never depends on the plan (every
 * clustering draws from its own (seed, layer, v) stream), so the plan is purely about throughput:
 *
 * - every shard pays a fixed cost outside the kernel (queue round trips, the output's fsync, job
 *   completion, the coordinator's bookkeeping): ~20–40 ms measured on the reference machine;
 * - cheap upper layers cut as finely as the bottom one are dominated by that cost, and two workers
 *   on two cores then slow each other down: measured with `bench:scaling` (MNIST 10k, V=100), a
 *   fixed 2 clusterings per shard (450 shards over 9 layers) gave 1.65–1.73× for 2 workers against
 *   1, a fixed 10 gave 2.02× but leaves only 10 bottom-layer shards for a pool of workers.
 *
 * So each layer's shard size is chosen from an estimate of one clustering's cost: large enough that
 * a shard is about TARGET_SHARD_SECONDS of work, bounded so that a layer has between MIN_SHARDS and
 * MAX_SHARDS shards (when V allows).
 */
import { keptCount } from './params.ts';
import { planShards } from './shard.ts';

/** Work per shard the plan aims for, in reference-machine seconds (the fixed cost is then ≤ ~4%). */
export const TARGET_SHARD_SECONDS = 1;
/** Fewest shards per layer (when V allows): keeps a handful of workers busy on every layer. */
export const MIN_SHARDS = 8;
/** Most shards per layer: bounds the queue and bookkeeping for large V. */
export const MAX_SHARDS = 64;

/**
 * Cost model of one clustering, fitted to per-shard timings on the reference machine (2-core Xeon,
 * one ORT thread per worker; MNIST 10k, V=100): the dense bottom layer is a GEMM plus the exact
 * verification, ~0.028 ns per multiply-add (k=5000, 392 kept features: ~0.55 s); a sparse layer
 * pays per point for every kept feature's inverted list (~30 ns) and for scanning k counters
 * (~5.5 ns each). Measured one-worker compute per layer, seconds (model in brackets): 55 (55), then
 * 15.4 (15.2), 6.6 (8.4), 4.5 (5.0), 2.4 (3.3), 2.1 (2.4), 1.6 (2.0), 1.6 (1.8), 1.7 (1.6). Only the ratios between layers matter for the plan; the constants set the scale.
 */
const DENSE_SECONDS_PER_MAC = 2.8e-11;
const SPARSE_SECONDS_PER_FEATURE = 30e-9;
const SPARSE_SECONDS_PER_CENTRE = 5.5e-9;

/** What a layer's cost depends on: n points of d dense columns, or of V one-hot codes (upper layers). */
export type LayerShape = { kind: 'dense'; n: number; d: number } | { kind: 'code'; n: number; V: number };

/** Estimated seconds of one clustering of `k` centres over this layer input (see the cost model above). */
export function clusteringSeconds(shape: LayerShape, k: number, a: number): number {
  if (shape.kind === 'dense') return shape.n * k * keptCount(shape.d, a) * DENSE_SECONDS_PER_MAC;
  // A point has V active one-hot features, of which a clustering keeps a fraction a on average.
  return shape.n * (a * shape.V * SPARSE_SECONDS_PER_FEATURE + k * SPARSE_SECONDS_PER_CENTRE);
}

/** Clusterings per shard for one layer: ~TARGET_SHARD_SECONDS of work, MIN_SHARDS..MAX_SHARDS shards. */
export function autoShardSize(V: number, shape: LayerShape, k: number, a: number): number {
  const fewest = Math.max(1, Math.ceil(V / MAX_SHARDS));
  const most = Math.max(fewest, Math.floor(V / MIN_SHARDS));
  const wanted = Math.ceil(TARGET_SHARD_SECONDS / Math.max(clusteringSeconds(shape, k, a), 1e-9));
  return Math.min(most, Math.max(fewest, wanted));
}

/**
 * A layer's shards: `shardSize` clusterings each when the run fixed one, else autoShardSize. The
 * same arguments always give the same plan, so a restarted coordinator re-plans a layer identically.
 */
export function planLayerShards(V: number, shape: LayerShape, k: number, a: number, shardSize?: number | null): { v0: number; v1: number }[] {
  return planShards(V, shardSize ?? autoShardSize(V, shape, k, a));
}
