import { setTimeout as sleep } from 'node:timers/promises';
import type { ArtifactStore } from '@cmbn/artifacts';
import { BadInputError, encodeCodeNpy, shardJob, withInfraRetry, type JobContext, type JobPayload, type JobResult } from '@cmbn/jobs';
import type { ComputePool } from './compute-pool.ts';
import type { LayerInputCache } from './layer-input-cache.ts';

export interface ShardHandlerDeps {
  store: ArtifactStore;
  cache: LayerInputCache;
  pool: ComputePool;
  workerId: string;
  testDelayMs: number;
  /** Budget of retries of transient store errors inside the job (CMBN_INFRA_RETRY_MS); they use no attempt. */
  infraRetryMs: number;
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
  // A store that is away (S3 5xx, network) is waited for here rather than failing the attempt:
  // the shard is deterministic and its output content-addressed, so repeating a read or a put is safe.
  const infra = { budgetMs: deps.infraRetryMs, ...(ctx.signal ? { signal: ctx.signal } : {}), onRetry: (err: unknown) => ctx.log(`store unavailable, retrying: ${(err as Error).message}`) };
  const input = await withInfraRetry(() => deps.cache.get(ref), infra);
  if (deps.testDelayMs > 0) await sleep(deps.testDelayMs, undefined, ctx.signal ? { signal: ctx.signal } : {});
  const { block, seconds } = await deps.pool.run(ref.sha256, input, spec, { timeoutMs: shardJob.timeoutMs, signal: ctx.signal });
  const cols = spec.v1 - spec.v0;
  const bytes = encodeCodeNpy(block, ref.rows, cols);
  const put = await withInfraRetry(() => deps.store.put(bytes), infra);
  return { sha256: put.sha256, rows: ref.rows, cols, seconds, workerId: deps.workerId, backend: await deps.pool.backendName(), finishedAt: Date.now() };
}
