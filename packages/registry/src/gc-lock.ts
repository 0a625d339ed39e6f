import type { Tx } from './client.ts';

/**
 * One Postgres advisory lock (transaction-scoped) orders artifact deletion against publishing.
 *
 * - createModelVersion takes it shared: publishers never wait on each other.
 * - Every artifact deletion (a version's delete drain, `gc`) takes it exclusive, checks that no
 *   version is PENDING and that the object is still unreferenced, deletes the object from the
 *   store, and only then commits.
 *
 * A publisher makes its version PENDING before it puts the archive (@cmbn/pipeline publish), so
 * either its PENDING row is visible to the deleter (which then defers), or its registration waits
 * until the object is gone and its put writes it anew. Either way no READY version points at a
 * deleted object, even when the archive's bytes equal an orphan's. Other writers (uploads, shard
 * outputs) do not take the lock: they are protected by the grace period, counted from their last
 * put (a put of existing bytes refreshes the object's time) and re-read under this lock.
 */
const GC_LOCK_KEY = 0x636d626e; // 'cmbn'
const GC_LOCK_CLASS = 1;

export async function lockGcShared(tx: Tx): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock_shared(${GC_LOCK_KEY}::int4, ${GC_LOCK_CLASS}::int4)`;
}

export async function lockGcExclusive(tx: Tx): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(${GC_LOCK_KEY}::int4, ${GC_LOCK_CLASS}::int4)`;
}

/** Serialises moves of one alias (creation included, where there is no row to lock yet). */
export async function lockAlias(tx: Tx, name: string, alias: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`${name}@${alias}`}))`;
}
