/**
 * distilAndPublish: the one use case behind `cmbn train --distill [--register]` and the worker's
 * distill job. Train + evaluate the student (distillStudent), save it (tfjs + ONNX files, student.json
 * with a checked meta), and register it (publishStudent) — or, when not registering, put its archive
 * in the store if one is given. The CLI and the worker are thin adapters: they gather the inputs
 * (from memory, or from the artifact store by reference) and map errors to their edge.
 *
 * One rule for each of:
 * - lineage: datasetSha256 of the training matrix (digests.ts), MBN's modelHash and params, the run;
 * - the idempotency key (studentIdempotencyKey): `run:<runId>` for a run (so a retried job finds
 *   the version of its first try before training again), `<name>:<archive sha256>` otherwise (the
 *   same student published twice under one name is one version);
 * - cancellation: `signal` stops training between batches, and a cancelled run registers nothing
 *   (checked right before the version is created).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { ArtifactStore } from '@cmbn/artifacts';
import type { Matrix } from '@cmbn/data';
import { loadStudent, readStudentMeta, saveStudent, type StudentPrecision, type StudentSpec, type StudentTrainer } from '@cmbn/distill';
import type { MbnModel } from '@cmbn/mbn';
import { RegistryError, runIdempotencyKey, type JsonObject } from '@cmbn/registry';
import { datasetSha256, directoryBytes } from './digests.ts';
import { distillStudent, type DistillInput } from './distill-student.ts';
import { PipelineError } from './errors.ts';
import { packStudentDirectory, publishStudent } from './publish.ts';
import { pullStudent } from './pull.ts';
import type { RegistryPort } from './registry-port.ts';
import { parseWith, ZStudentMeta, type TStudentMeta, type TStudentSummary } from './student-schemas.ts';
import { studentMetrics, studentRecipe, studentSummary } from './student-summary.ts';

export interface DistilAndPublishRequest {
  /** The training points (those MBN was trained on) and, optionally, their true labels. */
  x: Matrix;
  trainTrueLabels?: Int32Array;
  /** MBN's output on x. */
  teacher: { labels: Int32Array; embedding: Float64Array };
  mbn: { model: MbnModel; modelHash: string; modelBytes: number; params: JsonObject };
  /** A validated spec (validateSpec). */
  spec: StudentSpec;
  evalSet?: { x: Matrix; name?: string; trueLabels?: Int32Array };
  temperature?: number;
  precision?: StudentPrecision;
  augment?: number;
  /** The student's trainer (default tfjs). */
  trainer?: StudentTrainer;
  threads?: number;
  /** Register under this model name (needs ports.registry and ports.store). */
  register?: string;
  runId?: string | null;
  /** Recorded on the version (e.g. source, dataset). */
  tags?: JsonObject;
  /** Keep the student's files here; default a temp directory removed afterwards. */
  outDir?: string;
}

export interface DistilAndPublishPorts {
  registry?: RegistryPort;
  store?: ArtifactStore;
  log?: (line: string) => void;
  onEpoch?: DistillInput['onEpoch'];
  onStage?: DistillInput['onStage'];
  onAugment?: DistillInput['onAugment'];
  /** Aborts training (between batches) and the publish. */
  signal?: AbortSignal;
  /** Wraps each registry/store call (the worker retries transient outages through it). */
  infra?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** TEST ONLY: called right after the version is READY. */
  afterPublish?: (v: { name: string; version: number }) => void;
}

export interface DistilAndPublishResult {
  summary: TStudentSummary;
  metrics: Record<string, number>;
  /** The student's archive in the store (undefined when nothing was stored). */
  artifactSha256?: string;
  artifactBytes?: number;
  name: string | null;
  version: number | null;
  /** outDir when given. */
  dir?: string;
  /** true when a READY version of an earlier attempt was returned without training again. */
  reused: boolean;
}

export function studentIdempotencyKey(o: { runId?: string | null; name: string; archiveSha256: string }): string {
  return o.runId ? runIdempotencyKey(o.runId) : `${o.name}:${o.archiveSha256}`;
}

/** A cancelled operation: the adapters map it to their own cancellation (BullMQ's, the CLI's exit). */
export class StudentCancelledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StudentCancelledError';
  }
}

function checkNotCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new StudentCancelledError(`${what}: ${String(signal.reason ?? 'cancelled')}`);
}

