import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ArtifactStore } from '@cmbn/artifacts';
import { parseLabels, parseMatrix, type Matrix } from '@cmbn/data';
import { DEFAULT_STUDENT_SPEC, loadStudent, readStudentMeta, saveStudent, validateSpec, type StudentSpec } from '@cmbn/distill';
import { BadInputError, classifyError, decodeTeacherEmbedding, decodeTeacherLabels, withInfraRetry, type JobContext, type JobPayload, type JobResult } from '@cmbn/jobs';
import { createDenseBackend } from '@cmbn/kernels';
import { deserializeModel, predict, type MbnModel } from '@cmbn/mbn';
import {
  directoryBytes,
  distillStudent,
  packStudentDirectory,
  publishStudent,
  pullStudent,
  studentMetrics,
  studentRecipe,
  studentSummary,
  type CentroidHead,
  type DistillResult,
  type StudentEvaluation,
  type StudentRecipe,
} from '@cmbn/pipeline';
import { findVersionByIdempotencyKey, type JsonObject } from '@cmbn/registry';

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
  const backend = await createDenseBackend({ prefer: 'ort' });
  try {
    return await predict(model, x, backend);
  } finally {
    await backend.dispose();
  }
}

/**
 * Thin: fetch the run's MBN model, dataset and MBN output by reference, train and evaluate the
 * student (`distillStudent`), and register it (`publishStudent`, idempotent on the run). A retry
 * whose earlier attempt already registered the student returns that version instead (read before
 * the dataset, which it does not need).
 */
