/**
 * Deleting versions and sweeping orphaned artifact objects (MLflow's orphaned-artifact gap).
 *
 * Objects are content-addressed and shared (two versions, a run and a version, may hold the same
 * bytes), so an object is deleted only when nothing references it (artifact-refs.ts). Deletion is
 * written ahead: deleteVersion removes the row and records its no-longer-referenced objects in
 * ArtifactDeletion in one transaction; the store deletes come after, each one in its own
 * transaction under the GC lock (gc-lock.ts), and remove their record last. A crash at any point
 * leaves either the version intact (before the commit) or a record of every object still to go,
 * which the next drain (the next delete, `cmbn models gc`, the coordinator's reconciler) finishes.
 */
import { getDb, withTransaction } from './client.ts';
import type { Tx } from './client.ts';
import { RegistryError, isForeignKeyViolation } from './errors.ts';
import { hashesIn, isReferenced, referencedArtifacts } from './artifact-refs.ts';
import { lockGcExclusive } from './gc-lock.ts';
import { findVersion } from './models.ts';

/** The two store operations the sweep needs (@cmbn/artifacts' ArtifactStore has them). */
export interface GcStore {
  readonly url: string;
  /** Every object (sha256 key) with the time it was written. */
  list(): AsyncIterable<{ sha256: string; modifiedAt: Date }>;
  /** Removes the object; false when there was none. */
  delete(sha256: string): Promise<boolean>;
}

/** Test hooks: called at each step, so a test can stop (or kill) the process there. */
export type GcStep = 'version-deleted' | 'object-deleted';
export interface GcHooks {
  onStep?: (step: GcStep, sha256?: string) => Promise<void> | void;
}

export interface DrainResult {
  deleted: string[];
  /** Records dropped because the object is referenced again (kept in the store). */
  kept: string[];
  /** Records left for later: a version was PENDING (a publish may be about to reference one). */
  deferred: number;
}

async function pendingVersions(tx: Tx): Promise<number> {
  return tx.modelVersion.count({ where: { status: 'PENDING' } });
}

/**
 * Deletes one recorded object under the exclusive GC lock: 'deferred' while any version is
 * PENDING, 'kept' when something references it again, else the store object goes and then its
 * record (a crash in between leaves the record; deleting a missing object is a no-op).
 */
async function deleteRecorded(store: GcStore, sha256: string): Promise<'deleted' | 'absent' | 'kept' | 'deferred'> {
  return withTransaction(async (tx) => {
    await lockGcExclusive(tx);
    if ((await pendingVersions(tx)) > 0) return 'deferred';
    if (await isReferenced(tx, sha256)) {
      await tx.artifactDeletion.deleteMany({ where: { sha256 } });
      return 'kept';
    }
    const existed = await store.delete(sha256);
    await tx.artifactDeletion.deleteMany({ where: { sha256 } });
    return existed ? 'deleted' : 'absent';
  });
}

/** Finishes every recorded deletion (oldest first); stops early, deferring, while a version is PENDING. */
export async function drainArtifactDeletions(store: GcStore, hooks: GcHooks = {}): Promise<DrainResult> {
  const rows = await getDb().artifactDeletion.findMany({ orderBy: { requestedAt: 'asc' } });
  const out: DrainResult = { deleted: [], kept: [], deferred: 0 };
  for (const [i, r] of rows.entries()) {
    const what = await deleteRecorded(store, r.sha256);
    if (what === 'deferred') {
      out.deferred = rows.length - i;
      break;
    }
    if (what === 'absent') continue; // a hash that names no object here (or one a crashed drain already removed)
    out[what].push(r.sha256);
    if (what === 'deleted') await hooks.onStep?.('object-deleted', r.sha256);
  }
  return out;
}

export interface DeleteVersionResult {
  name: string;
  version: number;
  /** Hashes that only this version referenced (objects or not), recorded for deletion in the same transaction. */
  orphaned: string[];
}

/**
 * Deletes a version's row; refused (ALIAS_IN_USE) while an alias points at it. Version numbers
 * are never reused. The row is locked FOR UPDATE first, so a concurrent alias move either lands
 * first (ALIAS_IN_USE here) or finds the row gone (CONFLICT there). The objects it alone held are
 * recorded in ArtifactDeletion; drainArtifactDeletions (or deleteVersionAndArtifacts) removes them.
 */
