import { z } from 'zod';
import { ZId, ZTimestamp } from './common.ts';

export const RUN_STATUSES = ['QUEUED', 'RUNNING', 'DISTILLING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export const ZRunStatus = z.enum(RUN_STATUSES);
export const ZLayerStatus = z.enum(['PENDING', 'RUNNING', 'DONE', 'FAILED']);

/**
 * `POST /v1/runs`' `distill` object: train, evaluate and (with `register`) register a student.
 * `student` is checked against the job catalog's student request (@cmbn/jobs ZStudentRequest) by
 * the coordinator: architecture (@cmbn/distill's union: `{kind: 'mlp'}` or `{kind: 'conv', filters,
 * kernel, stride}`, conv on square images only), hidden, target, epochs, batchSize, learningRate,
 * seed, temperature, precision, augment.
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

export const ZSubmittedRun = z
  .object({
    id: z.string(),
    status: ZRunStatus,
    ks: z.array(z.number().int()),
    /**
     * What the submitter should know about the run's params, each a sentence (the CLI prints them on
     * stderr as local training does): fewer than @cmbn/mbn MIN_V_PER_LAYER clusterings per layer.
     * Empty when there is nothing to say; never a refusal (a refused run is a 400).
     */
    warnings: z.array(z.string()),
  })
  .meta({ id: 'SubmittedRun' });
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

/**
 * What the finished run keeps beside its model (the coordinator's finish step): free-form, but the
 * fields that clients read are typed. mbnOutput is MBN's embedding and labels of the training
 * points (@cmbn/jobs ZTeacherRef), the projector's input; runs from before it have none.
 */
export const ZRunSummary = z.looseObject({
  modelBytes: z.number().int().min(0).optional(),
  mbnOutput: z.object({ embeddingSha256: z.string(), labelsSha256: z.string(), rows: z.number().int().min(0), c: z.number().int().min(1) }).optional(),
});

/** MBN's clusters against the run's true labels (@cmbn/metrics clusteringMetrics); null without labels. */
export const ZClusteringMetrics = z
  .object({ acc: z.number().min(0).max(1), nmi: z.number().min(0).max(1), ari: z.number().min(-1).max(1) })
  .meta({ id: 'ClusteringMetrics' });
export type TClusteringMetrics = z.infer<typeof ZClusteringMetrics>;

/** The fields that open both a run's view and its list row, in this order. */
const runHead = {
  id: z.string(),
  status: ZRunStatus,
  datasetId: z.string(),
  labelsId: z.string().nullable(),
  params: z.record(z.string(), z.unknown()),
};
/** When a run was created, started and finished: in both a run's view and its list row. */
const runTimes = {
  createdAt: ZTimestamp,
  startedAt: ZTimestamp.nullable(),
  finishedAt: ZTimestamp.nullable(),
};

export const ZRunView = z
  .object({
    ...runHead,
    distill: z.record(z.string(), z.unknown()).nullable(),
    ks: z.array(z.number().int()),
    /** null: each layer's shards are sized from its estimated cost. */
    shardSize: z.number().int().nullable(),
    currentLayer: z.number().int(),
    layers: z.array(ZRunLayer),
    etaSeconds: z.number().nullable(),
    modelHash: z.string().nullable(),
    metrics: ZClusteringMetrics.nullable(),
    summary: ZRunSummary.nullable(),
    /**
     * The distilled student (the CLI's `student` summary object), once the run succeeded. Free-form
     * here: its schema is @cmbn/pipeline's ZStudentSummary, which this package cannot import; the
     * CLI parses it with that schema.
     */
    student: z.record(z.string(), z.unknown()).nullable(),
    mbnSeconds: z.number().nullable(),
    error: z.string().nullable(),
    ...runTimes,
  })
  .meta({ id: 'Run' });
export type TRunView = z.infer<typeof ZRunView>;

export const ZCancelledRun = z.object({ id: z.string(), status: ZRunStatus }).meta({ id: 'CancelledRun' });
export type TCancelledRun = z.infer<typeof ZCancelledRun>;

