import { getDb, withTransaction } from './client.ts';
import type { Tx } from './client.ts';
import { RegistryError, prismaCode } from './errors.ts';
import { lockGcShared } from './gc-lock.ts';
import { lockRunStatus } from './runs.ts';
import { encodeVersionToken } from './page-token.ts';
import type { ModelVersion, RegisteredModel } from './generated/prisma/client.ts';
import { bigToNumber, toJson } from './json.ts';
import type { JsonObject } from './json.ts';

export type VersionStatus = 'PENDING' | 'READY' | 'FAILED';

/** A model version as the API returns it (BigInt columns as numbers, so it JSON-serialises). */
export interface ModelVersionRecord {
  id: string;
  modelName: string;
  version: number;
  status: VersionStatus;
  artifactSha256: string | null;
  artifactBytes: number | null;
  metrics: unknown;
  signature: unknown;
  runId: string | null;
  datasetSha256: string;
  mbnModelHash: string;
  params: unknown;
  backend: string;
  tags: unknown;
  idempotencyKey: string | null;
  createdAt: Date;
  readyAt: Date | null;
}

export interface RegisteredModelRecord {
  name: string;
  description: string | null;
  createdAt: Date;
  updatedAt: Date;
  latestVersion: number;
  /** alias → version number */
  aliases: Record<string, number>;
}

export interface ModelDetail extends RegisteredModelRecord {
  /** The newest `limit` versions (getModel's option), oldest first. */
  versions: ModelVersionRecord[];
  /** All versions of the model, however many `versions` holds. */
  versionCount: number;
  /** Set when older versions exist: pass it to searchVersions (GET …/versions?page_token=) for the next page, newest first. */
  nextPageToken: string | null;
}

/** Versions the model detail carries by default and at most (older ones are paged through the version search). */
export const MODEL_DETAIL_VERSIONS = 100;
export const MODEL_DETAIL_MAX_VERSIONS = 1000;

