import type { ArtifactStore } from '@cmbn/artifacts';
import { parseLabels, parseMatrix, type Matrix } from '@cmbn/data';
import { MLP, studentSpecFromRequest, type StudentSpec } from '@cmbn/distill';
import {
  BadInputError,
  CancelledError,
  classifyError,
  decodeTeacherEmbedding,
  decodeTeacherLabels,
  withInfraRetry,
  type JobContext,
  type JobPayload,
  type JobResult,
} from '@cmbn/jobs';
import { createMbnPredictor, deserializeModel, type MbnModel } from '@cmbn/mbn';
import { distilAndPublish, prismaRegistry, StudentCancelledError } from '@cmbn/pipeline';
import type { JsonObject } from '@cmbn/registry';

export interface DistillHandlerDeps {
  store: ArtifactStore;
  workerId: string;
  /** TEST ONLY: crash (SIGKILL this process) right after the student is registered, on the first try. */
  testCrash?: 'after-publish';
  /** Budget of retries of transient database/store errors inside the job (CMBN_INFRA_RETRY_MS); they use no attempt. */
  infraRetryMs: number;
}

/**
 * The registry and store calls of a distill job, retried through transient outages (a restarting
 * Postgres, S3 5xx) without using up one of the job's two attempts, each of which is minutes of training.
 */
function infra<T>(deps: DistillHandlerDeps, fn: () => Promise<T>): Promise<T> {
  return withInfraRetry(fn, { budgetMs: deps.infraRetryMs });
}

