/**
 * Deleting versions and sweeping orphaned artifacts, on both stores (file:// and a real s3rver),
 * against real Postgres: shared objects survive, a process killed mid-delete leaves a record that
 * `cmbn models gc` finishes, and a publish racing the sweep never ends READY on a deleted object.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileArtifactStore, s3StoreForTest, type ArtifactStore } from '@cmbn/artifacts';
import {
  closeDb,
  createModelVersion,
  createRun,
  createTestDatabase,
  deleteVersionAndArtifacts,
  drainArtifactDeletions,
  gcArtifacts,
  getDb,
  getVersion,
  markVersionReady,
  registerDataset,
  setRunStatus,
  type CreateModelVersionInput,
  type TestDatabase,
} from '@cmbn/registry';
import { REPO_ROOT, runCli, tempArtifacts, until } from './test-helpers.ts';

interface StoreCtx {
  store: ArtifactStore;
  url: string;
  /** What a child process needs to open the same store. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

async function makeStore(kind: 'file' | 's3'): Promise<StoreCtx> {
  if (kind === 'file') {
    const t = await tempArtifacts();
    return { store: new FileArtifactStore(t.dir), url: t.url, env: {}, cleanup: t.remove };
  }
  const t = await s3StoreForTest();
  const env = {
    AWS_ENDPOINT_URL_S3: t.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: t.options.credentials!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: t.options.credentials!.secretAccessKey,
    CMBN_S3_FORCE_PATH_STYLE: 'true',
  };
  return { store: t.store, url: `s3://${t.bucket}/${t.prefix}`, env, cleanup: t.cleanup };
}

/**
 * Sessions waiting for the GC lock in this test's database: gc-lock.ts's two-int4 advisory key
 * (0x636d626e, 1) shows in pg_locks as classid, objid with objsubid 2.
 */
async function gcLockWaiters(): Promise<number> {
  const rows = await getDb().$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM pg_locks
    WHERE locktype = 'advisory' AND NOT granted AND classid = ${0x636d626e}::oid AND objid = 1::oid AND objsubid = 2
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
  return rows[0]!.n;
}

const lineage = (extra: Partial<CreateModelVersionInput> = {}): Omit<CreateModelVersionInput, 'name'> => ({
  metrics: {}, signature: {}, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: {}, backend: 'test', ...extra,
});

