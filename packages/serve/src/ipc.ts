/**
 * The messages between the `--workers` primary and its server processes, one zod schema per
 * direction, parsed by the receiver (the writer builds them from the same inferred types).
 * Two-phase swap: every worker first `prepare`s (fetch nothing, load + verify + warm up the new
 * version beside the old one); only when all have, each is told to `commit` (swap), else `abort`.
 */
import { z } from 'zod';
import type { MetricsSnapshot } from './metrics.ts';
import type { ServedVersion } from './served-model.ts';

const ZLoadOrder = z.object({
  dir: z.string(),
  load: z.object({
    source: z.string(),
    name: z.string().optional(),
    version: z.number().int().optional(),
    expectedSha256: z.string().optional(),
    threads: z.number().int().positive().optional(),
    precision: z.enum(['fp32', 'int8']).optional(),
  }),
});

// Snapshots and version infos are produced by our own code in the other process; checked as objects.
const ZSnapshot = z.custom<MetricsSnapshot>((v) => typeof v === 'object' && v !== null && 'requests' in v && 'batch' in v);
const ZInfo = z.custom<ServedVersion>((v) => typeof v === 'object' && v !== null && 'artifactSha256' in v && 'signature' in v);

export const ZToWorker = z.discriminatedUnion('type', [
  z.object({ type: z.literal('prepare'), id: z.number().int(), order: ZLoadOrder }),
  z.object({ type: z.literal('commit'), id: z.number().int() }),
  z.object({ type: z.literal('abort'), id: z.number().int() }),
  z.object({ type: z.literal('snapshot'), id: z.number().int() }),
  z.object({ type: z.literal('metrics'), id: z.number().int(), snapshot: ZSnapshot, workers: z.number().int() }),
  z.object({ type: z.literal('shutdown') }),
]);
export type TToWorker = z.infer<typeof ZToWorker>;

export const ZToPrimary = z.discriminatedUnion('type', [
  // Sent once the worker listens for messages: what the primary sends before that can be lost.
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('prepared'), id: z.number().int(), info: ZInfo }),
  z.object({ type: z.literal('prepare-failed'), id: z.number().int(), message: z.string() }),
  z.object({ type: z.literal('committed'), id: z.number().int() }),
  z.object({ type: z.literal('listening'), port: z.number().int() }),
  z.object({ type: z.literal('snapshot'), id: z.number().int(), snapshot: ZSnapshot }),
  z.object({ type: z.literal('metrics?'), id: z.number().int() }),
]);
export type TToPrimary = z.infer<typeof ZToPrimary>;

/** What the primary passes to each worker in its environment. */
export const ZWorkerConfig = z.object({
  host: z.string(),
  port: z.number().int().min(0).max(65535),
  maxBodyBytes: z.number().int().positive(),
  requestTimeoutMs: z.number().int().positive().optional(),
  logLevel: z.string(),
});
export type TWorkerConfig = z.infer<typeof ZWorkerConfig>;
export const WORKER_CONFIG_ENV = 'CMBN_SERVE_WORKER_CONFIG';
