import { iso, versionToWire } from '@cmbn/api';
import type { TAliasEvent, TAliasMove, TModelVersion, TRegisteredModel, TVersionSearchPage } from '@cmbn/api';
import type { AliasEvent, AliasMove, ModelVersionRecord, RegisteredModelRecord, VersionSearchPage } from '@cmbn/registry';

/** Registry records as the contract (@cmbn/api) carries them: timestamps as ISO strings, JSON columns as objects. */
/** The one field table of @cmbn/api (versionToWire); the HTTP registry reads it back with versionFromWire. */
export function versionView(v: ModelVersionRecord): TModelVersion {
  return versionToWire(v);
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