export async function distilAndPublish(req: DistilAndPublishRequest, ports: DistilAndPublishPorts = {}): Promise<DistilAndPublishResult> {
  const infra = ports.infra ?? (<T>(fn: () => Promise<T>) => fn());
  const log = ports.log ?? (() => {});
  if (req.register !== undefined && (!ports.registry || !ports.store)) {
    throw new PipelineError('INVALID', 'registering a student needs a registry and an artifact store');
  }
  if (req.register !== undefined && req.runId) {
    const reused = await resultOfRegistered(req, ports, infra);
    if (reused) {
      log(`the student is already registered as ${reused.name}:${reused.version} by an earlier attempt; not retraining`);
      return reused;
    }
  }
  const res = await distillStudent({
    x: req.x,
    mbnLabels: req.teacher.labels,
    mbnEmbedding: req.teacher.embedding,
    classes: req.mbn.model.params.clusters,
    spec: req.spec,
    mbnModel: req.mbn.model,
    ...(req.evalSet ? { evalSet: req.evalSet } : {}),
    ...(req.trainTrueLabels && req.trainTrueLabels.length === req.x.rows ? { trainTrueLabels: req.trainTrueLabels } : {}),
    ...(req.threads !== undefined ? { threads: req.threads } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.precision !== undefined ? { precision: req.precision } : {}),
    ...(req.augment !== undefined ? { augment: req.augment } : {}),
    ...(req.trainer !== undefined ? { trainer: req.trainer } : {}),
    ...(ports.onEpoch ? { onEpoch: ports.onEpoch } : {}),
    ...(ports.onStage ? { onStage: ports.onStage } : {}),
    ...(ports.onAugment ? { onAugment: ports.onAugment } : {}),
    ...(ports.signal ? { signal: ports.signal } : {}),
  });
  checkNotCancelled(ports.signal, 'distillation cancelled');
  const recipe = studentRecipe(res, req.spec);
  const meta: TStudentMeta = parseWith(
    ZStudentMeta,
    {
      mbnModelHash: req.mbn.modelHash,
      datasetSha256: datasetSha256(req.x),
      runId: req.runId ?? null,
      params: req.mbn.params,
      evaluation: res.evaluation,
      recipe,
      ...(res.head ? { head: res.head } : {}),
    },
    'student meta',
  );
  const tmp = req.outDir === undefined ? await mkdtemp(join(tmpdir(), 'cmbn-student-')) : undefined;
  const dir = req.outDir ?? tmp!;
  try {
    await saveStudent(res.student, dir, meta);
    const studentBytes = await directoryBytes(dir);
    const summary = studentSummary(res, recipe, { studentBytes, modelBytes: req.mbn.modelBytes }, req.register ?? null);
    const metrics = studentMetrics(summary);
    const out: DistilAndPublishResult = { summary, metrics, name: null, version: null, reused: false, ...(req.outDir ? { dir } : {}) };
    const archive = await packStudentDirectory(dir);
    const archiveSha256 = createHash('sha256').update(archive).digest('hex');
    if (req.register !== undefined) {
      const name = req.register;
      // A run cancelled while its student trained registers nothing (the signal may not have reached
      // this process: the run's state in the registry is the authority).
      checkNotCancelled(ports.signal, 'distillation cancelled');
      if (req.runId && (await infra(() => ports.registry!.isRunCancelled(req.runId!)))) {
        throw new StudentCancelledError(`run ${req.runId} was cancelled; its student is not registered`);
      }
      // The check above leaves a window (training is done, the upload is not): a cancel inside it is
      // caught by the registry, which refuses READY for a cancelled run's version (CANCELLED).
      const v = await infra(() =>
        publishStudent({
          studentDir: dir,
          name,
          store: ports.store!,
          registry: ports.registry!,
          lineage: { runId: meta.runId, datasetSha256: meta.datasetSha256, mbnModelHash: meta.mbnModelHash, params: req.mbn.params, backend: res.student.backend },
          metrics: { ...metrics, evaluatedOn: summary.evaluatedOn, evalPoints: summary.evalPoints },
          tags: { ...(req.tags ?? {}), architecture: recipe.architecture.kind, hidden: recipe.hidden.join(','), target: recipe.target },
          idempotencyKey: studentIdempotencyKey({ runId: req.runId, name, archiveSha256 }),
        }),
      ).catch((err: unknown) => {
        if (err instanceof RegistryError && err.code === 'CANCELLED') throw new StudentCancelledError(err.message);
        throw err;
      });
      log(`registered ${v.name}:${v.version} (artifact sha256 ${v.artifactSha256})`);
      ports.afterPublish?.(v);
      Object.assign(out, { name: v.name, version: v.version, artifactSha256: v.artifactSha256, artifactBytes: v.artifactBytes });
    } else if (ports.store) {
      const put = await infra(() => ports.store!.put(archive));
      Object.assign(out, { artifactSha256: put.sha256, artifactBytes: archive.byteLength });
    }
    out.summary = { ...summary, version: out.version, ...(out.artifactSha256 ? { artifactSha256: out.artifactSha256 } : {}) };
    return out;
  } finally {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * A READY version that an earlier attempt of this run registered (it crashed before its job
 * completed): pulled (sha256-checked), its summary rebuilt from its student.json alone. undefined
 * when there is none, or when its student.json predates checked metas (then it is trained again, and
 * publishing finds that version by the idempotency key).
 */
async function resultOfRegistered(
  req: DistilAndPublishRequest,
  ports: DistilAndPublishPorts,
  infra: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<DistilAndPublishResult | undefined> {
  const name = req.register!;
  const key = studentIdempotencyKey({ runId: req.runId, name, archiveSha256: '' });
  const previous = await infra(() => ports.registry!.findVersionByIdempotencyKey(key, name));
  if (previous?.status !== 'READY') return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-student-retry-'));
  try {
    const pulled = await infra(() => pullStudent({ ref: `${name}:${previous.version}`, outDir: dir, store: ports.store!, registry: ports.registry!, force: true }));
    const trained = await loadStudent(dir);
    const parsed = ZStudentMeta.safeParse(await readStudentMeta(dir));
    if (!parsed.success) return undefined;
    const meta = parsed.data;
    const summary0 = studentSummary(
      { student: trained, evaluation: meta.evaluation, augmented: meta.recipe.augmented, precision: meta.recipe.precision },
      meta.recipe,
      { studentBytes: await directoryBytes(dir), modelBytes: req.mbn.modelBytes },
      name,
    );
    const summary = { ...summary0, version: previous.version, artifactSha256: pulled.artifactSha256 };
    return {
      summary,
      metrics: studentMetrics(summary),
      name,
      version: previous.version,
      artifactSha256: pulled.artifactSha256,
      artifactBytes: pulled.artifactBytes,
      reused: true,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
