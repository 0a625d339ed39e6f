/**
 * The layer planner: which shards a layer has, what each computes and reads, and the BullMQ flow
 * that queues them. Pure (no Redis, Postgres or store): a function of the run's fixed facts, so a
 * restarted coordinator re-plans exactly what the first one queued.
 */
import type { FlowJob } from 'bullmq';
import { jobOptions, layerJobId, queueName, shardJobId, type JobPayload, type TLayerInputRef } from '@cmbn/jobs';
import { layerShape, planLayerShards, type ShardSpec, type TMbnParams } from '@cmbn/mbn';

/** What planning needs of a run; none of it changes during the run. */
export interface RunPlan {
  params: TMbnParams;
  ks: number[];
  dataset: { sha256: string; rows: number; cols: number };
  /** The run's fixed shard size (clusterings per shard), or null for the cost-based plan. */
  shardSize: number | null;
}

export interface PlannedShard {
  index: number;
  v0: number;
  v1: number;
}

/**
 * Layer `layer`'s shard ranges: the run's fixed shardSize, or each layer sized from its estimated
 * cost (@cmbn/mbn shard-plan.ts).
 */
export function layerShards(plan: RunPlan, layer: number): { v0: number; v1: number }[] {
  const shape = layerShape(layer, plan.dataset.rows, plan.dataset.cols, plan.params.V);
  return planLayerShards(plan.params.V, shape, plan.ks[layer - 1]!, plan.params.a, plan.shardSize);
}

export function shardSpec(plan: RunPlan, layer: number, s: { v0: number; v1: number }): ShardSpec {
  return { layer, v0: s.v0, v1: s.v1, k: plan.ks[layer - 1]!, seed: plan.params.seed, a: plan.params.a, kernel: plan.params.kernel };
}

/** Layer 1 reads the uploaded matrix; layer l > 1 the previous layer's assembled code (`inputSha256`). */
export function layerInput(plan: RunPlan, layer: number, inputSha256: string): TLayerInputRef {
  return layer === 1
    ? { kind: 'dense', sha256: plan.dataset.sha256, rows: plan.dataset.rows, cols: plan.dataset.cols }
    : { kind: 'code', sha256: inputSha256, rows: plan.dataset.rows, V: plan.params.V, k: plan.ks[layer - 2]! };
}

/**
 * The layer's flow: one `layer` parent (assembly, on the coordinator) over every shard child.
 * Every child fails its parent on a permanent failure: without failParentOnFailure a failed shard
 * would leave the layer waiting forever. Job ids are deterministic, so adding it again is a no-op.
 */
export function layerFlow(runId: string, plan: RunPlan, layer: number, shards: readonly PlannedShard[], inputSha256: string): FlowJob {
  const input = layerInput(plan, layer, inputSha256);
  return {
    name: 'layer',
    queueName: queueName('layer'),
    data: { runId, layer } satisfies JobPayload<'layer'>,
    opts: { jobId: layerJobId(runId, layer), ...jobOptions('layer') },
    children: shards.map((s) => ({
      name: 'shard',
      queueName: queueName('shard'),
      data: { runId, layer, index: s.index, spec: shardSpec(plan, layer, s), input } satisfies JobPayload<'shard'>,
      opts: { jobId: shardJobId(runId, layer, s.index), ...jobOptions('shard'), failParentOnFailure: true },
    })),
  };
}
