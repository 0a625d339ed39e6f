/**
 * The one registry interface: what publish, pull, the distil-and-publish use case and the CLI's
 * `cmbn models …` do with the model registry, with two implementations behind it:
 * - `createPrismaRegistry({ store })` / `prismaRegistry`: Postgres, over @cmbn/registry's functions;
 * - `httpRegistry(url, { token })` (registry-http.ts): a coordinator's /v1 API.
 * Both answer in @cmbn/registry's record shapes (Date timestamps) and throw the same errors: the
 * registry's `RegistryError` (NOT_FOUND, CONFLICT, IMMUTABLE, ALIAS_IN_USE, INVALID) and the
 * pipeline's `PipelineError('ARTIFACT_MISMATCH')` for an artifact that does not verify, so a
 * caller handles both identically.
 */
import { createHash } from 'node:crypto';
import { ArtifactCorruptError, ArtifactNotFoundError, ArtifactQuarantinedError, type ArtifactStore } from '@cmbn/artifacts';
import {
  aliasHistory,
  createModelVersion,
  deleteAlias,
  deleteVersionAndArtifacts,
  findVersionByIdempotencyKey,
  gcArtifacts,
  getModel,
  getRun,
  getVersion,
  listModels,
  markVersionFailed,
  markVersionReady,
  resolveModelRef,
  rollbackAlias,
  searchVersions,
  setAlias,
  type AliasEvent,
  type AliasMove,
  type CreateModelVersionInput,
  type DeleteVersionResult,
  type DrainResult,
  type GcResult,
  type ModelDetail,
  type ModelVersionRecord,
  type RegisteredModelRecord,
  type VersionSearch,
  type VersionSearchPage,
} from '@cmbn/registry';
import { PipelineError } from './errors.ts';

/** Where an alias points now (null: deleted, or never set) and its moves, newest first. */
export interface AliasHistoryRecord {
  current: number | null;
  events: AliasEvent[];
}

/** A READY version and its archive's bytes, already checked against the version's sha256 and size. */
export interface RegistryArtifact {
  version: ModelVersionRecord;
  bytes: Uint8Array;
}

/** A deleted version, the objects only it referenced, and what the store deletes did. */
export type DeletedVersionRecord = DeleteVersionResult & { artifacts: DrainResult };

export interface GcRequest {
  /** Keep unreferenced objects written less than this long ago (the registry's default: 1 h). */
  graceSeconds?: number;
  dryRun?: boolean;
  /** Over HTTP the sweep is a job on the coordinator: called when its status changes (queued, running). */
  onStatus?: (job: { id: string; status: string; attempts: number }) => void;
}

/** Reading the registry: models, versions, references, alias histories, archives. */
export interface RegistryReader {
  /** Every registered model (by name) with its latest version number and aliases. */
  listModels(): Promise<RegisteredModelRecord[]>;
  /** One model with all its versions (oldest first); NOT_FOUND when there is no such model. */
  /** The model with its newest `limit` versions (default 100); nextPageToken continues in searchVersions. */
  getModel(name: string, opts?: { limit?: number }): Promise<ModelDetail>;
  /** NOT_FOUND when there is no such version. */
  getVersion(name: string, version: number): Promise<ModelVersionRecord>;
  /** A model's versions matching every filter, newest first, a page at a time. */
  searchVersions(q: VersionSearch): Promise<VersionSearchPage>;
  /** NAME | NAME@ALIAS | NAME:VERSION → a READY version (NOT_FOUND when there is none, CONFLICT when it is not READY). */
  resolveModelRef(ref: string): Promise<ModelVersionRecord>;
  aliasHistory(name: string, alias: string, opts?: { limit?: number }): Promise<AliasHistoryRecord>;
  /** The archive of the version `ref` resolves to; PipelineError ARTIFACT_MISMATCH when it is missing or does not verify. */
  fetchArtifact(ref: string): Promise<RegistryArtifact>;
}

/** Changing the registry: the publish protocol, aliases, deletion, the artifact sweep. */
export interface RegistryWriter {
  /** PENDING version; with an idempotencyKey already used for that name, the version made then. */
  createModelVersion(input: CreateModelVersionInput): Promise<ModelVersionRecord>;
  markVersionReady(id: string, artifact: { artifactSha256: string; artifactBytes: number }): Promise<ModelVersionRecord>;
  markVersionFailed(id: string, reason?: string): Promise<ModelVersionRecord>;
  /** The publisher's own read: the version an earlier attempt registered under this key (CONFLICT when it belongs to another name). */
  findVersionByIdempotencyKey(key: string, name: string): Promise<ModelVersionRecord | undefined>;
  /** true when the run was cancelled (a run's student must then not be registered). */
  isRunCancelled(runId: string): Promise<boolean>;
  /** Points ALIAS at a READY version, creating or moving it; the move is recorded under the implementation's principal. */
  setAlias(name: string, alias: string, version: number): Promise<AliasMove>;
  rollbackAlias(name: string, alias: string): Promise<AliasMove>;
  /** Removes the alias (its history stays); the event recorded. */
  deleteAlias(name: string, alias: string): Promise<AliasEvent>;
  /** Deletes a version (ALIAS_IN_USE while aliased) and the artifact objects nothing else references. */
  deleteVersion(name: string, version: number): Promise<DeletedVersionRecord>;
  /** Deletes artifact objects that nothing references (and finishes interrupted deletions). */
  gc(req?: GcRequest): Promise<GcResult>;
}

