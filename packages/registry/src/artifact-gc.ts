/**
 * Deleting versions and sweeping orphaned artifact objects (MLflow's orphaned-artifact gap).
 *
 * Objects are content-addressed and shared (two versions, a run and a version, may hold the same
 * bytes), so an object is deleted only when nothing references it (artifact-refs.ts). Deletion is
 * written ahead: deleteVersion removes the row and records its no-longer-referenced objects in
 * ArtifactDeletion in one transaction; the store deletes come after, each one in its own
 * batch of transactions under the GC lock (gc-lock.ts), and remove their record last. A crash at any point
 * leaves either the version intact (before the commit) or a record of every object still to go,
 * which the next drain (the next delete, `cmbn models gc`, the coordinator's reconciler) finishes.
 */
import { getDb, withTransaction } from './client.ts';
import { RegistryError, isForeignKeyViolation } from './errors.ts';
import { hashesIn, isSha256Key, referencedArtifacts } from './artifact-refs.ts';
import { lockGcExclusive } from './gc-lock.ts';
import { findVersion } from './models.ts';

/** The store operations the sweep needs (@cmbn/artifacts' ArtifactStore has them). */
export interface GcStore {
  readonly url: string;
  /** Every object (sha256 key) with the time it was written (or last re-put: put refreshes it). */
  list(): AsyncIterable<{ sha256: string; modifiedAt: Date }>;
  /** Removes the object; false when there was none. */
  delete(sha256: string): Promise<boolean>;
  /** One object's modifiedAt, undefined when absent. */
  modifiedAt(sha256: string): Promise<Date | undefined>;
}

/** Test hooks: called at each step, so a test can stop (or kill) the process there. */
export type GcStep = 'version-deleted' | 'object-deleted';
export interface GcHooks {
  onStep?: (step: GcStep, sha256?: string) => Promise<void> | void;
}

export interface DrainOptions extends GcHooks {
  /**
   * Objects written (or re-put: put refreshes an existing object's age) less than this long ago
   * are kept even when unreferenced, and their record left for a later drain: a writer puts an
   * object before it records the reference (a shard's output, a dataset upload, a run's model),
   * so a young unreferenced object is most likely one about to become reachable. Default 1 hour.
   */
  graceMs?: number;
  now?: Date;
}

export interface DrainResult {
  deleted: string[];
  /** Records dropped because the object is referenced again (kept in the store). */
  kept: string[];
  /**
   * Records left for later: a version was PENDING (a publish may be about to reference one), or
   * the object was written within the grace period.
   */
  deferred: number;
}

export const DEFAULT_GRACE_MS = 3_600_000;
/** Records handled per locked transaction: the referenced set is read once per batch. */
const BATCH = 64;

type Outcome = 'deleted' | 'absent' | 'kept' | 'deferred' | 'gone';

async function agesOf(store: GcStore, hashes: string[]): Promise<Map<string, Date>> {
  const out = new Map<string, Date>();
  for (const h of hashes) {
    const t = await store.modifiedAt(h);
    if (t !== undefined) out.set(h, t);
  }
  return out;
}

/**
 * Deletes a batch of recorded objects under the exclusive GC lock, in one transaction. The whole
 * batch is deferred while any version is PENDING. Per object: a record another drain already
 * finished is skipped (its object may have been written anew since); a referenced object keeps
 * its object and loses its record; an object re-read as younger than the grace keeps both; else
 * the store object goes (the record's removal commits after it, so a crash in between leaves the
 * record; deleting a missing object is a no-op).
 */
async function deleteBatch(store: GcStore, hashes: string[], cutoff: number, hooks: GcHooks): Promise<Outcome[] | 'deferred'> {
  return withTransaction(async (tx) => {
    await lockGcExclusive(tx);
    if ((await tx.modelVersion.count({ where: { status: 'PENDING' } })) > 0) return 'deferred';
    const refs = await referencedArtifacts(tx);
    const ages = await agesOf(store, hashes);
    const out: Outcome[] = [];
    for (const sha256 of hashes) {
      const claimed = await tx.$queryRaw<{ reason: string; requestedAt: Date }[]>`
        DELETE FROM "ArtifactDeletion" WHERE "sha256" = ${sha256} RETURNING "reason", "requestedAt"`;
      const rec = claimed[0];
      if (rec === undefined) out.push('gone');
      else if (!isSha256Key(sha256) || refs.has(sha256)) out.push('kept');
      else {
        const age = ages.get(sha256);
        if (age === undefined) out.push('absent');
        else if (age.getTime() > cutoff) {
          await tx.artifactDeletion.create({ data: { sha256, reason: rec.reason, requestedAt: rec.requestedAt } });
          out.push('deferred');
        } else {
          const existed = await store.delete(sha256);
          out.push(existed ? 'deleted' : 'absent');
          if (existed) await hooks.onStep?.('object-deleted', sha256);
        }
      }
    }
    return out;
  });
}

