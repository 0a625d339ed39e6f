import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactCorruptError, ArtifactStoreConfigError, FileArtifactStore } from './index.ts';

// Backend-specific behaviour of the file tree; the shared contract is in store.contract.test.ts.
describe('FileArtifactStore', () => {
  let root: string;
  let store: FileArtifactStore;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cmbn-artifacts-'));
    store = new FileArtifactStore(root);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps objects at <root>/sha256/ab/cdef… (localPath)', async () => {
    const r = await store.put(new TextEncoder().encode('hello artifacts'));
    expect(store.localPath(r.sha256)).toBe(join(root, 'sha256', r.sha256.slice(0, 2), r.sha256.slice(2)));
    expect((await readFile(store.localPath(r.sha256))).toString()).toBe('hello artifacts');
  });

  it('does not rewrite an existing object, but refreshes its mtime (the GC grace counts from the last put)', async () => {
    const a = await store.put(new Uint8Array([1, 2, 3]));
    const path = store.localPath(a.sha256);
    const old = new Date(Date.now() - 3_600_000);
    await utimes(path, old, old);
    const { ino } = await stat(path);
    await store.put(new Uint8Array([1, 2, 3]));
    const after = await stat(path);
    expect(after.ino).toBe(ino); // the same file: touched, not written again
    expect(after.mtimeMs).toBeGreaterThan(old.getTime() + 60_000);
  });

  it('moves a corrupt object under <root>/quarantine/, bytes kept for inspection', async () => {
    const { sha256 } = await store.put(new Uint8Array([9, 9, 9]));
    await writeFile(store.localPath(sha256), new Uint8Array([9, 9, 8]));
    await expect(store.get(sha256)).rejects.toBeInstanceOf(ArtifactCorruptError);
    const [q] = await readdir(join(root, 'quarantine'));
    expect(q?.startsWith(`${sha256}-`)).toBe(true);
    expect([...(await readFile(join(root, 'quarantine', q!)))]).toEqual([9, 9, 8]);
  });

  it('check() creates a missing root and leaves no probe behind', async () => {
    const nested = new FileArtifactStore(join(root, 'a', 'b'));
    await nested.check();
    expect(await readdir(join(root, 'a', 'b', 'tmp'))).toEqual([]);
  });

  it('check() fails with one STORE_MISCONFIGURED line when the root cannot be a directory', async () => {
    // A regular file where a directory must go fails even for root, unlike a chmod.
    await writeFile(join(root, 'plain-file'), 'x');
    const bad = new FileArtifactStore(join(root, 'plain-file', 'store'));
    const err = await bad.check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactStoreConfigError);
    expect((err as ArtifactStoreConfigError).code).toBe('STORE_MISCONFIGURED');
    expect((err as Error).message).toMatch(/^artifact store file:\/\/.*plain-file\/store: cannot write .* \(ENOTDIR\); point the store at a directory/);
    expect((err as Error).message).not.toContain('\n');
  });
});
