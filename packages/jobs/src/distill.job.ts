import { z } from 'zod';
// The architecture entry point of @cmbn/distill, not its index: the index loads tfjs and
// onnxruntime (~2 s and ~70 MB per process, measured), which the coordinator and shard-only
// workers, importers of this catalog, never use. The union itself lives there, once.
import { checkArchitecture, STUDENT_TRAINERS, trainerProblem, ZStudentArchitecture } from '@cmbn/distill/architecture';
import { defineJob } from './define.ts';
import { ZSha256 } from './refs.ts';

/**
 * The student the distill job trains: `@cmbn/distill`'s StudentSpec fields that a user may set
 * (the rest keep DEFAULT_STUDENT_SPEC), plus the pipeline's knobs. Validated again by the handler
 * through `validateSpec`.
 */
export const ZStudentRequest = z
  .object({
    /** What reads the input before the dense layers (`@cmbn/distill`'s union); absent: the MLP. */
    architecture: ZStudentArchitecture.optional(),
    hidden: z.array(z.number().int().min(1).max(65_536)).min(1).max(16).optional(),
    target: z.enum(['labels', 'embedding']).optional(),
    epochs: z.number().int().min(1).max(10_000).optional(),
    batchSize: z.number().int().min(1).max(1_000_000).optional(),
    learningRate: z.number().positive().max(10).optional(),
    seed: z.number().int().min(0).optional(),
    /** Soft-target temperature (labels target); 0 trains on MBN's hard labels. */
    temperature: z.number().min(0).max(100).optional(),
    /** onnxruntime precision the student is evaluated and timed with. */
    precision: z.enum(['fp32', 'int8']).optional(),
    /** Distorted copies of square-image training points labelled by MBN (pipeline default when absent). */
    augment: z.number().int().min(0).max(10_000_000).optional(),
    /** The student's trainer: tfjs (the default) or onnxruntime (mlp only). */
    trainer: z.enum(STUDENT_TRAINERS).optional(),
  })
  .strict();
export type TStudentRequest = z.infer<typeof ZStudentRequest>;

/**
 * Why a (schema-valid) student request cannot train on rows of `inputDims` columns, or null: the
 * architecture's own check (a conv student needs square images, its kernel no larger than the
 * side). The coordinator asks at submission, so such a run is refused before hours of MBN.
 */
export function studentRequestProblem(req: TStudentRequest, inputDims: number): string | null {
  const trainer = trainerProblem(req.trainer, req.architecture);
  if (trainer !== null) return trainer;
  if (req.architecture === undefined) return null;
  try {
    checkArchitecture(req.architecture, inputDims);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * MBN's output on the training points, stored by the coordinator when the MBN stage ends, so the
 * distiller does not have to run MBN's slow `predict` on them again.
 */
export const ZTeacherRef = z.object({
  /** n × 1 int32 .npy: MBN's k-means label of every training point. */
  labelsSha256: ZSha256,
  /** n × c float64 .npy: MBN's embedding of every training point (soft targets, embedding target). */
  embeddingSha256: ZSha256,
  rows: z.number().int().min(1),
  c: z.number().int().min(1),
});
export type TTeacherRef = z.infer<typeof ZTeacherRef>;

/**
 * After the MBN stage of a run: train the student network on MBN's output for the run's dataset,
 * compare it with MBN on held-out points, and register it. Payloads carry references only
 * (artifact hashes and small parameters), never data.
 *
 * Retries are safe: publishing uses the run's idempotency key (`run:<runId>`, @cmbn/registry
 * runIdempotencyKey, made from `runId` by distilAndPublish), so a job that registered its version
 * and then crashed finds that version again on its retry instead of registering a second. (Payloads
 * queued before 2026-12-07 also carry it as `idempotencyKey`; parsing drops it.)
 */
export const distillJob = defineJob({
  kind: 'distill',
  runsOn: 'worker',
  payload: z.object({
    runId: z.string().min(1),
    /** The uploaded training matrix (the run's dataset). */
    datasetSha256: ZSha256,
    datasetName: z.string().min(1).default('dataset'),
    /** True labels of the training points (training-set metrics when there is no eval set). */
    labelsSha256: ZSha256.optional(),
    /** model.cmbn in the artifact store. */
    mbnModelSha256: ZSha256,
    /** sha256 of model.cmbn (its identity, recorded as the version's lineage). */
    modelHash: ZSha256,
    /** MBN's labels and embedding of the training points; absent: the handler predicts them. */
    teacher: ZTeacherRef.optional(),
    params: z.object({
      /** Registered model name; absent: the student is evaluated and stored but not registered. */
      register: z.string().min(1).max(128).optional(),
      student: ZStudentRequest.default({}),
      /** Held-out points for the comparison (an uploaded dataset, and its labels for ACC/NMI). */
      eval: z
        .object({
          datasetSha256: ZSha256,
          name: z.string().min(1).default('eval'),
          labelsSha256: ZSha256.optional(),
        })
        .optional(),
      /** The run's MBN params, recorded as the version's lineage. */
      mbnParams: z.record(z.string(), z.unknown()),
    }),
  }),
  result: z.object({
    /** Registered model name and version (null when the run did not ask to register). */
    name: z.string().nullable(),
    version: z.number().int().min(1).nullable(),
    /** The student's deterministic tar archive in the artifact store. */
    artifactSha256: ZSha256,
    artifactBytes: z.number().int().min(1),
    /** Numeric evaluation results (agreement, acc, nmi, mbnAcc, mbnNmi, speedup, throughputs, sizes). */
    metrics: z.record(z.string(), z.number()),
    /** The `student` object of the CLI's --json summary (the same fields as local `cmbn train --distill`). */
    student: z.record(z.string(), z.unknown()),
  }),
  // A lost worker or a transient store/database error is retried once; bad input is UnrecoverableError.
  retry: { attempts: 2, backoff: { type: 'exponential', delay: 10_000 } },
  timeoutMs: 6 * 60 * 60_000,
});