/**
 * Finishes every recorded deletion (oldest first, in locked batches); stops early, deferring the
 * rest, while a version is PENDING, and defers objects younger than the grace.
 */
export async function drainArtifactDeletions(store: GcStore, opts: DrainOptions = {}): Promise<DrainResult> {
  const cutoff = (opts.now ?? new Date()).getTime() - (opts.graceMs ?? DEFAULT_GRACE_MS);
  const rows = await getDb().artifactDeletion.findMany({ orderBy: { requestedAt: 'asc' }, select: { sha256: true } });
  const out: DrainResult = { deleted: [], kept: [], deferred: 0 };
  for (let i = 0; i < rows.length; i += BATCH) {
    const hashes = rows.slice(i, i + BATCH).map((r) => r.sha256);
    const done = await deleteBatch(store, hashes, cutoff, opts);
    if (done === 'deferred') {
      out.deferred += rows.length - i;
      break;
    }
    for (const [j, what] of done.entries()) {
      // 'absent': a hash that names no object here (or one a crashed drain already removed); 'gone': finished by another drain.
      if (what === 'deferred') out.deferred++;
      else if (what === 'deleted' || what === 'kept') out[what].push(hashes[j]!);
    }
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
  opts: DrainOptions = {},
): Promise<DeleteVersionResult & { artifacts: DrainResult }> {
  const r = await deleteVersion(name, version, opts);
  return { ...r, artifacts: await drainArtifactDeletions(store, opts) };
}

export interface GcOptions extends DrainOptions {
  /** Report what would go, delete nothing. */
  dryRun?: boolean;
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
  /** Deletions left for the next run: a version was PENDING, or the object was re-put within the grace. */
  deferred: number;
  dryRun: boolean;
}

/**
 * The shortest grace a sweep may use while anything is producing objects. Below it a sweep could
 * delete what a writer has put but not yet recorded (a shard's output, a run's model, a student
 * archive); 5 minutes is far beyond any put-to-record gap of ours.
 */
export const MIN_GRACE_MS = 300_000;

/**
 * A grace below MIN_GRACE_MS is allowed only while nothing is writing: no run QUEUED, RUNNING or
 * DISTILLING and no version PENDING. (An upload in flight has no row yet: the operator who asks
 * for a short grace vouches for that.)
 */
export async function assertGcGraceAllowed(graceMs: number): Promise<void> {
  if (graceMs >= MIN_GRACE_MS) return;
  const db = getDb();
  const [runs, pending] = await Promise.all([
    db.run.count({ where: { status: { in: ['QUEUED', 'RUNNING', 'DISTILLING'] } } }),
    db.modelVersion.count({ where: { status: 'PENDING' } }),
  ]);
  if (runs > 0 || pending > 0) {
    throw new RegistryError(
      'CONFLICT',
      `a grace of ${Math.round(graceMs / 1000)} s is below ${MIN_GRACE_MS / 1000} s while ${runs} run(s) are active and ${pending} version(s) PENDING: ` +
        'their outputs may be put but not yet recorded; retry with a grace of at least 300 s, or when nothing runs',
      { graceSeconds: graceMs / 1000, minGraceSeconds: MIN_GRACE_MS / 1000, activeRuns: runs, pendingVersions: pending },
    );
  }
}

/**
 * Mark and sweep: lists the store, reads every reference, records the old-enough orphans in
 * ArtifactDeletion and drains them (each re-checked under the lock just before its delete:
 * record, references, age). What
 * is not in the store but recorded (an interrupted delete) is drained too.
 */
export async function gcArtifacts(store: GcStore, opts: GcOptions = {}): Promise<GcResult> {
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  await assertGcGraceAllowed(graceMs);
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
