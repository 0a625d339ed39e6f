import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ArtifactBackendNotImplementedError,
  ArtifactCorruptError,
  ArtifactNotFoundError,
  ArtifactTooLargeError,
  FileArtifactStore,
  createArtifactStore,
} from './index.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

async function* chunks(n: number, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < n; i++) yield new Uint8Array(size).fill(i & 0xff);
}

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

  it('round-trips bytes under their sha256 with a two-character fan-out', async () => {
    const bytes = new TextEncoder().encode('hello artifacts');
    const r = await store.put(bytes);
    expect(r).toEqual({ sha256: sha(bytes), bytes: bytes.byteLength });
    expect(store.localPath(r.sha256)).toBe(join(root, 'sha256', r.sha256.slice(0, 2), r.sha256.slice(2)));
    expect(await store.has(r.sha256)).toBe(true);
    expect(Buffer.from(await store.get(r.sha256)).toString()).toBe('hello artifacts');

    const parts: Buffer[] = [];
    for await (const c of await store.createReadStream(r.sha256)) parts.push(c as Buffer);
    expect(Buffer.concat(parts).toString()).toBe('hello artifacts');
  });

  it('put is idempotent and does not rewrite an existing object', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const a = await store.put(bytes);
    const { mtimeMs } = await stat(store.localPath(a.sha256));
    await new Promise((r) => setTimeout(r, 20));
    const b = await store.put(bytes);
    expect(b).toEqual(a);
    const after = await stat(store.localPath(a.sha256));
    expect(after.mtimeMs).toBe(mtimeMs);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });

  it('putStream hashes while writing and matches put', async () => {
    const r = await store.putStream(chunks(10, 1000));
    const all = new Uint8Array(10_000);
    for (let i = 0; i < 10; i++) all.fill(i, i * 1000, (i + 1) * 1000);
    expect(r).toEqual({ sha256: sha(all), bytes: 10_000 });
    expect(await store.get(r.sha256)).toEqual(all);
    // A Node Readable works too.
    const r2 = await store.putStream(Readable.from([Buffer.from(all)]));
    expect(r2).toEqual(r);
  });

  it('detects a corrupt object on read', async () => {
    const r = await store.put(new Uint8Array([9, 9, 9]));
    await writeFile(store.localPath(r.sha256), new Uint8Array([9, 9, 8]));
    await expect(store.get(r.sha256)).rejects.toBeInstanceOf(ArtifactCorruptError);
  });

  it('reports missing objects with a typed error', async () => {
    const missing = 'a'.repeat(64);
    expect(await store.has(missing)).toBe(false);
    await expect(store.get(missing)).rejects.toBeInstanceOf(ArtifactNotFoundError);
    await expect(store.createReadStream(missing)).rejects.toBeInstanceOf(ArtifactNotFoundError);
    await expect(store.get('../../etc/passwd')).rejects.toThrow(/sha256/);
  });

  it('a too-large stream throws and leaves nothing behind', async () => {
    await expect(store.putStream(chunks(10, 1000), { maxBytes: 5000 })).rejects.toBeInstanceOf(ArtifactTooLargeError);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
    const fanout = await readdir(join(root, 'sha256')).catch(() => []);
    expect(fanout).toEqual([]);
    // Exactly at the limit is accepted.
    await expect(store.putStream(chunks(5, 1000), { maxBytes: 5000 })).resolves.toMatchObject({ bytes: 5000 });
  });

  it('concurrent puts of the same bytes end with one intact object', async () => {
    const bytes = new Uint8Array(256 * 1024).map((_, i) => (i * 31) & 0xff);
    const results = await Promise.all([
      ...Array.from({ length: 8 }, () => store.put(bytes)),
      ...Array.from({ length: 8 }, () => store.putStream(Readable.from([Buffer.from(bytes)]))),
    ]);
    expect(new Set(results.map((r) => r.sha256)).size).toBe(1);
    const key = results[0]!.sha256;
    expect(await store.get(key)).toEqual(bytes);
    expect(await readdir(join(root, 'sha256', key.slice(0, 2)))).toEqual([key.slice(2)]);
    expect(await readdir(join(root, 'tmp'))).toEqual([]);
  });
});

describe('createArtifactStore', () => {
  it('accepts file:// URLs and plain paths', () => {
    const dir = join(tmpdir(), 'cmbn-x');
    const a = createArtifactStore(pathToFileURL(dir).href);
    const b = createArtifactStore(dir);
    expect(a).toBeInstanceOf(FileArtifactStore);
    expect(a.url).toBe(b.url);
    expect(a.localPath?.('0'.repeat(64))).toBe(join(dir, 'sha256', '00', '0'.repeat(62)));
  });

  it('refuses s3:// with a clear not-implemented error', () => {
    expect(() => createArtifactStore('s3://bucket/prefix')).toThrow(ArtifactBackendNotImplementedError);
    expect(() => createArtifactStore('s3://bucket/prefix')).toThrow(/not implemented in this build/);
  });
});
