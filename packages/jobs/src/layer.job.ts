import { z } from 'zod';
import { defineJob } from './define.ts';
import { ZSha256 } from './refs.ts';

/**
 * The parent of a layer's shard jobs in a BullMQ flow. It becomes processable only when every
 * shard child has completed (each child fails the parent on permanent failure), so "assemble the
 * layer, then start the next one (or finish the run)" survives coordinator restarts: the parent
 * job waits in Redis, not in coordinator memory.
 */
export const layerJob = defineJob({
  kind: 'layer',
  runsOn: 'coordinator',
  payload: z.object({
    runId: z.string().min(1),
    layer: z.number().int().min(1),
  }),
  result: z.object({
    /** The assembled n × V uint16 code of the layer (absent when the run had ended: `skipped`). */
    outputSha256: ZSha256.optional(),
    skipped: z.string().optional(),
    /** Set when this was the top layer and the run's model is written. */
    modelSha256: ZSha256.optional(),
  }),
  retry: { attempts: 3, backoff: { type: 'exponential', delay: 2_000 } },
  timeoutMs: 60 * 60_000,
});
