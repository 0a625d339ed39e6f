import { getDb, withTransaction } from './client.ts';
import type { Tx } from './client.ts';
import { RegistryError, isForeignKeyViolation } from './errors.ts';
import { lockAlias } from './gc-lock.ts';
import { assertAlias, assertModelName, assertVersionNumber } from './models.ts';

export type AliasAction = 'set' | 'rollback' | 'delete';

/** One move of an alias: who, when, from which version to which. */
export interface AliasEvent {
  id: number;
  modelName: string;
  alias: string;
  action: AliasAction;
  /** The version after the move; null after a delete. */
  version: number | null;
  /** The version before; null when the move created the alias. */
  previousVersion: number | null;
  principal: string;
  at: Date;
}

export interface AliasMove {
  name: string;
  alias: string;
  version: number;
  previousVersion: number | null;
  event: AliasEvent;
}

/** Who moves an alias: the API's token name, or `local` for the CLI's own registry. */
export interface AliasActor {
  principal?: string;
}

const LOCAL = 'local';
const PRINCIPAL = /^[A-Za-z0-9_.@-]{1,64}$/;

function principalOf(actor: AliasActor | undefined): string {
  const p = actor?.principal ?? LOCAL;
  if (!PRINCIPAL.test(p)) throw new RegistryError('INVALID', `invalid principal ${JSON.stringify(p)}`);
  return p;
}

async function currentVersion(tx: Tx, name: string, alias: string): Promise<number | null> {
  const a = await tx.modelAlias.findUnique({ where: { modelName_alias: { modelName: name, alias } }, include: { version: { select: { version: true } } } });
  return a?.version.version ?? null;
}

async function record(tx: Tx, e: Omit<AliasEvent, 'id' | 'at'>): Promise<AliasEvent> {
  const row = await tx.modelAliasEvent.create({ data: e });
  return { ...row, id: Number(row.id), action: row.action as AliasAction };
}

/**
 * Points the alias at a READY version inside `tx`, holding the alias' lock. The version row is
 * locked FOR SHARE first: a concurrent deleteVersion (which locks it FOR UPDATE) either finishes
 * first, and then the row is gone (CONFLICT), or waits and then sees this alias (ALIAS_IN_USE).
 */
async function moveAlias(tx: Tx, name: string, alias: string, version: number, action: AliasAction, principal: string): Promise<AliasMove> {
  await lockAlias(tx, name, alias);
  const rows = await tx.$queryRaw<{ id: string; status: string }[]>`SELECT "id", "status"::text AS "status" FROM "ModelVersion"
    WHERE "modelName" = ${name} AND "version" = ${version} FOR SHARE`;
  const v = rows[0];
  if (v === undefined) {
    const model = await tx.registeredModel.findUnique({ where: { name }, select: { latestVersion: true } });
    if (model !== null && version <= model.latestVersion) {
      throw new RegistryError('CONFLICT', `${name}:${version} was deleted; aliases point only at existing READY versions`, { modelName: name, version });
    }
    throw new RegistryError('NOT_FOUND', `model version ${name}:${version} not found`);
  }
  if (v.status !== 'READY') throw new RegistryError('CONFLICT', `${name}:${version} is ${v.status}; aliases point only at READY versions`);
  const previousVersion = await currentVersion(tx, name, alias);
  await tx.$executeRaw`INSERT INTO "ModelAlias" ("modelName", "alias", "versionId", "updatedAt")
    VALUES (${name}, ${alias}, ${v.id}, now())
    ON CONFLICT ("modelName", "alias") DO UPDATE SET "versionId" = EXCLUDED."versionId", "updatedAt" = now()`;
  const event = await record(tx, { modelName: name, alias, action, version, previousVersion, principal });
  return { name, alias, version, previousVersion, event };
}

/** The registry's CONFLICT for an alias move that lost a race with a version delete (the FK backstop). */
async function conflictOnRace<T>(name: string, alias: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isForeignKeyViolation(err)) {
      throw new RegistryError('CONFLICT', `${name}@${alias}: the version was deleted while the alias moved; read the model again and retry`);
    }
    throw err;
  }
}

/** Points alias at a READY version (creating or moving it), and records the move. */
export async function setAlias(name: string, alias: string, version: number, actor?: AliasActor): Promise<AliasMove> {
  assertModelName(name);
  assertAlias(alias);
  assertVersionNumber(version);
  const principal = principalOf(actor);
  return conflictOnRace(name, alias, () => withTransaction((tx) => moveAlias(tx, name, alias, version, 'set', principal)));
}

/**
 * Moves the alias back to the version it pointed at before its latest move. Rolling back twice
 * returns to where it started (a rollback is itself a move). CONFLICT when there is no previous
 * version, or when that version is gone or no longer READY.
 */
export async function rollbackAlias(name: string, alias: string, actor?: AliasActor): Promise<AliasMove> {
  assertModelName(name);
  assertAlias(alias);
  const principal = principalOf(actor);
  return conflictOnRace(name, alias, () =>
    withTransaction(async (tx) => {
      await lockAlias(tx, name, alias);
      const current = await currentVersion(tx, name, alias);
      if (current === null) throw new RegistryError('NOT_FOUND', `alias ${name}@${alias} not found`);
      const last = await tx.modelAliasEvent.findFirst({ where: { modelName: name, alias }, orderBy: { id: 'desc' } });
      const target = last?.version === current ? last.previousVersion : null;
      if (target === null) throw new RegistryError('CONFLICT', `${name}@${alias} has no previous version to roll back to (it was created at ${current})`);
      return moveAlias(tx, name, alias, target, 'rollback', principal);
    }),
  );
}

export async function deleteAlias(name: string, alias: string, actor?: AliasActor): Promise<AliasEvent> {
  assertModelName(name);
  assertAlias(alias);
  const principal = principalOf(actor);
  return withTransaction(async (tx) => {
    await lockAlias(tx, name, alias);
    const previousVersion = await currentVersion(tx, name, alias);
    if (previousVersion === null) throw new RegistryError('NOT_FOUND', `alias ${name}@${alias} not found`);
    await tx.modelAlias.delete({ where: { modelName_alias: { modelName: name, alias } } });
    return record(tx, { modelName: name, alias, action: 'delete', version: null, previousVersion, principal });
  });
}

/** The alias' moves, newest first, and where it points now (null: deleted or never set). */
export async function aliasHistory(name: string, alias: string, opts: { limit?: number } = {}): Promise<{ current: number | null; events: AliasEvent[] }> {
  assertModelName(name);
  assertAlias(alias);
  const db = getDb();
  const rows = await db.modelAliasEvent.findMany({ where: { modelName: name, alias }, orderBy: { id: 'desc' }, take: Math.min(Math.max(opts.limit ?? 100, 1), 1000) });
  const a = await db.modelAlias.findUnique({ where: { modelName_alias: { modelName: name, alias } }, include: { version: { select: { version: true } } } });
  if (rows.length === 0 && a === null) throw new RegistryError('NOT_FOUND', `alias ${name}@${alias} not found`);
  return { current: a?.version.version ?? null, events: rows.map((r) => ({ ...r, id: Number(r.id), action: r.action as AliasAction })) };
}
