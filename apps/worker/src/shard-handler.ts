import { setTimeout as sleep } from 'node:timers/promises';
import type { ArtifactStore } from '@cmbn/artifacts';
import { encodeCodeNpy, shardJob, type JobContext, type JobPayload, type JobResult } from '@cmbn/jobs';
import type { ComputePool } from './compute-pool.ts';
import { BadInputError, type LayerInputCache } from './layer-input-cache.ts';

export interface ShardHandlerDeps {
  store: ArtifactStore;
  cache: LayerInputCache;
  pool: ComputePool;
  workerId: string;
  testDelayMs: number;
}

/** Thin: fetch the (cached) layer input, compute the shard on a compute thread, store its block. */
export async function handleShard(
  deps: ShardHandlerDeps,
  p: JobPayload<'shard'>,
  ctx: JobContext,
): Promise<JobResult<'shard'>> {
  const { spec, input: ref } = p;
  if (spec.layer !== p.layer || spec.v1 <= spec.v0) throw new BadInputError(`shard ${ctx.jobId}: inconsistent spec ${JSON.stringify(spec)}`);
  if (spec.k > ref.rows) throw new BadInputError(`shard ${ctx.jobId}: k=${spec.k} exceeds the ${ref.rows} points`);
  const input = await deps.cache.get(ref);
  if (deps.testDelayMs > 0) await sleep(deps.testDelayMs, undefined, ctx.signal ? { signal: ctx.signal } : {});
  const { block, seconds } = await deps.pool.run(ref.sha256, input, spec, { timeoutMs: shardJob.timeoutMs, signal: ctx.signal });
  const cols = spec.v1 - spec.v0;
  const put = await deps.store.put(encodeCodeNpy(block, ref.rows, cols));
  return { sha256: put.sha256, rows: ref.rows, cols, seconds, workerId: deps.workerId, backend: await deps.pool.backendName(), finishedAt: Date.now() };
}