export type RegistryPort = RegistryReader & RegistryWriter;

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function mismatch(label: string, expected: string, actual: string): PipelineError {
  return new PipelineError(
    'ARTIFACT_MISMATCH',
    `refusing to pull ${label}: artifact sha256 mismatch (registry recorded ${expected}, stored bytes hash to ${actual}); the stored artifact was modified or corrupted`,
    { expected, actual },
  );
}

/**
 * Throws unless `bytes` are the archive `v` records (sha256 and length). Every implementation's
 * fetchArtifact calls it, and pullStudent calls it again, so an implementation (or a store) that
 * does not verify cannot slip bad bytes through.
 */
export function checkArtifact(v: ModelVersionRecord, bytes: Uint8Array): void {
  const label = `${v.modelName}:${v.version}`;
  if (v.artifactSha256 === null) throw new PipelineError('ARTIFACT_MISMATCH', `${label} has no artifact recorded`);
  const actual = sha256(bytes);
  if (actual !== v.artifactSha256) throw mismatch(label, v.artifactSha256, actual);
  if (v.artifactBytes !== null && v.artifactBytes !== bytes.byteLength) {
    throw new PipelineError('ARTIFACT_MISMATCH', `refusing to pull ${label}: artifact has ${bytes.byteLength} bytes, registry recorded ${v.artifactBytes}`);
  }
}

/** Resolves `ref` with `resolve`, then reads and verifies its archive from `store`. */
export async function readStoredArtifact(resolve: (ref: string) => Promise<ModelVersionRecord>, store: ArtifactStore, ref: string): Promise<RegistryArtifact> {
  const v = await resolve(ref);
  const label = `${v.modelName}:${v.version}`;
  const expected = v.artifactSha256;
  if (expected === null) throw new PipelineError('ARTIFACT_MISMATCH', `${label} has no artifact recorded`);
  let bytes: Uint8Array;
  try {
    bytes = await store.get(expected);
  } catch (err) {
    if (err instanceof ArtifactQuarantinedError) {
      throw new PipelineError('ARTIFACT_MISMATCH', `refusing to pull ${label}: its artifact ${expected} was found corrupt and quarantined by an earlier read (${store.url})`);
    }
    if (err instanceof ArtifactCorruptError) throw mismatch(label, expected, err.actual);
    if (err instanceof ArtifactNotFoundError) {
      throw new PipelineError('ARTIFACT_MISMATCH', `refusing to pull ${label}: its artifact ${expected} is missing from ${store.url}`);
    }
    throw err;
  }
  checkArtifact(v, bytes);
  return { version: v, bytes };
}

export interface PrismaRegistryOptions {
  /** The store the versions' archives are in: fetchArtifact, deleteVersion and gc need it. */
  store?: ArtifactStore;
  /** Who alias moves are recorded as; default `local` (the CLI's own registry). */
  principal?: string;
}

/** The Postgres implementation, over @cmbn/registry (the database is its getDb() singleton). */
export function createPrismaRegistry(opts: PrismaRegistryOptions = {}): RegistryPort {
  const actor = { principal: opts.principal ?? 'local' };
  const store = (operation: string): ArtifactStore => {
    if (opts.store === undefined) {
      throw new PipelineError('INVALID', `${operation} needs the artifact store: use createPrismaRegistry({ store }) rather than prismaRegistry`);
    }
    return opts.store;
  };
  return {
    listModels,
    getModel,
    getVersion,
    searchVersions,
    resolveModelRef,
    aliasHistory: (name, alias, o) => aliasHistory(name, alias, o),
    fetchArtifact: (ref) => readStoredArtifact(resolveModelRef, store('fetchArtifact'), ref),
    createModelVersion,
    markVersionReady,
    markVersionFailed,
    findVersionByIdempotencyKey,
    isRunCancelled: async (runId) => (await getRun(runId)).status === 'CANCELLED',
    setAlias: (name, alias, version) => setAlias(name, alias, version, actor),
    rollbackAlias: (name, alias) => rollbackAlias(name, alias, actor),
    deleteAlias: (name, alias) => deleteAlias(name, alias, actor),
    deleteVersion: (name, version) => deleteVersionAndArtifacts(name, version, store('deleteVersion')),
    gc: (req = {}) =>
      gcArtifacts(store('gc'), { ...(req.graceSeconds !== undefined ? { graceMs: req.graceSeconds * 1000 } : {}), ...(req.dryRun !== undefined ? { dryRun: req.dryRun } : {}) }),
  };
}

/**
 * The Postgres registry without an artifact store: everything but fetchArtifact, deleteVersion
 * and gc (which say so). publish and distil-and-publish use it with the store they are given.
 */
export const prismaRegistry: RegistryPort = createPrismaRegistry();