/** Reads an input artifact; anything no retry can fix becomes a BadInputError (the job fails at once). */
async function read<T>(deps: DistillHandlerDeps, sha256: string, what: string, parse: (b: Uint8Array) => T): Promise<T> {
  let bytes: Uint8Array;
  try {
    bytes = await infra(deps, () => deps.store.get(sha256));
  } catch (err) {
    if (classifyError(err) === 'bad-input') throw new BadInputError(`${what}: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  try {
    return parse(bytes);
  } catch (err) {
    throw new BadInputError(`${what}: ${(err as Error).message}`);
  }
}

async function teacherOutput(
  deps: DistillHandlerDeps,
  p: JobPayload<'distill'>,
  x: Matrix,
  model: MbnModel,
  ctx: JobContext,
): Promise<{ labels: Int32Array; embedding: Float64Array }> {
  const t = p.teacher;
  if (t) {
    if (t.rows !== x.rows || t.c !== model.pca.c) throw new BadInputError(`teacher output is ${t.rows}×${t.c}, expected ${x.rows}×${model.pca.c}`);
    return {
      labels: await read(deps, t.labelsSha256, 'MBN labels', (b) => decodeTeacherLabels(b, 'MBN labels', x.rows)),
      embedding: await read(deps, t.embeddingSha256, 'MBN embedding', (b) => decodeTeacherEmbedding(b, 'MBN embedding', x.rows, t.c)),
    };
  }
  // No stored teacher output (an older coordinator): MBN's predict on the training points gives the same.
  ctx.log(`labelling ${x.rows} training points with MBN's predict`);
  const predictor = createMbnPredictor(model);
  try {
    return await predictor.predict(x);
  } finally {
    await predictor.dispose();
  }
}

/**
 * Thin: fetch the run's MBN model, dataset and MBN output by reference, then @cmbn/pipeline's
 * distilAndPublish (the CLI's path too) trains, evaluates and registers the student, idempotent on
 * the run: a retry whose earlier attempt already registered it returns that version without
 * training again. A cancelled run (ctx.signal, or CANCELLED in Postgres) registers nothing.
 */
export async function handleDistill(deps: DistillHandlerDeps, p: JobPayload<'distill'>, ctx: JobContext): Promise<JobResult<'distill'>> {
  let modelBytes = 0;
  const model = await read(deps, p.mbnModelSha256, 'MBN model', (b) => {
    modelBytes = b.byteLength;
    return deserializeModel(b, `model ${p.mbnModelSha256}`);
  });
  const x = await read(deps, p.datasetSha256, `dataset ${p.datasetName}`, (b) => parseMatrix(b, p.datasetName));
  if (model.inputDims !== x.cols) throw new BadInputError(`the MBN model takes ${model.inputDims} columns, the dataset has ${x.cols}`);
  const spec = specOf(p, x.cols);
  const trainTrue = p.labelsSha256 ? await read(deps, p.labelsSha256, 'training labels', (b) => parseLabels(b, 'training labels')) : undefined;
  const ev = p.params.eval;
  let evalSet: { x: Matrix; name: string; trueLabels?: Int32Array } | undefined;
  if (ev) {
    const ex = await read(deps, ev.datasetSha256, `eval dataset ${ev.name}`, (b) => parseMatrix(b, ev.name));
    if (ex.cols !== x.cols || ex.dtype !== x.dtype) throw new BadInputError(`eval dataset ${ev.name} is ${ex.dtype} × ${ex.cols}, the training data ${x.dtype} × ${x.cols}`);
    const truth = ev.labelsSha256 ? await read(deps, ev.labelsSha256, `labels of ${ev.name}`, (b) => parseLabels(b, `labels of ${ev.name}`)) : undefined;
    if (truth && truth.length !== ex.rows) throw new BadInputError(`eval labels: ${truth.length} for ${ex.rows} points`);
    evalSet = { x: ex, name: ev.name, ...(truth ? { trueLabels: truth } : {}) };
  }
  const teacher = await teacherOutput(deps, p, x, model, ctx);
  const req = p.params.student;
  ctx.log(`distill: ${(spec.architecture ?? MLP).kind} student [${spec.hidden.join(', ')}] → ${spec.target} on ${x.rows} points (attempt ${ctx.attempt})`);
  try {
    const r = await distilAndPublish(
      {
        x,
        ...(trainTrue ? { trainTrueLabels: trainTrue } : {}),
        teacher,
        mbn: { model, modelHash: p.modelHash, modelBytes, params: p.params.mbnParams as JsonObject },
        spec,
        ...(evalSet ? { evalSet } : {}),
        ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
        ...(req.precision !== undefined ? { precision: req.precision } : {}),
        ...(req.augment !== undefined ? { augment: req.augment } : {}),
        ...(req.trainer !== undefined ? { trainer: req.trainer } : {}),
        ...(p.params.register !== undefined ? { register: p.params.register } : {}),
        runId: p.runId,
        tags: { source: 'coordinator run', runId: p.runId, dataset: p.datasetName },
      },
      {
        registry: prismaRegistry,
        store: deps.store,
        log: ctx.log,
        infra: (fn) => infra(deps, fn),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onEpoch: (e) => ctx.log(`student epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)} val ${e.valLoss.toFixed(4)}`),
        afterPublish: (v) => {
          if (deps.testCrash === 'after-publish' && ctx.attempt === 1) {
            process.stderr.write(`TEST: crashing after publishing ${v.name}:${v.version}\n`);
            process.kill(process.pid, 'SIGKILL');
          }
        },
      },
    );
    const student = { ...r.summary, workerId: deps.workerId };
    return { name: r.name, version: r.version, artifactSha256: r.artifactSha256!, artifactBytes: r.artifactBytes!, metrics: r.metrics, student };
  } catch (err) {
    if (err instanceof StudentCancelledError || (err as Error).name === 'AbortError') throw new CancelledError((err as Error).message);
    throw err;
  }
}

/**
 * The job's student request over DEFAULT_STUDENT_SPEC, by the builder the CLI's studentSpecFromOptions
 * uses locally (@cmbn/distill studentSpecFromRequest, so both paths train the same student); a spec
 * that cannot train on rows of `inputDims` columns fails the job at once.
 */
function specOf(p: JobPayload<'distill'>, inputDims: number): StudentSpec {
  try {
    return studentSpecFromRequest(p.params.student, inputDims);
  } catch (err) {
    throw new BadInputError(`student spec: ${(err as Error).message}`);
  }
}
