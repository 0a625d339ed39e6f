/**
 * The one registry interface the pipeline uses (publish, pull, the distil-and-publish use case's
 * retry check, its cancel check). `prismaRegistry` is the Postgres implementation over
 * @cmbn/registry; a test (or an HTTP client) implements the same interface.
 */
import {
  createModelVersion,
  findVersionByIdempotencyKey,
  getRun,
  markVersionFailed,
  markVersionReady,
  resolveModelRef,
  type CreateModelVersionInput,
  type ModelVersionRecord,
} from '@cmbn/registry';

export interface RegistryPort {
  /** PENDING version; with an idempotencyKey already used for that name, the version made then. */
  createModelVersion(input: CreateModelVersionInput): Promise<ModelVersionRecord>;
  markVersionReady(id: string, artifact: { artifactSha256: string; artifactBytes: number }): Promise<ModelVersionRecord>;
  markVersionFailed(id: string, reason?: string): Promise<ModelVersionRecord>;
  /** NAME | NAME@ALIAS | NAME:VERSION → a READY version (throws when there is none). */
  resolveModelRef(ref: string): Promise<ModelVersionRecord>;
  findVersionByIdempotencyKey(key: string, name: string): Promise<ModelVersionRecord | undefined>;
  /** true when the run was cancelled (a run's student must then not be registered). */
  isRunCancelled(runId: string): Promise<boolean>;
}

export const prismaRegistry: RegistryPort = {
  createModelVersion,
  markVersionReady,
  markVersionFailed,
  resolveModelRef,
  findVersionByIdempotencyKey,
  isRunCancelled: async (runId) => (await getRun(runId)).status === 'CANCELLED',
};