export async function handleDistill(deps: DistillHandlerDeps, p: JobPayload<'distill'>, ctx: JobContext): Promise<JobResult<'distill'>> {
  const { store } = deps;
  let modelBytes = 0;
  const model = await read(deps, p.mbnModelSha256, 'MBN model', (b) => {
    modelBytes = b.byteLength;
    return deserializeModel(b, `model ${p.mbnModelSha256}`);
  });
  if (p.params.register !== undefined) {
    // An earlier attempt registered the student and crashed before the job completed: its READY
    // version is the result; training again would only redo minutes of work for the same answer.
    const register = p.params.register;
    const previous = await infra(deps, () => findVersionByIdempotencyKey(p.idempotencyKey, register));
    const done = previous?.status === 'READY' ? await resultOfRegistered(deps, previous.modelName, previous.version, modelBytes) : undefined;
    if (done) {
      ctx.log(`the student is already registered as ${done.name}:${done.version} by an earlier attempt; not retraining`);
      return done;
    }
  }
  const x = await read(deps, p.datasetSha256, `dataset ${p.datasetName}`, (b) => parseMatrix(b, p.datasetName));
  if (model.inputDims !== x.cols) throw new BadInputError(`the MBN model takes ${model.inputDims} columns, the dataset has ${x.cols}`);
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
  const spec: StudentSpec = {
    ...DEFAULT_STUDENT_SPEC,
    ...(req.hidden ? { hidden: req.hidden } : {}),
    ...(req.target ? { target: req.target } : {}),
    ...(req.epochs !== undefined ? { epochs: req.epochs } : {}),
    ...(req.batchSize !== undefined ? { batchSize: req.batchSize } : {}),
    ...(req.learningRate !== undefined ? { learningRate: req.learningRate } : {}),
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
  };
  try {
    validateSpec(spec);
  } catch (err) {
    throw new BadInputError(`student spec: ${(err as Error).message}`);
  }
  ctx.log(`distill: student [${spec.hidden.join(', ')}] → ${spec.target} on ${x.rows} points (attempt ${ctx.attempt})`);
  const res = await distillStudent({
    x,
    mbnLabels: teacher.labels,
    mbnEmbedding: teacher.embedding,
    classes: model.params.clusters,
    spec,
    mbnModel: model,
    ...(evalSet ? { evalSet } : {}),
    ...(trainTrue && trainTrue.length === x.rows ? { trainTrueLabels: trainTrue } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.precision !== undefined ? { precision: req.precision } : {}),
    ...(req.augment !== undefined ? { augment: req.augment } : {}),
    onEpoch: (e) => ctx.log(`student epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)} val ${e.valLoss.toFixed(4)}`),
  });
  const evaluation: StudentEvaluation = res.evaluation;
  const mbnParams = p.params.mbnParams as JsonObject;

  const dir = await mkdtemp(join(tmpdir(), 'cmbn-distill-'));
  try {
    await saveStudent(res.student, dir, {
      mbnModelHash: p.modelHash,
      datasetSha256: p.datasetSha256,
      runId: p.runId,
      params: mbnParams,
      evaluation,
      recipe: studentRecipe(res, spec),
      ...(res.head ? { head: res.head } : {}),
    });
    const studentBytes = await directoryBytes(dir);
    // The same fields as local `cmbn train --distill --json` (apps/cli/src/distill-step.ts), less the local `dir`.
    const student: Record<string, unknown> = {
      ...studentSummary(res, spec, { studentBytes, modelBytes }, p.params.register ?? null),
      workerId: deps.workerId,
    };
    const metrics = studentMetrics(student);
    let name: string | null = null;
    let version: number | null = null;
    let artifactSha256: string;
    let artifactBytes: number;
    const registerAs = p.params.register;
    if (registerAs !== undefined) {
      // Idempotent on the run (idempotencyKey), so a retry after a lost connection finds its own version.
      const v = await infra(deps, () => publishStudent({
        studentDir: dir,
        name: registerAs,
        store,
        lineage: { runId: p.runId, datasetSha256: p.datasetSha256, mbnModelHash: p.modelHash, params: mbnParams, backend: res.student.backend },
        metrics: { ...metrics, evaluatedOn: String(student.evaluatedOn), evalPoints: evaluation.points },
        tags: { source: 'coordinator run', runId: p.runId, dataset: p.datasetName, hidden: spec.hidden.join(','), target: spec.target },
        // One version per run: a retry after a crash finds (and finishes) the version of the first try.
        idempotencyKey: p.idempotencyKey,
      }));
      ({ name, version, artifactSha256, artifactBytes } = v);
      ctx.log(`registered ${v.name}:${v.version} (artifact sha256 ${v.artifactSha256})`);
      if (deps.testCrash === 'after-publish' && ctx.attempt === 1) {
        process.stderr.write(`TEST: crashing after publishing ${v.name}:${v.version}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    } else {
      const archive = await packStudentDirectory(dir);
      const put = await infra(deps, () => store.put(archive));
      artifactSha256 = put.sha256;
      artifactBytes = archive.byteLength;
    }
    Object.assign(student, { version, artifactSha256 });
    return { name, version, artifactSha256, artifactBytes, metrics, student };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The job result of a student an earlier attempt registered: its archive is pulled (sha256-checked)
 * and the summary rebuilt from its student.json, so it is the one the first attempt would have
 * returned, save for workerId. undefined when the student.json predates stored recipes.
 */
async function resultOfRegistered(
  deps: DistillHandlerDeps,
  name: string,
  version: number,
  modelBytes: number,
): Promise<JobResult<'distill'> | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-distill-retry-'));
  try {
    const pulled = await pullStudent({ ref: `${name}:${version}`, outDir: dir, store: deps.store });
    const trained = await loadStudent(dir);
    const meta = await readStudentMeta(dir);
    const recipe = meta.recipe as StudentRecipe | undefined;
    const evaluation = meta.evaluation as StudentEvaluation | undefined;
    // Registered by a worker from before recipes were stored: retrain (publishing then finds this version).
    if (recipe === undefined || evaluation === undefined) return undefined;
    const res: DistillResult = {
      student: trained,
      precision: recipe.precision,
      augmented: recipe.augmented,
      evaluation,
      ...(meta.head ? { head: meta.head as CentroidHead } : {}),
    };
    const spec: StudentSpec = { ...DEFAULT_STUDENT_SPEC, hidden: recipe.hidden, target: recipe.target };
    const student: Record<string, unknown> = {
      ...studentSummary(res, spec, { studentBytes: await directoryBytes(dir), modelBytes }, name),
      workerId: deps.workerId,
      version,
      artifactSha256: pulled.artifactSha256,
    };
    return { name, version, artifactSha256: pulled.artifactSha256, artifactBytes: pulled.artifactBytes, metrics: studentMetrics(student), student };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
