/**
 * The distillation stage of a run (issue 4): after MBN, the run is DISTILLING while a worker
 * trains, evaluates and registers the student (`distill` job); its result ends the run SUCCEEDED
 * with the student's summary, its final failure ends it FAILED.
 *
 * The request is kept in the run's params under `distill` (the run table has no other place for
 * it), so a restarted coordinator can re-add a lost job from Postgres alone.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  ZStudentRequest,
  ZTeacherRef,
  distillJobId,
  jobOptions,
  parseDistillJobId,
  parseResult,
  studentRequestProblem,
  type JobPayload,
  type TTeacherRef,
} from '@cmbn/jobs';
import type { TMbnParams } from '@cmbn/mbn';
import { RegistryError, getDataset, getRun, parseModelRef, setRunStatus, type DatasetRecord, type JsonObject, type Run } from '@cmbn/registry';
import { AppError } from './errors.ts';
import type { ProgressBus } from './progress-bus.ts';
import { jobWithState, type Queues } from './queues.ts';

/** `POST /v1/runs` body's `distill` object. */
export const ZDistillRequest = z
  .object({
    /** Register the student under this model name (a new version per run). */
    register: z.string().min(1).max(128).optional(),
    student: ZStudentRequest.optional(),
    /** Held-out points (an uploaded dataset) for the student/MBN comparison. */
    evalDatasetId: z.string().min(1).optional(),
    /** Labels uploaded for evalDatasetId (?labelsFor=), for ACC/NMI on the held-out points. */
    evalLabelsId: z.string().min(1).optional(),
  })
  .strict();
export type TDistillRequest = z.infer<typeof ZDistillRequest>;

/** The run's params as stored: MBN's params, plus the distill request when there is one. */
export function splitRunParams(stored: unknown): { mbn: Record<string, unknown>; distill: TDistillRequest | null } {
  const { distill, ...mbn } = (stored ?? {}) as Record<string, unknown>;
  return { mbn, distill: distill === undefined || distill === null ? null : ZDistillRequest.parse(distill) };
}

/** Checks a request at submission so that a run does not fail hours later on a typo. */
export async function validateDistillRequest(req: TDistillRequest, dataset: DatasetRecord): Promise<void> {
  if (req.register !== undefined) {
    const ref = parseModelRef(req.register);
    if ('alias' in ref || 'version' in ref) throw new AppError('BAD_REQUEST', `distill.register must be a plain model name, got ${JSON.stringify(req.register)}`);
  }
  // The schema checked each field; whether the architecture can read these rows needs the dataset.
  const problem = req.student ? studentRequestProblem(req.student, dataset.cols) : null;
  if (problem !== null) throw new AppError('BAD_REQUEST', `distill.student.architecture: ${problem} (dataset ${dataset.id})`);
  if (req.evalLabelsId !== undefined && req.evalDatasetId === undefined) throw new AppError('BAD_REQUEST', 'distill.evalLabelsId needs distill.evalDatasetId');
  if (req.evalDatasetId !== undefined) {
    const ev = await getDataset(req.evalDatasetId);
    if (ev.labelsOf !== null) throw new AppError('BAD_REQUEST', `eval dataset ${req.evalDatasetId} is a labels file, not a data matrix`);
    if (ev.cols !== dataset.cols) throw new AppError('BAD_REQUEST', `eval dataset ${ev.id} has ${ev.cols} columns, the training data ${dataset.cols}`);
    if (req.evalLabelsId !== undefined) {
      const labels = await getDataset(req.evalLabelsId);
      if (labels.labelsOf !== ev.sha256) throw new AppError('BAD_REQUEST', `labels ${req.evalLabelsId} were not uploaded for eval dataset ${ev.id} (use ?labelsFor=${ev.id})`);
    }
  }
}

export interface DistillPayloadInput {
  run: Run;
  dataset: DatasetRecord;
  mbnParams: Record<string, unknown>;
  request: TDistillRequest;
  mbnModelSha256: string;
  modelHash: string;
  teacher?: TTeacherRef;
}

export async function buildDistillPayload(i: DistillPayloadInput): Promise<JobPayload<'distill'>> {
  const labels = i.run.labelsId ? await getDataset(i.run.labelsId) : undefined;
  const r = i.request;
  let evalRef: JobPayload<'distill'>['params']['eval'];
  if (r.evalDatasetId !== undefined) {
    const ev = await getDataset(r.evalDatasetId);
    const evLabels = r.evalLabelsId !== undefined ? await getDataset(r.evalLabelsId) : undefined;
    evalRef = { datasetSha256: ev.sha256, name: ev.name, ...(evLabels ? { labelsSha256: evLabels.sha256 } : {}) };
  }
  return {
    runId: i.run.id,
    datasetSha256: i.dataset.sha256,
    datasetName: i.dataset.name,
    ...(labels ? { labelsSha256: labels.sha256 } : {}),
    mbnModelSha256: i.mbnModelSha256,
    modelHash: i.modelHash,
    ...(i.teacher ? { teacher: i.teacher } : {}),
    params: {
      ...(r.register !== undefined ? { register: r.register } : {}),
      student: r.student ?? {},
      ...(evalRef ? { eval: evalRef } : {}),
      mbnParams: i.mbnParams,
    },
  };
}

