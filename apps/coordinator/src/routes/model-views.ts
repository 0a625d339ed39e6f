import { iso } from '@cmbn/api';
import type { TAliasEvent, TAliasMove, TModelVersion, TRegisteredModel, TVersionSearchPage } from '@cmbn/api';
import type { AliasEvent, AliasMove, ModelVersionRecord, RegisteredModelRecord, VersionSearchPage } from '@cmbn/registry';

/** Registry records as the contract (@cmbn/api) carries them: timestamps as ISO strings, JSON columns as objects. */
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export function versionView(v: ModelVersionRecord): TModelVersion {
  return {
    id: v.id,
    modelName: v.modelName,
    version: v.version,
    status: v.status,
    artifactSha256: v.artifactSha256,
    artifactBytes: v.artifactBytes,
    metrics: obj(v.metrics),
    signature: obj(v.signature),
    runId: v.runId,
    datasetSha256: v.datasetSha256,
    mbnModelHash: v.mbnModelHash,
    params: obj(v.params),
    backend: v.backend,
    tags: obj(v.tags),
    idempotencyKey: v.idempotencyKey,
    createdAt: iso(v.createdAt),
    readyAt: iso(v.readyAt),
  };
}

export function modelView(m: RegisteredModelRecord): TRegisteredModel {
  return { name: m.name, description: m.description, createdAt: iso(m.createdAt), updatedAt: iso(m.updatedAt), latestVersion: m.latestVersion, aliases: m.aliases };
}

export function eventView(e: AliasEvent): TAliasEvent {
  return { id: e.id, alias: e.alias, action: e.action, version: e.version, previousVersion: e.previousVersion, principal: e.principal, at: iso(e.at) };
}

export function moveView(m: AliasMove): TAliasMove {
  return { name: m.name, alias: m.alias, version: m.version, previousVersion: m.previousVersion, event: eventView(m.event) };
}

export function searchView(p: VersionSearchPage): TVersionSearchPage {
  return { versions: p.versions.map((v) => ({ ...versionView(v), aliases: v.aliases })), nextPageToken: p.nextPageToken };
}
