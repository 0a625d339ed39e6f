/**
 * publishStudent: PENDING version → deterministic tar of the student directory → artifact store →
 * re-read and verify sha256 → READY. Any failure after the version exists marks it FAILED.
 *
 * Retries: with the same idempotencyKey, createModelVersion returns the version made the first time,
 * so a crashed-and-retried publish finishes that version (PENDING) or returns it (READY) instead of
 * registering a second one. The artifact put is content-addressed, so re-putting is harmless.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactCorruptError, ArtifactReadDamagedError, type ArtifactStore } from '@cmbn/artifacts';
import { checkStudentOnnxFiles, isStudentDir, loadStudent, saveStudent, type TrainedStudent } from '@cmbn/distill';
import type { JsonObject, ModelVersionRecord } from '@cmbn/registry';
import { packDirectory } from './archive.ts';
import { PipelineError } from './errors.ts';
import { prismaRegistry, type RegistryPort } from './registry-port.ts';

export interface StudentLineage {
  runId?: string | null;
  datasetSha256: string;
  mbnModelHash: string;
  params: JsonObject;
  /** The tfjs backend the student was trained on (recorded as the version's backend). */
  backend: string;
}

export interface PublishStudentInput {
  /** A student directory (saveStudent's files) or a trained student (saved to a temp dir first). */
  studentDir?: string;
  student?: TrainedStudent;
  /** Saved into student.json when `student` is given. */
  meta?: Record<string, unknown>;
  name: string;
  store: ArtifactStore;
  registry?: RegistryPort;
  lineage: StudentLineage;
  metrics: JsonObject;
  tags?: JsonObject;
  idempotencyKey?: string | null;
  description?: string;
}

export interface PublishedStudent {
  name: string;
  version: number;
  id: string;
  artifactSha256: string;
  artifactBytes: number;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Packs the student directory exactly as publishStudent stores it (for digests and idempotency keys). */
export async function packStudentDirectory(dir: string): Promise<Uint8Array> {
  if (!(await isStudentDir(dir))) throw new PipelineError('NOT_A_STUDENT', `${dir} is not a student directory (no model.json + student.json)`);
  return packDirectory(dir);
}

function published(v: ModelVersionRecord): PublishedStudent {
  return { name: v.modelName, version: v.version, id: v.id, artifactSha256: v.artifactSha256!, artifactBytes: v.artifactBytes! };
}

export async function publishStudent(input: PublishStudentInput): Promise<PublishedStudent> {
  if ((input.studentDir === undefined) === (input.student === undefined)) {
    throw new PipelineError('INVALID', 'publishStudent needs exactly one of studentDir or student');
  }
  const reg = input.registry ?? prismaRegistry;
  let tmp: string | undefined;
  try {
    let dir = input.studentDir;
    if (dir === undefined) {
      tmp = await mkdtemp(join(tmpdir(), 'cmbn-publish-'));
      dir = tmp;
      await saveStudent(input.student!, dir, input.meta ?? {});
    }
    const archive = await packStudentDirectory(dir);
    const loaded = await loadStudent(dir);
    // Every registered version runs outside cmbn: its archive holds the ONNX graphs of its weights.
    await checkStudentOnnxFiles(dir, loaded).catch((err: unknown) => {
      throw new PipelineError('NOT_A_STUDENT', (err as Error).message);
    });
    const { signature } = loaded;

    const v = await reg.createModelVersion({
      name: input.name,
      metrics: input.metrics,
      signature: { format: 'cmbn-student', archive: 'tar', ...signature } as unknown as JsonObject,
      runId: input.lineage.runId ?? null,
      datasetSha256: input.lineage.datasetSha256,
      mbnModelHash: input.lineage.mbnModelHash,
      params: input.lineage.params,
      backend: input.lineage.backend,
      tags: input.tags ?? {},
      idempotencyKey: input.idempotencyKey ?? null,
      ...(input.description !== undefined ? { description: input.description } : {}),
    });
    // A retry of a publish that already finished: the same version, nothing more to do.
    if (v.status === 'READY') return published(v);
    if (v.status === 'FAILED') {
      throw new PipelineError(
        'VERSION_FAILED',
        `${v.modelName}:${v.version} (idempotency key ${JSON.stringify(input.idempotencyKey)}) already FAILED; publish again with a new key`,
      );
    }
    try {
      const expected = sha256(archive);
      const put = await input.store.put(archive);
      if (put.sha256 !== expected) throw new PipelineError('ARTIFACT_MISMATCH', `artifact store returned ${put.sha256}, expected ${expected}`);
      // Re-read: get() hashes what is stored, so READY means the bytes really are there.
      // A read damaged on the way (the store verified the object on a second read) is read once
      // more here: otherwise a blip would fail the version for good (FAILED is final for its key).
      const readBack = () => input.store.get(put.sha256);
      const back = await readBack()
        .catch((err: unknown) => (err instanceof ArtifactReadDamagedError ? readBack() : Promise.reject(err)))
        .catch((err: unknown) => {
          if (err instanceof ArtifactCorruptError) {
            // put() is idempotent and keeps an existing object, so a damaged one is not replaced.
            throw new PipelineError(
              'ARTIFACT_MISMATCH',
              `the artifact store held a corrupt object under ${expected} (it hashed to ${err.actual}); the store has quarantined it, so publishing again writes it anew`,
            );
          }
          throw err;
        });
      if (back.byteLength !== archive.byteLength || sha256(back) !== expected) {
        throw new PipelineError('ARTIFACT_MISMATCH', `stored artifact ${expected} did not read back intact`);
      }
      return published(await reg.markVersionReady(v.id, { artifactSha256: expected, artifactBytes: archive.byteLength }));
    } catch (err) {
      await reg.markVersionFailed(v.id, (err as Error).message).catch(() => {});
      throw err;
    }
  } finally {
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  }
}