export interface CreateModelVersionInput {
  name: string;
  metrics: JsonObject;
  signature: JsonObject;
  runId?: string | null;
  datasetSha256: string;
  mbnModelHash: string;
  params: JsonObject;
  backend: string;
  tags?: JsonObject;
  /** A retried job passing the same key gets the version created the first time. */
  idempotencyKey?: string | null;
  description?: string;
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ALIAS_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function assertModelName(name: string): void {
  if (!MODEL_NAME.test(name)) {
    throw new RegistryError('INVALID', `invalid model name ${JSON.stringify(name)}: use letters, digits, '.', '_' or '-' (no '@' or ':')`);
  }
}

export function assertAlias(alias: string): void {
  if (!ALIAS_NAME.test(alias)) {
    throw new RegistryError('INVALID', `invalid alias ${JSON.stringify(alias)}: start with a letter; letters, digits, '_' or '-'`);
  }
}

export function assertVersionNumber(version: number): void {
  if (!Number.isInteger(version) || version < 1) throw new RegistryError('INVALID', `invalid version ${version}`);
}

export function toVersionRecord(v: ModelVersion): ModelVersionRecord {
  return { ...v, status: v.status as VersionStatus, artifactBytes: bigToNumber(v.artifactBytes) };
}

function toModelRecord(m: RegisteredModel, aliases: { alias: string; version: { version: number } }[]): RegisteredModelRecord {
  return { ...m, aliases: Object.fromEntries(aliases.map((a) => [a.alias, a.version.version])) };
}

/**
 * The version registered under an idempotency key, if any (a CONFLICT when the key belongs to
 * another name). A retried producer uses it to find the work of an attempt that crashed after
 * registering. A FAILED version gives its key up when a retry registers again (createModelVersion),
 * so this finds FAILED versions only until then.
 */
export async function findVersionByIdempotencyKey(key: string, name: string): Promise<ModelVersionRecord | undefined> {
  const v = await getDb().modelVersion.findUnique({ where: { idempotencyKey: key } });
  if (v === null) return undefined;
  if (v.modelName !== name) {
    throw new RegistryError('CONFLICT', `idempotency key already used for ${v.modelName}:${v.version}`, { modelName: v.modelName, version: v.version });
  }
  return toVersionRecord(v);
}

/**
 * Registers a PENDING version numbered latestVersion + 1. The counter is bumped with an
 * `UPDATE … RETURNING` inside the transaction, whose row lock serialises concurrent registrations
 * under one name: every caller gets a distinct number and none is lost. A unique violation on the
 * idempotency key (a concurrent retry) rolls the whole transaction back, counter included.
 *
 * Idempotency: the same key returns the version created the first time while it is PENDING or
 * READY. When that version FAILED (its job gave up, or the pending reconciler failed it), a retry
 * registers a fresh version: the failed one gives up the key (kept in its tags as
 * `supersededIdempotencyKey`) in the same transaction.
 *
 * The transaction holds the artifact GC's lock in shared mode (gc-lock.ts): a publisher's PENDING
 * version is visible before its artifact is put, and the sweep defers while one exists.
 */
export async function createModelVersion(input: CreateModelVersionInput): Promise<ModelVersionRecord> {
  assertModelName(input.name);
  const key = input.idempotencyKey ?? null;
  if (key !== null) {
    const existing = await findVersionByIdempotencyKey(key, input.name);
    if (existing !== undefined && existing.status !== 'FAILED') return existing;
  }
  try {
    const v = await withTransaction(async (tx: Tx) => {
      await lockGcShared(tx);
      if (key !== null) {
        await tx.$executeRaw`UPDATE "ModelVersion"
          SET "idempotencyKey" = NULL, "tags" = "tags" || jsonb_build_object('supersededIdempotencyKey', "idempotencyKey")
          WHERE "idempotencyKey" = ${key} AND "status" = 'FAILED'`;
      }
      await tx.$executeRaw`INSERT INTO "RegisteredModel" ("name", "description", "updatedAt")
        VALUES (${input.name}, ${input.description ?? null}, now()) ON CONFLICT ("name") DO NOTHING`;
      const rows = await tx.$queryRaw<{ latestVersion: number }[]>`UPDATE "RegisteredModel"
        SET "latestVersion" = "latestVersion" + 1, "updatedAt" = now()
        WHERE "name" = ${input.name} RETURNING "latestVersion"`;
      const version = rows[0]?.latestVersion;
      if (version === undefined) throw new RegistryError('CONFLICT', `model ${input.name} vanished during registration`);
      return tx.modelVersion.create({
        data: {
          modelName: input.name,
          version,
          status: 'PENDING',
          metrics: toJson(input.metrics),
          signature: toJson(input.signature),
          runId: input.runId ?? null,
          datasetSha256: input.datasetSha256,
          mbnModelHash: input.mbnModelHash,
          params: toJson(input.params),
          backend: input.backend,
          tags: toJson(input.tags ?? {}),
          idempotencyKey: key,
        },
      });
    });
    return toVersionRecord(v);
  } catch (err) {
    if (key !== null && prismaCode(err) === 'P2002') {
      const existing = await findVersionByIdempotencyKey(key, input.name);
      if (existing !== undefined) return existing;
    }
    throw err;
  }
}

async function refuseUnlessPending(id: string, action: string): Promise<never> {
  const v = await getDb().modelVersion.findUnique({ where: { id } });
  if (v === null) throw new RegistryError('NOT_FOUND', `model version ${id} not found`);
  if (v.status === 'READY') {
    throw new RegistryError('IMMUTABLE', `${v.modelName}:${v.version} is READY and immutable; cannot ${action}`, { modelName: v.modelName, version: v.version });
  }
  throw new RegistryError('CONFLICT', `${v.modelName}:${v.version} is ${v.status}; only a PENDING version can ${action}`);
}

/**
 * PENDING → READY with its artifact. READY versions are immutable (IMMUTABLE); FAILED ones cannot revive
 * (CONFLICT). A version of a cancelled run is failed instead (CANCELLED): its run's row lock (see
 * cancelRun) orders the two, so a cancel that commits first is never followed by a READY version.
 */
export async function markVersionReady(id: string, artifact: { artifactSha256: string; artifactBytes: number | bigint }): Promise<ModelVersionRecord> {
  if (!/^[0-9a-f]{64}$/.test(artifact.artifactSha256)) throw new RegistryError('INVALID', 'artifactSha256 must be a sha256 hex digest');
  const cancelledRun = await withTransaction(async (tx) => {
    const v = await tx.modelVersion.findUnique({ where: { id }, select: { runId: true, tags: true } });
    if (v?.runId && (await lockRunStatus(tx, v.runId)) === 'CANCELLED') {
      const error = `run ${v.runId} was cancelled`;
      await tx.modelVersion.updateMany({ where: { id, status: 'PENDING' }, data: { status: 'FAILED', tags: toJson({ ...((v.tags ?? {}) as JsonObject), error }) } });
      return v.runId;
    }
    // Conditional update: the status check and the write are one statement, so two racing callers cannot both succeed.
    const { count } = await tx.modelVersion.updateMany({
      where: { id, status: 'PENDING' },
      data: { status: 'READY', artifactSha256: artifact.artifactSha256, artifactBytes: BigInt(artifact.artifactBytes), readyAt: new Date() },
    });
    return count === 0 ? null : undefined;
  });
  if (cancelledRun) throw new RegistryError('CANCELLED', `run ${cancelledRun} was cancelled; its model version is not registered`, { runId: cancelledRun });
  if (cancelledRun === null) return refuseUnlessPending(id, 'become READY');
  return toVersionRecord(await getDb().modelVersion.findUniqueOrThrow({ where: { id } }));
}

/** PENDING → FAILED; the reason is kept in tags.error. */
export async function markVersionFailed(id: string, reason?: string): Promise<ModelVersionRecord> {
  return withTransaction(async (tx) => {
    const v = await tx.modelVersion.findUnique({ where: { id } });
    const tags = (v?.tags ?? {}) as JsonObject;
    const { count } = await tx.modelVersion.updateMany({
      where: { id, status: 'PENDING' },
      data: { status: 'FAILED', tags: toJson(reason === undefined ? tags : { ...tags, error: reason }) },
    });
    if (count === 0) return refuseUnlessPending(id, 'be marked FAILED');
    return toVersionRecord(await tx.modelVersion.findUniqueOrThrow({ where: { id } }));
  });
}

export async function findVersion(name: string, version: number): Promise<ModelVersion> {
  assertVersionNumber(version);
  const v = await getDb().modelVersion.findUnique({ where: { modelName_version: { modelName: name, version } } });
  if (v === null) throw new RegistryError('NOT_FOUND', `model version ${name}:${version} not found`);
  return v;
}

export async function getVersion(name: string, version: number): Promise<ModelVersionRecord> {
  return toVersionRecord(await findVersion(name, version));
}

export type ModelRef = { name: string; alias: string } | { name: string; version: number } | { name: string };

/** 'name@alias' | 'name:3' | 'name' */
export function parseModelRef(ref: string): ModelRef {
  const at = ref.indexOf('@');
  if (at >= 0) {
    const name = ref.slice(0, at);
    const alias = ref.slice(at + 1);
    assertModelName(name);
    assertAlias(alias);
    return { name, alias };
  }
  const colon = ref.indexOf(':');
  if (colon >= 0) {
    const name = ref.slice(0, colon);
    const vs = ref.slice(colon + 1);
    assertModelName(name);
    if (!/^[1-9]\d*$/.test(vs)) throw new RegistryError('INVALID', `invalid version in model ref ${JSON.stringify(ref)}`);
    return { name, version: Number(vs) };
  }
  assertModelName(ref);
  return { name: ref };
}

/** Resolves a model reference to a READY version; a bare name means the highest READY version. */
export async function resolveModelRef(ref: string): Promise<ModelVersionRecord> {
  const parsed = parseModelRef(ref);
  const db = getDb();
  let v: ModelVersion | null;
  if ('alias' in parsed) {
    const a = await db.modelAlias.findUnique({ where: { modelName_alias: { modelName: parsed.name, alias: parsed.alias } }, include: { version: true } });
    if (a === null) throw new RegistryError('NOT_FOUND', `alias ${ref} not found`);
    v = a.version;
  } else if ('version' in parsed) {
    v = await findVersion(parsed.name, parsed.version);
  } else {
    v = await db.modelVersion.findFirst({ where: { modelName: parsed.name, status: 'READY' }, orderBy: { version: 'desc' } });
    if (v === null) throw new RegistryError('NOT_FOUND', `model ${parsed.name} has no READY version`);
  }
  if (v.status !== 'READY') throw new RegistryError('CONFLICT', `${v.modelName}:${v.version} is ${v.status}, not READY`);
  return toVersionRecord(v);
}

/** Every PENDING version (oldest first), for the pending reconciler. */
export async function listPendingVersions(): Promise<ModelVersionRecord[]> {
  return (await getDb().modelVersion.findMany({ where: { status: 'PENDING' }, orderBy: { createdAt: 'asc' } })).map(toVersionRecord);
}

export async function listModels(): Promise<RegisteredModelRecord[]> {
  const models = await getDb().registeredModel.findMany({
    orderBy: { name: 'asc' },
    include: { aliases: { include: { version: { select: { version: true } } } } },
  });
  return models.map(({ aliases, ...m }) => toModelRecord(m, aliases));
}

/**
 * A model with its newest versions: `limit` of them (default MODEL_DETAIL_VERSIONS), so a model with
 * thousands of versions is never read whole; `nextPageToken` continues in searchVersions.
 */
export async function getModel(name: string, opts: { limit?: number } = {}): Promise<ModelDetail> {
  const limit = opts.limit ?? MODEL_DETAIL_VERSIONS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MODEL_DETAIL_MAX_VERSIONS) {
    throw new RegistryError('INVALID', `versions limit must be 1..${MODEL_DETAIL_MAX_VERSIONS}`);
  }
  const m = await getDb().registeredModel.findUnique({
    where: { name },
    include: {
      versions: { orderBy: { version: 'desc' }, take: limit + 1 },
      aliases: { include: { version: { select: { version: true } } } },
      _count: { select: { versions: true } },
    },
  });
  if (m === null) throw new RegistryError('NOT_FOUND', `model ${name} not found`);
  const { versions, aliases, _count, ...rest } = m;
  const page = versions.slice(0, limit);
  return {
    ...toModelRecord(rest, aliases),
    versions: page.reverse().map(toVersionRecord),
    versionCount: _count.versions,
    nextPageToken: versions.length > limit ? encodeVersionToken(page[0]!.version) : null,
  };
}