/** Kills a child that deletes `name:version` when it reaches `stopAt` (it stalls there, as a crash would find it). */
function deleteInChild(env: Record<string, string>, name: string, version: number, stopAt: 'version-deleted' | 'object-deleted'): Promise<string> {
  const code = `
    import { createArtifactStore } from '@cmbn/artifacts';
    import { getDb, deleteVersionAndArtifacts } from '@cmbn/registry';
    getDb(process.env.DATABASE_URL);
    const store = createArtifactStore(process.env.CMBN_ARTIFACTS);
    await deleteVersionAndArtifacts(${JSON.stringify(name)}, ${version}, store, {
      graceMs: 0,
      onStep: async (step) => {
        if (step !== ${JSON.stringify(stopAt)}) return;
        process.stderr.write('TEST: stopped at ' + step + '\\n');
        await new Promise(() => {});
      },
    });
    process.stderr.write('TEST: finished\\n');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`child did not reach ${stopAt}:\n${err}`))), 60_000);
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('TEST: stopped at')) child.kill('SIGKILL');
    });
    child.once('exit', (_code, signal) => {
      clearTimeout(t);
      if (signal === 'SIGKILL' && err.includes('TEST: stopped at')) resolve(err);
      else reject(new Error(`child exited (${signal ?? _code}) without stopping at ${stopAt}:\n${err}`));
    });
  });
}

describe.each(['file', 's3'] as const)('artifact deletion and gc on %s://', (kind) => {
  let db: TestDatabase;
  let s: StoreCtx;
  const objects = async () => {
    const out: string[] = [];
    for await (const o of s.store.list()) out.push(o.sha256);
    return out.sort();
  };
  const put = async (label: string) => (await s.store.put(new TextEncoder().encode(`${label}:${randomBytes(8).toString('hex')}`))).sha256;
  const publish = async (name: string, sha: string, extra: Partial<CreateModelVersionInput> = {}) => {
    const v = await createModelVersion({ name, ...lineage(extra) });
    return (await markVersionReady(v.id, { artifactSha256: sha, artifactBytes: 1 })).version;
  };

  beforeAll(async () => {
    await closeDb();
    [db, s] = await Promise.all([createTestDatabase(), makeStore(kind)]);
    getDb(db.url);
  });
  afterAll(async () => {
    await closeDb();
    await db?.drop();
    await s?.cleanup();
  });

  it('deleting a version removes exactly the objects nothing else references', async () => {
    const shared = await put('shared archive');
    const own = await put('own archive');
    const extra = await put('named in tags');
    const dataset = await put('dataset');
    const embedding = await put('embedding');
    const ds = await registerDataset({ sha256: dataset, name: 'd', format: 'csv', rows: 1, cols: 1, dtype: 'float32', bytes: 1 });
    const run = await createRun({ datasetId: ds.id, params: {}, ks: [2], seed: 0 });
    await setRunStatus(run.id, 'RUNNING');
    await setRunStatus(run.id, 'SUCCEEDED', { summary: { mbnOutput: { embeddingSha256: embedding } } });
    const v1 = await publish('del', shared);
    const v2 = await publish('del', shared);
    const v3 = await publish('del', own, { datasetSha256: dataset, tags: { extra } });
    const v4 = await publish('del', embedding);

    // Every object here was written just now: the drain's grace is set to 0 (its own test is below).
    const d1 = await deleteVersionAndArtifacts('del', v1, s.store, { graceMs: 0 });
    expect(d1.orphaned).toEqual([]); // v2 holds the same archive
    const d3 = await deleteVersionAndArtifacts('del', v3, s.store, { graceMs: 0 });
    expect(d3.orphaned.sort()).toEqual([extra, own].sort()); // the dataset row keeps its object
    expect(d3.artifacts.deleted.sort()).toEqual([extra, own].sort());
    expect(await objects()).toEqual([dataset, embedding, shared].sort());
    expect((await deleteVersionAndArtifacts('del', v2, s.store, { graceMs: 0 })).artifacts.deleted).toEqual([shared]);
    // The run's summary names the embedding: kept. (The lineage hashes it also held name no object here.)
    const d4 = await deleteVersionAndArtifacts('del', v4, s.store, { graceMs: 0 });
    expect(d4.orphaned).not.toContain(embedding);
    expect(d4.artifacts.deleted).toEqual([]);
    expect(await objects()).toEqual([dataset, embedding].sort());
    expect(await getDb().artifactDeletion.count()).toBe(0);
  });

  it('gc sweeps old orphans only: referenced and young objects stay; --dry-run deletes nothing', async () => {
    const o1 = await put('orphan 1');
    const o2 = await put('orphan 2');
    const kept = await put('kept');
    await publish('gc', kept);
    const before = await objects();
    const dry = await gcArtifacts(s.store, { graceMs: 0, dryRun: true });
    expect(dry.orphans).toEqual([o1, o2].sort());
    expect(await objects()).toEqual(before);
    // Written just now: inside the default hour of grace, so they may be about to be referenced.
    const young = await gcArtifacts(s.store);
    expect(young).toMatchObject({ young: 2, deleted: [] });
    const g = await gcArtifacts(s.store, { graceMs: 0 });
    expect(g).toMatchObject({ scanned: before.length, referenced: before.length - 2, deleted: [o1, o2].sort(), deferred: 0 });
    expect(await objects()).toEqual(before.filter((x) => x !== o1 && x !== o2));
  });

  it('never deletes an object a concurrent publish is about to reference: PENDING defers the sweep', async () => {
    const bytes = new TextEncoder().encode(`orphan archive ${randomBytes(8).toString('hex')}`);
    const { sha256 } = await s.store.put(bytes);
    // A publisher registers PENDING first, then puts its archive (here: the same bytes as the orphan, so its put is a no-op).
    const pending = await createModelVersion({ name: 'racing', ...lineage() });
    const g = await gcArtifacts(s.store, { now: new Date(Date.now() + 2 * 3_600_000) });
    expect(g.orphans).toContain(sha256);
    expect(g.deleted).toEqual([]);
    expect(g.deferred).toBeGreaterThan(0);
    await s.store.put(bytes);
    await markVersionReady(pending.id, { artifactSha256: sha256, artifactBytes: bytes.byteLength });
    expect(Buffer.from(await s.store.get(sha256)).equals(Buffer.from(bytes))).toBe(true);
    // Once nothing is PENDING the deferred record is finished, and the object is referenced: kept.
    const after = await drainArtifactDeletions(s.store, { graceMs: 0 });
    expect(after.kept).toContain(sha256);
    expect(await s.store.has(sha256)).toBe(true);
  });

  it('a registration waits for a sweep that holds the lock; its put then writes the object anew', async () => {
    const bytes = new TextEncoder().encode(`orphan ${randomBytes(8).toString('hex')}`);
    const { sha256 } = await s.store.put(bytes);
    let entered!: () => void;
    const inDelete = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = {
      url: s.store.url,
      list: () => s.store.list(),
      modifiedAt: (sha: string) => s.store.modifiedAt(sha),
      delete: async (sha: string) => {
        entered();
        await gate;
        return s.store.delete(sha);
      },
    };
    const sweep = gcArtifacts(slow, { graceMs: 0 });
    await inDelete;
    let registered = false;
    const reg = createModelVersion({ name: 'after-sweep', ...lineage() }).then((v) => ((registered = true), v));
    // The registration is blocked on the GC lock itself (an ungranted request for that advisory
    // lock in this database), not merely slow, nor is some other test's lock on the server counted.
    await until('the registration to wait on the GC lock', async () => (await gcLockWaiters()) > 0, 10_000, 20);
    expect(registered).toBe(false);
    release();
    expect((await sweep).deleted).toContain(sha256);
    const v = await reg;
    expect(await s.store.has(sha256)).toBe(false);
    await s.store.put(bytes); // the publisher's put: the object is gone, so it is written again
    await markVersionReady(v.id, { artifactSha256: sha256, artifactBytes: bytes.byteLength });
    expect(Buffer.from(await s.store.get(sha256)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('a process killed mid-delete leaves nothing half-deleted: the record of what is left is finished by `cmbn models gc`', async () => {
    const keep = await put('another version');
    await publish('crash', keep);
    const mine = [await put('a'), await put('b'), await put('c')].sort();
    const v = await publish('crash', mine[0]!, { tags: { parts: mine.slice(1).join(',') } });
    const env = { DATABASE_URL: db.url, CMBN_ARTIFACTS: s.url, ...s.env };
    await deleteInChild(env, 'crash', v, 'object-deleted');
    // Killed after its first store delete: the version is gone, and every object it left is recorded.
    await expect(getVersion('crash', v)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const present = (await objects()).filter((x) => mine.includes(x));
    expect(present).toHaveLength(2);
    const recorded = (await getDb().artifactDeletion.findMany()).map((r) => r.sha256).sort();
    for (const p of present) expect(recorded).toContain(p);

    // Killed right after the commit, before any store delete: all three recorded, all present.
    const more = [await put('d'), await put('e'), await put('f')].sort();
    const v2 = await publish('crash', more[0]!, { tags: { parts: more.slice(1).join(',') } });
    await deleteInChild(env, 'crash', v2, 'version-deleted');
    expect((await objects()).filter((x) => more.includes(x))).toEqual(more);

    if (kind === 's3') {
      // A local sweep of a non-file:// store is refused without --force (it may be another registry's), deleting nothing.
      const refused = await runCli(['models', 'gc', '--grace', '0', '--json'], env);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/refusing to sweep s3:\/\/.*--remote URL.*--force/s);
      expect((await objects()).filter((x) => more.includes(x))).toEqual(more);
    }
    // Grace 0 (the objects were written just now): allowed, since no run is active and no version PENDING.
    const gc = await runCli(['models', 'gc', '--grace', '0', '--json', ...(kind === 's3' ? ['--force'] : [])], env);
    expect(gc.code, gc.stderr).toBe(0);
    const r = JSON.parse(gc.stdout) as { deleted: string[]; deferred: number };
    expect(r.deferred).toBe(0);
    expect(r.deleted.sort()).toEqual([...present, ...more].sort());
    const now = await objects();
    for (const x of [...mine, ...more]) expect(now).not.toContain(x);
    expect(now).toContain(keep);
    expect(await getDb().artifactDeletion.count()).toBe(0);
  }, 240_000);

  const modifiedAt = async (sha: string): Promise<number> => {
    for await (const o of s.store.list()) if (o.sha256 === sha) return o.modifiedAt.getTime();
    throw new Error(`${sha} not in the store`);
  };

  it('a re-put object is young again: neither the sweep nor a version-delete drain deletes it within the grace', async () => {
    const orphanBytes = new TextEncoder().encode(`old orphan ${randomBytes(8).toString('hex')}`);
    const archiveBytes = new TextEncoder().encode(`old archive ${randomBytes(8).toString('hex')}`);
    const orphan = (await s.store.put(orphanBytes)).sha256;
    const archive = (await s.store.put(archiveBytes)).sha256;
    const v = await publish('reput', archive);
    // A grace of 2 s (allowed: nothing runs here); wait for both objects to be older than it (S3 times are whole seconds).
    const graceMs = 2_000;
    await until('the objects to be older than the grace', async () => (await modifiedAt(orphan)) <= Date.now() - 3_000 && (await modifiedAt(archive)) <= Date.now() - 3_000, 20_000, 200);

    // A writer re-puts the orphan's bytes (a dataset re-upload) after the sweep listed the store,
    // before its reference is recorded. This store has no modifiedAt: the drain re-lists it.
    const rePutAfterList = {
      url: s.store.url,
      async *list() {
        yield* s.store.list();
        await s.store.put(orphanBytes);
      },
      modifiedAt: (sha: string) => s.store.modifiedAt(sha),
      delete: (sha: string) => s.store.delete(sha),
    };
    const g = await gcArtifacts(rePutAfterList, { graceMs });
    expect(g.orphans).toContain(orphan); // marked old from the listing …
    expect(g.deleted).not.toContain(orphan); // … but re-read young under the lock: deferred
    expect(g.deferred).toBeGreaterThan(0);
    expect(await s.store.has(orphan)).toBe(true);

    // A version's archive re-put (the same bytes produced again) just before the version is deleted.
    await s.store.put(archiveBytes);
    const d = await deleteVersionAndArtifacts('reput', v, s.store, { graceMs });
    expect(d.orphaned).toContain(archive);
    expect(d.artifacts.deleted).not.toContain(archive);
    expect(await s.store.has(archive)).toBe(true);
    const left = (await getDb().artifactDeletion.findMany()).map((r) => r.sha256);
    expect(left).toEqual(expect.arrayContaining([orphan, archive]));

    // Still unreferenced once the grace has passed: the records are finished then.
    const later = await drainArtifactDeletions(s.store, { graceMs, now: new Date(Date.now() + 10_000) });
    expect(later.deleted).toEqual(expect.arrayContaining([orphan, archive]));
    expect(await getDb().artifactDeletion.count()).toBe(0);
  }, 60_000);

  it('a drain whose record another drain already finished leaves the object alone', async () => {
    const sha = await put('finished elsewhere');
    await getDb().artifactDeletion.create({ data: { sha256: sha, reason: 'test' } });
    // Hold the GC lock so the drain reads its records, then waits for the lock.
    let drain!: Promise<Awaited<ReturnType<typeof drainArtifactDeletions>>>;
    await getDb().$transaction(
      async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(${0x636d626e}::int4, 1::int4)`;
        drain = drainArtifactDeletions(s.store, { graceMs: 0 });
        await until('the drain to wait on the GC lock', async () => (await gcLockWaiters()) > 0, 10_000, 20);
        // Meanwhile another drain finished the record (and, say, the object was written anew and kept).
        await getDb().artifactDeletion.deleteMany({ where: { sha256: sha } });
      },
      { timeout: 20_000 },
    );
    const r = await drain;
    expect(r.deleted).toEqual([]);
    expect(await s.store.has(sha)).toBe(true);
  });

  it('a grace below 300 s is refused while a run is active or a version PENDING, and nothing is deleted', async () => {
    const orphan = await put('short grace');
    const ds = await registerDataset({ sha256: 'f'.repeat(64), name: 'busy', format: 'csv', rows: 1, cols: 1, dtype: 'float32', bytes: 1 });
    const run = await createRun({ datasetId: ds.id, params: {}, ks: [2], seed: 0 });
    await setRunStatus(run.id, 'RUNNING');
    await expect(gcArtifacts(s.store, { graceMs: 0 })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/below 300 s while 1 run/) });
    expect(await s.store.has(orphan)).toBe(true);
    expect((await gcArtifacts(s.store, { graceMs: 300_000 })).deleted).not.toContain(orphan); // at the floor: allowed, and young
    await setRunStatus(run.id, 'FAILED', { error: 'test' });
    const pending = await createModelVersion({ name: 'busy', ...lineage() });
    await expect(gcArtifacts(s.store, { graceMs: 0 })).rejects.toMatchObject({ code: 'CONFLICT' });
    await markVersionReady(pending.id, { artifactSha256: orphan, artifactBytes: 1 });
    const g = await gcArtifacts(s.store, { graceMs: 0 }); // idle again: allowed (and the orphan is referenced now)
    expect(g.deleted).not.toContain(orphan);
  });
});
