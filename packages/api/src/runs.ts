import { z } from 'zod';
import { ZId, ZTimestamp } from './common.ts';

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'DISTILLING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export const ZRunStatus = z.enum(RUN_STATUSES);
export const ZLayerStatus = z.enum(['PENDING', 'RUNNING', 'DONE', 'FAILED']);

/**
 * `POST /v1/runs`' `distill` object: train, evaluate and (with `register`) register a student.
 * `student` is checked against the job catalog's student request (@cmbn/jobs ZStudentRequest) by
 * the coordinator: hidden, target, epochs, batchSize, learningRate, seed, temperature, precision, augment.
 */
export const ZDistillRequestBody = z
  .object({
    register: z.string().min(1).max(128).optional(),
    student: z.record(z.string(), z.unknown()).optional(),
    evalDatasetId: z.string().min(1).optional(),
    evalLabelsId: z.string().min(1).optional(),
  })
  .strict()
  .meta({ id: 'DistillRequest' });

export const ZSubmitRunBody = z
  .object({
    datasetId: ZId,
    labelsId: ZId.optional(),
    /** MBN params as the CLI's (@cmbn/mbn ZMbnParams); validated there. */
    params: z.record(z.string(), z.unknown()).default({}),
    /** Clusterings per shard (scheduling only; never changes the model). */
    shardSize: z.number().int().min(1).max(100_000).optional(),
    /** After MBN: train, evaluate and (with `register`) register a student network. */
    distill: ZDistillRequestBody.optional(),
  })
  .strict()
  .meta({ id: 'SubmitRun' });
export type TSubmitRunBody = z.infer<typeof ZSubmitRunBody>;

export const ZSubmittedRun = z.object({ id: z.string(), status: ZRunStatus, ks: z.array(z.number().int()) }).meta({ id: 'SubmittedRun' });
export type TSubmittedRun = z.infer<typeof ZSubmittedRun>;

export const ZRunLayer = z
  .object({
    layer: z.number().int(),
    k: z.number().int(),
    status: ZLayerStatus,
    shardsDone: z.number().int(),
    shardsTotal: z.number().int(),
    /** Shards per status (PENDING, QUEUED, RUNNING, DONE, FAILED). */
    shards: z.record(z.string(), z.number().int()),
    seconds: z.number().nullable(),
  })
  .meta({ id: 'RunLayer' });
export type TRunLayer = z.infer<typeof ZRunLayer>;

export const ZRunView = z
  .object({
    id: z.string(),
    status: ZRunStatus,
    datasetId: z.string(),
    labelsId: z.string().nullable(),
    params: z.record(z.string(), z.unknown()),
    distill: z.record(z.string(), z.unknown()).nullable(),
    ks: z.array(z.number().int()),
    /** null: each layer's shards are sized from its estimated cost. */
    shardSize: z.number().int().nullable(),
    currentLayer: z.number().int(),
    layers: z.array(ZRunLayer),
    etaSeconds: z.number().nullable(),
    modelHash: z.string().nullable(),
    metrics: z.record(z.string(), z.unknown()).nullable(),
    summary: z.record(z.string(), z.unknown()).nullable(),
    /** The distilled student (the CLI's `student` summary object), once the run succeeded. */
    student: z.record(z.string(), z.unknown()).nullable(),
    mbnSeconds: z.number().nullable(),
    error: z.string().nullable(),
    createdAt: ZTimestamp,
    startedAt: ZTimestamp.nullable(),
    finishedAt: ZTimestamp.nullable(),
  })
  .meta({ id: 'Run' });
export type TRunView = z.infer<typeof ZRunView>;

export const ZCancelledRun = z.object({ id: z.string(), status: ZRunStatus }).meta({ id: 'CancelledRun' });
export type TCancelledRun = z.infer<typeof ZCancelledRun>;

/** One row of `GET /v1/runs` (the console's list). */
export const ZRunListItem = z
  .object({
    id: z.string(),
    status: ZRunStatus,
    datasetId: z.string(),
    labelsId: z.string().nullable(),
    params: z.record(z.string(), z.unknown()),
    distill: z.boolean(),
    ks: z.unknown(),
    currentLayer: z.number().int(),
    metrics: z.unknown(),
    modelHash: z.string().nullable(),
    error: z.string().nullable(),
    createdAt: ZTimestamp,
    startedAt: ZTimestamp.nullable(),
    finishedAt: ZTimestamp.nullable(),
    durationSeconds: z.number().nullable(),
  })
  .meta({ id: 'RunListItem' });
export const ZRunListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), status: ZRunStatus.optional() }).strict();
export const ZRunList = z.object({ runs: z.array(ZRunListItem) }).meta({ id: 'RunList' });

/** `GET /v1/runs/:id/embedding`: the projector's summary of a run's embedding (the points come as binary). */
export const ZRunEmbedding = z
  .object({
    runId: z.string(),
    n: z.number().int(),
    c: z.number().int(),
    projection: z.object({ method: z.string(), explained: z.array(z.number()), bounds: z.object({ x: z.array(z.number()), y: z.array(z.number()) }) }),
    clusterSizes: z.array(z.object({ cluster: z.number().int(), count: z.number().int() })),
    hasTruth: z.boolean(),
    confusion: z.unknown(),
    metrics: z.unknown(),
    artifacts: z.object({ embeddingSha256: z.string(), labelsSha256: z.string() }),
    points: z.object({ url: z.string(), layout: z.string() }),
  })
  .meta({ id: 'RunEmbedding' });
