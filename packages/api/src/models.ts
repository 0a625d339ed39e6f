import { z } from 'zod';
import { iso, ZAliasName, ZModelName, ZName, ZSha256, ZTimestamp, ZVersionNumber, ZVersionParam } from './common.ts';

export const ZVersionStatus = z.enum(['PENDING', 'READY', 'FAILED']);

export const ZModelVersion = z
  .object({
    id: z.string(),
    modelName: z.string(),
    version: z.number().int(),
    status: ZVersionStatus,
    artifactSha256: ZSha256.nullable(),
    artifactBytes: z.number().int().nullable(),
    metrics: z.record(z.string(), z.unknown()),
    signature: z.record(z.string(), z.unknown()),
    runId: z.string().nullable(),
    datasetSha256: z.string(),
    mbnModelHash: z.string(),
    params: z.record(z.string(), z.unknown()),
    backend: z.string(),
    tags: z.record(z.string(), z.unknown()),
    idempotencyKey: z.string().nullable(),
    createdAt: ZTimestamp,
    readyAt: ZTimestamp.nullable(),
  })
  .meta({ id: 'ModelVersion' });
export type TModelVersion = z.infer<typeof ZModelVersion>;

/**
 * How each ZModelVersion field travels: 'time' fields are ISO strings on the wire and Dates in the
 * registry's records, 'object' fields are JSON objects (a stored non-object reads as {}), the rest
 * pass as they are. The one field table of both directions (the coordinator's views and the HTTP
 * registry's records), and of which fields they carry: an extra on either side (a search item's
 * `aliases`) is left out.
 */
const VERSION_FIELDS = {
  id: 'plain',
  modelName: 'plain',
  version: 'plain',
  status: 'plain',
  artifactSha256: 'plain',
  artifactBytes: 'plain',
  metrics: 'object',
  signature: 'object',
  runId: 'plain',
  datasetSha256: 'plain',
  mbnModelHash: 'plain',
  params: 'object',
  backend: 'plain',
  tags: 'object',
  idempotencyKey: 'plain',
  createdAt: 'time',
  readyAt: 'time',
} as const satisfies Record<keyof TModelVersion, 'plain' | 'object' | 'time'>;

/** A version as the registry holds it: TModelVersion with Dates for its timestamps. */
export type ModelVersionFields = Omit<TModelVersion, 'createdAt' | 'readyAt' | 'metrics' | 'signature' | 'params' | 'tags'> & {
  createdAt: Date;
  readyAt: Date | null;
  metrics: unknown;
  signature: unknown;
  params: unknown;
  tags: unknown;
};

const asObject = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** A registry record → the contract's view: exactly ZModelVersion's fields, timestamps as ISO strings. */
export function versionToWire(r: ModelVersionFields): TModelVersion {
  const out: Record<string, unknown> = {};
  for (const [k, how] of Object.entries(VERSION_FIELDS)) {
    const v = r[k as keyof ModelVersionFields];
    out[k] = how === 'time' ? iso(v as Date | null) : how === 'object' ? asObject(v) : v;
  }
  return out as TModelVersion;
}

/** The contract's view → a registry record: exactly its fields, timestamps as Dates. */
export function versionFromWire(v: TModelVersion): ModelVersionFields {
  const out: Record<string, unknown> = {};
  for (const [k, how] of Object.entries(VERSION_FIELDS)) {
    const x = v[k as keyof TModelVersion];
    out[k] = how === 'time' ? (x === null ? null : new Date(x as string)) : x;
  }
  return out as ModelVersionFields;
}

export const ZRegisteredModel = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    createdAt: ZTimestamp,
    updatedAt: ZTimestamp,
    latestVersion: z.number().int(),
    /** alias → version number */
    aliases: z.record(z.string(), z.number().int()),
  })
  .meta({ id: 'RegisteredModel' });
export type TRegisteredModel = z.infer<typeof ZRegisteredModel>;

export const ZModelList = z.object({ models: z.array(ZRegisteredModel) }).meta({ id: 'ModelList' });
export type TModelList = z.infer<typeof ZModelList>;

export const ZModelDetail = ZRegisteredModel.extend({
  /** The newest versions (`versions` query, default 100), oldest first. */
  versions: z.array(ZModelVersion),
  /** All versions of the model. */
  versionCount: z.number().int(),
  /** Set when older versions exist: GET /v1/models/:name/versions?page_token=… continues, newest first. */
  nextPageToken: z.string().nullable(),
}).meta({ id: 'ModelDetail' });
export type TModelDetail = z.infer<typeof ZModelDetail>;

export const ZModelDetailQuery = z.object({ versions: z.coerce.number().int().min(1).max(1000).default(100) }).strict();
export type TModelDetailQuery = z.infer<typeof ZModelDetailQuery>;

export const ZVersionParams = z.object({ name: ZModelName, v: ZVersionParam });
export const ZAliasParams = z.object({ name: ZModelName, alias: ZAliasName });
export const ZRefParams = z.object({ ref: ZName(200) });

export const ZSetAliasBody = z.object({ version: ZVersionNumber }).strict().meta({ id: 'SetAlias' });

