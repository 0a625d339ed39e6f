import { z } from 'zod';
import { defineJob } from './define.ts';
import { ZSha256 } from './refs.ts';

/**
 * PLACEHOLDER for the distillation issue (issue 4): trains the student network on the MBN model's
 * embedding of the run's dataset. Only the payload/result schemas live here so the coordinator can
 * queue it; no process handles the `distiller` runner yet.
 */
export const distillJob = defineJob({
  kind: 'distill',
  runsOn: 'distiller',
  payload: z.object({
    runId: z.string().min(1),
    /** model.cmbn in the artifact store. */
    modelSha256: ZSha256,
    modelHash: z.string(),
    datasetSha256: ZSha256,
    labelsSha256: ZSha256.optional(),
  }),
  result: z.object({
    studentSha256: ZSha256,
    metrics: z.record(z.string(), z.number()),
  }),
  retry: { attempts: 2, backoff: { type: 'exponential', delay: 10_000 } },
  timeoutMs: 6 * 60 * 60_000,
});