/** One row of `GET /v1/runs` (the console's list). */
export const ZRunListItem = z
  .object({
    ...runHead,
    distill: z.boolean(),
    ks: z.array(z.number().int()),
    currentLayer: z.number().int(),
    metrics: ZClusteringMetrics.nullable(),
    modelHash: z.string().nullable(),
    error: z.string().nullable(),
    ...runTimes,
    /** Wall time from start to finish (or to now while it runs); null before it started. */
    durationSeconds: z.number().min(0).nullable(),
  })
  .meta({ id: 'RunListItem' });
export type TRunListItem = z.infer<typeof ZRunListItem>;
export const ZRunListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), status: ZRunStatus.optional() }).strict();
export const ZRunList = z.object({ runs: z.array(ZRunListItem) }).meta({ id: 'RunList' });
export type TRunList = z.infer<typeof ZRunList>;

/** The confusion matrix of MBN's clusters against the true labels, columns in matched order so the diagonal holds the hits ACC counts. */
export const ZConfusion = z
  .object({
    /** True label values, one per row, ascending. */
    classes: z.array(z.number().int()),
    /** Cluster ids, one per column: the cluster the Hungarian match gives row r sits in column r (−1: an empty column for a class no cluster matched), then the unmatched clusters ascending. */
    clusters: z.array(z.number().int()),
    /** classes.length × clusters.length counts. */
    counts: z.array(z.array(z.number().int().min(0))),
  })
  .meta({ id: 'Confusion' });
export type TConfusion = z.infer<typeof ZConfusion>;

const ZRange = z.tuple([z.number(), z.number()]);

/** `GET /v1/runs/:id/embedding`: the projector's summary of a run's embedding (the points come as binary). */
export const ZRunEmbedding = z
  .object({
    runId: z.string(),
    n: z.number().int().min(0),
    c: z.number().int().min(1),
    projection: z.object({
      method: z.string(),
      /** Share of the embedding's total variance on each axis. */
      explained: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]),
      /** [min, max] of the points on each axis; null when there are no points (n = 0). */
      bounds: z.object({ x: ZRange, y: ZRange }).nullable(),
    }),
    clusterSizes: z.array(z.object({ cluster: z.number().int(), count: z.number().int().min(1) })),
    hasTruth: z.boolean(),
    /** Null without true labels. */
    confusion: ZConfusion.nullable(),
    metrics: ZClusteringMetrics.nullable(),
    artifacts: z.object({ embeddingSha256: z.string(), labelsSha256: z.string() }),
    points: z.object({ url: z.string(), layout: z.string() }),
  })
  .meta({ id: 'RunEmbedding' });
export type TRunEmbedding = z.infer<typeof ZRunEmbedding>;

/**
 * `GET /v1/runs/:id/events` (Server-Sent Events): `event: progress` carries the trainer's progress
 * (@cmbn/mbn TrainProgress: layer/done/total while a layer runs, then pca, kmeans, model), `event:
 * status` each status change. Not JSON bodies, so not in the route table; the console parses each.
 */
export const ZRunProgress = z.object({
  stage: z.enum(['layer', 'pca', 'kmeans', 'model']),
  layers: z.number().int(),
  layer: z.number().int().optional(),
  k: z.number().int().optional(),
  done: z.number().int().min(0).optional(),
  total: z.number().int().min(0).optional(),
  unit: z.enum(['clusterings', 'shards']).optional(),
});
export type TRunProgress = z.infer<typeof ZRunProgress>;
export const ZRunProgressEvent = z.object({ type: z.literal('progress'), progress: ZRunProgress });
export type TRunProgressEvent = z.infer<typeof ZRunProgressEvent>;
export const ZRunStatusEvent = z.object({ type: z.literal('status'), status: ZRunStatus, error: z.string().nullable().optional(), modelHash: z.string().nullable().optional() });
export type TRunStatusEvent = z.infer<typeof ZRunStatusEvent>;