export const ZAliasAction = z.enum(['set', 'rollback', 'delete']);
export const ZAliasEvent = z
  .object({
    id: z.number().int(),
    alias: z.string(),
    action: ZAliasAction,
    /** The version after the move; null after a delete. */
    version: z.number().int().nullable(),
    /** The version before; null when the move created the alias. */
    previousVersion: z.number().int().nullable(),
    /** The API token's name (CMBN_API_TOKENS; `default` for CMBN_API_TOKEN), or `local` for the CLI's own registry. */
    principal: z.string(),
    at: ZTimestamp,
  })
  .meta({ id: 'AliasEvent' });
export type TAliasEvent = z.infer<typeof ZAliasEvent>;

/** The answer to a move (PUT or rollback). */
export const ZAliasMove = z
  .object({ name: z.string(), alias: z.string(), version: z.number().int(), previousVersion: z.number().int().nullable(), event: ZAliasEvent })
  .meta({ id: 'AliasMove' });
export type TAliasMove = z.infer<typeof ZAliasMove>;

export const ZAliasHistory = z
  .object({ name: z.string(), alias: z.string(), current: z.number().int().nullable(), events: z.array(ZAliasEvent) })
  .meta({ id: 'AliasHistory' });
export type TAliasHistory = z.infer<typeof ZAliasHistory>;

export const ZHistoryQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict();

export const ZDeletedAlias = z.object({ name: z.string(), alias: z.string(), deleted: z.literal(true), event: ZAliasEvent }).meta({ id: 'DeletedAlias' });
export type TDeletedAlias = z.infer<typeof ZDeletedAlias>;

/** Metrics a search can range over (`min_<m>` / `max_<m>`, inclusive). */
export const SEARCH_METRICS = ['agreement', 'acc', 'nmi', 'speedup', 'sizeRatio'] as const;

const num = z.coerce.number().refine(Number.isFinite, 'must be a finite number');
const metricBounds = Object.fromEntries(SEARCH_METRICS.flatMap((m) => [[`min_${m}`, num.optional()], [`max_${m}`, num.optional()]])) as Record<
  `${'min' | 'max'}_${(typeof SEARCH_METRICS)[number]}`,
  z.ZodOptional<typeof num>
>;

/** `GET /v1/models/:name/versions` query. `tag` repeats (`?tag=team=vision&tag=candidate`): all must match. */
export const ZVersionSearchQuery = z
  .object({
    tag: z.union([z.string().min(1).max(300), z.array(z.string().min(1).max(300)).max(20)]).optional(),
    alias: ZAliasName.optional(),
    status: ZVersionStatus.optional(),
    ...metricBounds,
    created_after: ZTimestamp.optional(),
    created_before: ZTimestamp.optional(),
    page_size: z.coerce.number().int().min(1).max(200).default(50),
    page_token: z.string().min(1).max(500).optional(),
  })
  .strict();
export type TVersionSearchQuery = z.infer<typeof ZVersionSearchQuery>;

export const ZVersionSearchItem = ZModelVersion.extend({ aliases: z.array(z.string()) }).meta({ id: 'VersionSearchItem' });
export const ZVersionSearchPage = z
  .object({ versions: z.array(ZVersionSearchItem), nextPageToken: z.string().nullable() })
  .meta({ id: 'VersionSearchPage' });
export type TVersionSearchPage = z.infer<typeof ZVersionSearchPage>;

export const ZDrainResult = z.object({ deleted: z.array(ZSha256), kept: z.array(ZSha256), deferred: z.number().int() });

export const ZDeletedVersion = z
  .object({
    name: z.string(),
    version: z.number().int(),
    deleted: z.literal(true),
    /** Objects only this version referenced (recorded for deletion with the row). */
    orphaned: z.array(ZSha256),
    /** What the store deletes did: `deferred` counts objects written within the grace period (all of them while a version is PENDING), finished by a later drain or gc. */
    artifacts: ZDrainResult,
  })
  .meta({ id: 'DeletedVersion' });
export type TDeletedVersion = z.infer<typeof ZDeletedVersion>;

export const ZGcBody = z
  .object({
    /** Keep unreferenced objects written (last put) less than this long ago (default 1 h). Below 300 the sweep is refused (409) while a run is active or a version PENDING. */
    graceSeconds: z.number().int().min(0).max(365 * 86_400).optional(),
    dryRun: z.boolean().optional(),
  })
  .strict()
  .meta({ id: 'GcRequest' });

export const ZGcResult = z
  .object({
    store: z.string(),
    scanned: z.number().int(),
    referenced: z.number().int(),
    young: z.number().int(),
    orphans: z.array(ZSha256),
    deleted: z.array(ZSha256),
    deferred: z.number().int(),
    dryRun: z.boolean(),
  })
  .meta({ id: 'GcResult' });
export type TGcResult = z.infer<typeof ZGcResult>;

/**
 * A sweep as a job (POST /v1/gc answers 202 with it; GET /v1/gc/:id reports it): listing a large
 * store outlasts an HTTP request. `result` is set when it succeeded, `error` when it failed for good.
 */
export const ZGcJob = z
  .object({
    id: z.string(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed']),
    graceSeconds: z.number().int().nullable(),
    dryRun: z.boolean(),
    /** Who asked (the token's name). */
    principal: z.string(),
    /** Attempts made so far (a transient failure is retried). */
    attempts: z.number().int(),
    createdAt: ZTimestamp,
    startedAt: ZTimestamp.nullable(),
    finishedAt: ZTimestamp.nullable(),
    result: ZGcResult.nullable(),
    error: z.string().nullable(),
  })
  .meta({ id: 'GcJob' });
export type TGcJob = z.infer<typeof ZGcJob>;