/** Adds the run's distill job; its id is deterministic, so adding it again is a no-op. */
export async function enqueueDistill(queues: Queues, payload: JobPayload<'distill'>): Promise<void> {
  await queues.distill.add('distill', payload, { jobId: distillJobId(payload.runId), ...jobOptions('distill') });
}

/** The teacher refs recorded in the run's summary by finishRun (absent on runs of older coordinators). */
export function teacherOf(summary: unknown): TTeacherRef | undefined {
  const t = (summary as { mbnOutput?: unknown } | null)?.mbnOutput;
  const r = ZTeacherRef.safeParse(t);
  return r.success ? r.data : undefined;
}

/** What the stage needs to know of a run (the orchestrator's parsed run context). */
export interface DistillRunContext {
  run: Run;
  dataset: DatasetRecord;
  params: TMbnParams;
  distill: TDistillRequest | null;
}

export interface DistillStageDeps {
  queues: Queues;
  bus: ProgressBus;
  log: Logger;
  /** The orchestrator's per-run serialisation: every run state change goes through it. */
  withRunLock: <T>(runId: string, fn: () => Promise<T>) => Promise<T>;
  failRun: (runId: string, error: string) => Promise<void>;
  /** The run ended here (SUCCEEDED, or found already ended): the orchestrator drops its per-run state. */
  ended?: (runId: string) => void;
}

/** The DISTILLING part of a run's life: queue the job, apply its outcome, recover it after a restart. */
export class DistillStage {
  constructor(private readonly d: DistillStageDeps) {}

  /** The run is DISTILLING: queue its distill job (again: the job id is deterministic). */
  async queue(c: DistillRunContext, ref: { mbnModelSha256: string; modelHash: string; teacher?: TTeacherRef }): Promise<void> {
    const payload = await buildDistillPayload({ run: c.run, dataset: c.dataset, mbnParams: c.params as unknown as Record<string, unknown>, request: c.distill!, ...ref });
    await enqueueDistill(this.d.queues, payload);
    this.d.bus.emit(c.run.id, { type: 'status', status: 'DISTILLING', modelHash: ref.modelHash });
    this.d.log.info({ runId: c.run.id, register: c.distill?.register }, 'distillation queued');
  }

  async onCompleted(jobId: string, returnvalue: unknown): Promise<void> {
    const id = parseDistillJobId(jobId);
    if (id) await this.d.withRunLock(id.runId, () => this.finish(id.runId, returnvalue));
  }

  /** Only a final failure (retries exhausted, or bad input) reaches here. */
  async onFailed(jobId: string, reason: string): Promise<void> {
    const id = parseDistillJobId(jobId);
    if (id) await this.d.withRunLock(id.runId, () => this.d.failRun(id.runId, `distillation failed: ${reason}`));
  }

  /** A DISTILLING run (under its lock): re-add a lost job, or apply an outcome whose event was missed. */
  async reconcile(c: DistillRunContext): Promise<void> {
    const found = await jobWithState(this.d.queues.distill, distillJobId(c.run.id));
    if (!found) {
      if (!c.run.modelSha256 || !c.run.modelHash || !c.distill) return this.d.failRun(c.run.id, 'DISTILLING without a model or distill request');
      this.d.log.warn({ runId: c.run.id }, 'distill job missing from Redis: queueing it again');
      const teacher = teacherOf(c.run.summary);
      await this.queue(c, { mbnModelSha256: c.run.modelSha256, modelHash: c.run.modelHash, ...(teacher ? { teacher } : {}) });
      return;
    }
    const { job, state } = found;
    if (state === 'completed') await this.finish(c.run.id, job.returnvalue);
    else if (state === 'failed') await this.d.failRun(c.run.id, `distillation failed: ${job.failedReason}`);
  }

  /** Under the run's lock: the student's summary goes into the run, which ends SUCCEEDED. */
  private async finish(runId: string, returnvalue: unknown): Promise<void> {
    const r = parseResult('distill', typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue);
    const run = await getRun(runId);
    if (run.status !== 'DISTILLING') return this.d.ended?.(runId);
    const summary = { ...((run.summary ?? {}) as JsonObject), student: r.student };
    let done: Run;
    try {
      done = await setRunStatus(runId, 'SUCCEEDED', { summary });
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'CONFLICT') return this.d.ended?.(runId); // cancelled meanwhile
      throw err;
    }
    this.d.ended?.(runId);
    this.d.bus.emit(runId, { type: 'status', status: 'SUCCEEDED', modelHash: done.modelHash });
    this.d.log.info({ runId, name: r.name, version: r.version }, 'run finished: student distilled');
  }
}
