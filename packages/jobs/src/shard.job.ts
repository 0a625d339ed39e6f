import { z } from 'zod';
import { defineJob } from './define.ts';
import { ZLayerInputRef, ZSha256, ZShardSpec } from './refs.ts';

/**
 * One shard: clusterings v0..v1-1 of one layer of one run. Computed by `computeShard` on a
 * worker; a pure function of (input bytes, spec), so a retry anywhere writes the same bytes.
 */
export const shardJob = defineJob({
  kind: 'shard',
  runsOn: 'worker',
  payload: z.object({
    runId: z.string().min(1),
    layer: z.number().int().min(1),
    /** Position of the shard in the layer's plan (shard i covers the i-th clustering range). */
    index: z.number().int().min(0),
    spec: ZShardSpec,
    input: ZLayerInputRef,
  }),
  result: z.object({
    /** The n × (v1−v0) uint16 block as .npy in the artifact store. */
    sha256: ZSha256,
    rows: z.number().int().min(1),
    cols: z.number().int().min(1),
    /** Compute time of the shard (excluding the layer-input download). */
    seconds: z.number().min(0),
    workerId: z.string(),
    backend: z.string(),
    /** Epoch ms when the worker finished (the coordinator measures its idle gap between layers from it). */
    finishedAt: z.number().int().min(0),
  }),
  // A lost worker or a transient store error is retried; bad input throws UnrecoverableError.
  retry: { attempts: 4, backoff: { type: 'exponential', delay: 1_000 } },
  timeoutMs: 30 * 60_000,
});
