import { z } from 'zod';
import { ZGcResult } from '@cmbn/api';
import { defineJob } from './define.ts';

/**
 * The artifact store's mark and sweep (`POST /v1/gc`), run by a coordinator as a job: it lists the
 * whole store, which on an object store of many objects outlasts any HTTP request. The request
 * returns the job at once and GET /v1/gc/:id reports it. A sweep is idempotent (each deletion is
 * re-checked under the registry's lock just before it is made), so a retry or a coordinator that
 * dies mid-sweep leaves nothing half done that the next attempt does not finish.
 */
export const gcJob = defineJob({
  kind: 'gc',
  runsOn: 'coordinator',
  payload: z.object({
    graceSeconds: z.number().int().min(0).optional(),
    dryRun: z.boolean(),
    /** Who asked (the token's name), for the log and GET /v1/gc/:id. */
    principal: z.string().min(1),
  }).strict(),
  result: ZGcResult,
  retry: { attempts: 3, backoff: { type: 'exponential', delay: 5_000 } },
  timeoutMs: 6 * 60 * 60_000,
});
