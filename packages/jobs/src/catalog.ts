import type { z } from 'zod';
import { distillJob } from './distill.job.ts';
import { gcJob } from './gc.job.ts';
import type { JobRunner } from './define.ts';
import { layerJob } from './layer.job.ts';
import { shardJob } from './shard.job.ts';

/** Every job kind of the platform. Add a `<kind>.job.ts` and list it here. */
export const jobCatalog = {
  shard: shardJob,
  layer: layerJob,
  distill: distillJob,
  gc: gcJob,
} as const;

export type JobCatalog = typeof jobCatalog;
export type JobKind = keyof JobCatalog;
export type JobPayload<K extends JobKind> = z.infer<JobCatalog[K]['payload']>;
export type JobResult<K extends JobKind> = z.infer<JobCatalog[K]['result']>;

/** Kinds consumed by one runner. */
export type KindsOf<R extends JobRunner> = { [K in JobKind]: JobCatalog[K]['runsOn'] extends R ? K : never }[JobKind];

export interface JobContext {
  /** BullMQ job id (deterministic, see ids.ts). */
  jobId: string;
  /** 1-based attempt number. */
  attempt: number;
  log: (msg: string) => void;
  /** Aborted when the job is cancelled (its run was cancelled) while running. */
  signal?: AbortSignal;
}

export type JobHandler<K extends JobKind> = (payload: JobPayload<K>, ctx: JobContext) => Promise<JobResult<K>>;

/**
 * The handlers a runner must provide: one per kind it consumes. A kind added to the catalog for a
 * runner makes that runner's handler map a compile error until its handler exists.
 */
export type HandlersFor<R extends JobRunner> = { [K in KindsOf<R>]: JobHandler<K> };

/** Queue name of a kind. BullMQ's `prefix` (CMBN_QUEUE_PREFIX) namespaces whole deployments and tests. */
export function queueName(kind: JobKind): string {
  return `cmbn-${kind}`;
}

/** The BullMQ options every job of `kind` is added with. */
export function jobOptions(kind: JobKind): { attempts: number; backoff: { type: 'exponential' | 'fixed'; delay: number } } {
  const { retry } = jobCatalog[kind];
  return { attempts: retry.attempts, backoff: { ...retry.backoff } };
}

export class PayloadError extends Error {
  readonly code = 'BAD_PAYLOAD';
}

/** Validates a payload read from Redis (a stale or foreign job must not crash a handler). */
export function parsePayload<K extends JobKind>(kind: K, data: unknown): JobPayload<K> {
  const r = jobCatalog[kind].payload.safeParse(data);
  if (!r.success) throw new PayloadError(`${kind} job payload is invalid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data as JobPayload<K>;
}

export function parseResult<K extends JobKind>(kind: K, data: unknown): JobResult<K> {
  const r = jobCatalog[kind].result.safeParse(data);
  if (!r.success) throw new PayloadError(`${kind} job result is invalid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data as JobResult<K>;
}