export async function deleteVersion(name: string, version: number, hooks: GcHooks = {}): Promise<DeleteVersionResult> {
  const found = await findVersion(name, version);
  try {
    const orphaned = await withTransaction(async (tx) => {
      const locked = await tx.$queryRaw<{ id: string }[]>`SELECT "id" FROM "ModelVersion" WHERE "id" = ${found.id} FOR UPDATE`;
      if (locked.length === 0) throw new RegistryError('NOT_FOUND', `model version ${name}:${version} not found`);
      const aliases = await tx.modelAlias.findMany({ where: { versionId: found.id }, select: { alias: true } });
      if (aliases.length > 0) {
        throw new RegistryError('ALIAS_IN_USE', `${name}:${version} is aliased as ${aliases.map((a) => `@${a.alias}`).join(', ')}`, {
          aliases: aliases.map((a) => a.alias),
        });
      }
      await tx.modelVersion.delete({ where: { id: found.id } });
      const candidates = hashesIn(found.artifactSha256, found.mbnModelHash, found.datasetSha256, found.tags, found.signature, found.metrics, found.params);
      const still = await referencedArtifacts(tx);
      const gone = candidates.filter((s) => !still.has(s));
      if (gone.length > 0) {
        await tx.artifactDeletion.createMany({ data: gone.map((sha256) => ({ sha256, reason: `deleted ${name}:${version}` })), skipDuplicates: true });
      }
      return gone;
    });
    await hooks.onStep?.('version-deleted');
    return { name, version, orphaned };
  } catch (err) {
    // A backstop: the FOR UPDATE lock orders this against setAlias, so this means a writer that bypassed it.
    if (isForeignKeyViolation(err)) throw new RegistryError('CONFLICT', `${name}:${version} was aliased while it was being deleted; read the model again and retry`);
    throw err;
  }
}

/** deleteVersion, then the store deletes of what it orphaned (and of any earlier unfinished deletion). */
export async function deleteVersionAndArtifacts(
  name: string,
  version: number,
  store: GcStore,
  hooks: GcHooks = {},
): Promise<DeleteVersionResult & { artifacts: DrainResult }> {
  const r = await deleteVersion(name, version, hooks);
  return { ...r, artifacts: await drainArtifactDeletions(store, hooks) };
}

export interface GcOptions extends GcHooks {
  /**
   * Objects written less than this long ago are kept even when unreferenced: a writer puts an
   * object before it records the reference (a shard's output, an upload, a run's model), so a
   * young unreferenced object is most likely one about to become reachable. Default 1 hour.
   */
  graceMs?: number;
  /** Report what would go, delete nothing. */
  dryRun?: boolean;
  now?: Date;
}

export interface GcResult {
  store: string;
  /** Objects in the store. */
  scanned: number;
  referenced: number;
  /** Unreferenced but younger than the grace period. */
  young: number;
  /** Unreferenced and old enough: deleted (or, with dryRun, would be). */
  orphans: string[];
  deleted: string[];
  /** Deletions left for the next run: a version was PENDING. */
  deferred: number;
  dryRun: boolean;
}

const DEFAULT_GRACE_MS = 3_600_000;

/**
 * Mark and sweep: lists the store, reads every reference, records the old-enough orphans in
 * ArtifactDeletion and drains them (each re-checked under the lock just before its delete). What
 * is not in the store but recorded (an interrupted delete) is drained too.
 */
export async function gcArtifacts(store: GcStore, opts: GcOptions = {}): Promise<GcResult> {
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const cutoff = (opts.now ?? new Date()).getTime() - graceMs;
  const listed: { sha256: string; modifiedAt: Date }[] = [];
  for await (const o of store.list()) listed.push(o);
  const refs = await referencedArtifacts(getDb());
  const unreferenced = listed.filter((o) => !refs.has(o.sha256));
  const orphans = unreferenced.filter((o) => o.modifiedAt.getTime() <= cutoff).map((o) => o.sha256).sort();
  const base = { store: store.url, scanned: listed.length, referenced: listed.length - unreferenced.length, young: unreferenced.length - orphans.length, orphans };
  if (opts.dryRun === true) return { ...base, deleted: [], deferred: 0, dryRun: true };
  if (orphans.length > 0) {
    await getDb().artifactDeletion.createMany({ data: orphans.map((sha256) => ({ sha256, reason: 'gc: unreferenced' })), skipDuplicates: true });
  }
  const drained = await drainArtifactDeletions(store, opts);
  return { ...base, deleted: drained.deleted.sort(), deferred: drained.deferred, dryRun: false };
}
