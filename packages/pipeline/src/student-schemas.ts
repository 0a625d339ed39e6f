/**
 * The pipeline's student contracts, each one zod schema used by its writer and its reader:
 * - ZStudentRecipe: how the student was made (student.json meta.recipe);
 * - ZCentroidHead: the k-means centroids that turn an embedding student's output into labels (meta.head);
 * - ZStudentEvaluation: the student/MBN comparison (meta.evaluation);
 * - ZStudentMeta: student.json's `meta` as a whole (lineage + the three above), written by
 *   distilAndPublish and read by the retry path, `cmbn predict` and the scoring server;
 * - ZStudentSummary: the `student` object of `train --json` and of a run's summary (the job result).
 */
import { z } from 'zod';
import { ARCHITECTURE_KINDS, MLP, ZStudentArchitecture } from '@cmbn/distill';

const ZArchitectureKind = z.enum(ARCHITECTURE_KINDS as [string, ...string[]]);

export const ZStudentRecipe = z
  .object({
    /** The MLP for students made before architectures were named. */
    architecture: ZStudentArchitecture.default(MLP),
    hidden: z.array(z.number().int().min(1)).min(0),
    target: z.enum(['labels', 'embedding']),
    augmented: z.number().int().min(0),
    precision: z.enum(['fp32', 'int8']),
  })
  .strict();
export type TStudentRecipe = z.infer<typeof ZStudentRecipe>;

export const ZCentroidHead = z
  .object({
    kind: z.literal('nearest-centroid'),
    /** Number of clusters. */
    k: z.number().int().min(1),
    /** k × dim, row-major. */
    centroids: z.array(z.number()),
  })
  .strict();
export type TCentroidHead = z.infer<typeof ZCentroidHead>;

const unit = z.number().min(0).max(1);
export const ZStudentEvaluation = z
  .object({
    /** 'eval': held-out points; 'train': the training points (no eval set was given). */
    on: z.enum(['eval', 'train']),
    evalName: z.string().optional(),
    points: z.number().int().min(0),
    /** Fraction of points where the student's label equals MBN's label. */
    agreement: unit,
    acc: unit.optional(),
    nmi: unit.optional(),
    mbnAcc: unit.optional(),
    mbnNmi: unit.optional(),
    /** Points the throughputs were measured on (the same points for both). */
    timingPoints: z.number().int().min(0),
    studentPointsPerSecond: z.number().positive(),
    mbnPointsPerSecond: z.number().positive(),
    speedup: z.number().positive(),
  })
  .strict();
export type TStudentEvaluation = z.infer<typeof ZStudentEvaluation>;

const ZSha = z.string().regex(/^[0-9a-f]{64}$/);

export const ZStudentMeta = z
  .object({
    /** sha256 of the MBN model.cmbn the student was distilled from. */
    mbnModelHash: ZSha,
    /** datasetSha256 (digests.ts) of the training matrix. */
    datasetSha256: ZSha,
    runId: z.string().min(1).nullable().default(null),
    /** MBN's params. */
    params: z.record(z.string(), z.unknown()),
    evaluation: ZStudentEvaluation,
    recipe: ZStudentRecipe,
    head: ZCentroidHead.optional(),
  })
  .strict();
export type TStudentMeta = z.infer<typeof ZStudentMeta>;

export const ZStudentSummary = z
  .object({
    acc: unit.optional(),
    nmi: unit.optional(),
    agreement: unit,
    speedup: z.number().positive(),
    backend: z.string().min(1),
    name: z.string().nullable(),
    version: z.number().int().min(1).nullable(),
    artifactSha256: ZSha.optional(),
    studentPointsPerSecond: z.number().positive(),
    mbnPointsPerSecond: z.number().positive(),
    mbnAcc: unit.optional(),
    mbnNmi: unit.optional(),
    studentBytes: z.number().int().positive(),
    modelBytes: z.number().int().positive(),
    sizeRatio: z.number().positive(),
    evaluatedOn: z.string().min(1),
    evalPoints: z.number().int().min(0),
    timingPoints: z.number().int().min(0),
    architecture: ZArchitectureKind,
    hidden: z.array(z.number().int().min(1)),
    target: z.enum(['labels', 'embedding']),
    epochs: z.number().int().min(0),
    augmented: z.number().int().min(0),
    trainSeconds: z.number().min(0),
    runtime: z.literal('onnxruntime'),
    precision: z.enum(['fp32', 'int8']),
    /** Local runs: the student directory. */
    dir: z.string().optional(),
    /** Remote runs: the worker that trained it. */
    workerId: z.string().optional(),
  })
  .strict();
export type TStudentSummary = z.infer<typeof ZStudentSummary>;

/** Parses with a message naming what was read and its first bad field. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new TypeError(`${what}: ${i.path.join('.') || '(root)'}: ${i.message}`);
}
