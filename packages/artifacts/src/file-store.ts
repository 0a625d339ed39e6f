import { createHash, randomBytes } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { confirmCorruption } from './confirm-corrupt.ts';
import { ArtifactNotFoundError, ArtifactQuarantinedError, ArtifactStoreConfigError, ArtifactTooLargeError, type ArtifactCorruptError, type ArtifactReadDamagedError } from './errors.ts';
import { assertSha256Hex, isSha256Hex, objectKey } from './store.ts';
import type { ArtifactStore, ByteSource, PutResult, PutStreamOptions, StoredObject } from './store.ts';
import { verifiedReadStream } from './verified-read-stream.ts';

const TMP_DIR = 'tmp';
const QUARANTINE_DIR = 'quarantine';

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename durable. Some filesystems refuse fsync on a directory; that only loses durability.
  let h: FileHandle | undefined;
  try {
    h = await open(dir, 'r');
    await h.sync();
  } catch {
    /* best effort */
  } finally {
    await h?.close();
  }
}

/**
 * Objects live at `<root>/sha256/ab/cdef…`; writes go to `<root>/tmp/<random>` first, are
 * fsynced, then renamed into place. rename(2) is atomic within one filesystem, so a reader sees
 * either no object or the whole object, and two writers of the same bytes both end with the same file.
 * A read that finds bytes not matching their key renames the file to `<root>/quarantine/<sha>-<random>`
 * (kept for inspection, never read again), so the key is free for the next put to repair.
 */
export class FileArtifactStore implements ArtifactStore {
  readonly url: string;

  constructor(readonly root: string) {
    this.url = pathToFileURL(root).href;
  }

  localPath(sha256: string): string {
    return join(this.root, objectKey(sha256));
  }

  async check(): Promise<void> {
    // Writing a probe into tmp/ proves what put needs: the tree is creatable and writable.
    const dir = join(this.root, TMP_DIR);
    const probe = join(dir, `check-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      await mkdir(dir, { recursive: true });
      const h = await open(probe, 'w');
      try {
        await h.writeFile('ok');
        await h.sync();
      } finally {
        await h.close();
      }
      await unlink(probe);
    } catch (err) {
      await rm(probe, { force: true }).catch(() => {});
      const e = err as NodeJS.ErrnoException;
      throw new ArtifactStoreConfigError(
        this.url,
        `cannot write ${dir} (${e.code ?? e.message})`,
        'point the store at a directory this process can create and write (a file:// URL or a plain path)',
      );
    }
  }

  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.localPath(sha256))).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async put(bytes: Uint8Array): Promise<PutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (await this.touch(sha256)) return { sha256, bytes: bytes.byteLength };
    const tmp = await this.tempFile();
    try {
      const h = await open(tmp, 'w');
      try {
        await h.writeFile(bytes);
        await h.sync();
      } finally {
        await h.close();
      }
      await this.commit(tmp, sha256);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { sha256, bytes: bytes.byteLength };
  }

  async putStream(src: ByteSource, opts: PutStreamOptions = {}): Promise<PutResult> {
    const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    const hash = createHash('sha256');
    const tmp = await this.tempFile();
    let total = 0;
    try {
      const h = await open(tmp, 'w');
      try {
        for await (const chunk of src as AsyncIterable<Uint8Array | string>) {
          const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          total += buf.byteLength;
          if (total > maxBytes) {
            // Stop reading at once; the caller's stream is released by the for-await return.
            throw new ArtifactTooLargeError(maxBytes);
          }
          hash.update(buf);
          let off = 0;
          while (off < buf.byteLength) {
            const { bytesWritten } = await h.write(buf, off, buf.byteLength - off);
            off += bytesWritten;
          }
        }
        await h.sync();
      } finally {
        await h.close();
      }
      const sha256 = hash.digest('hex');
      if (await this.touch(sha256)) await unlink(tmp);
      else await this.commit(tmp, sha256);
      return { sha256, bytes: total };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Re-put of an existing object: its mtime becomes now, so the registry's GC counts its grace
   * period from this write, not the first one (the writer is about to record a reference to it).
   * False when there is no object, or it is not ours to touch (utimes with explicit times needs
   * the file's owner: a store shared between users): then the caller writes it anew, and the rename
   * gives it a fresh mtime just the same.
   */
  private async touch(sha256: string): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(this.localPath(sha256), now, now);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (isNotFound(err) || code === 'EPERM' || code === 'EACCES') return false;
      throw err;
    }
  }

  /** The object's mtime (when it was last put), undefined when absent. */
  async modifiedAt(sha256: string): Promise<Date | undefined> {
    try {
      return (await stat(this.localPath(sha256))).mtime;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async *list(): AsyncIterable<StoredObject> {
    const root = join(this.root, 'sha256');
    const fanout = await readdir(root).catch((err: unknown) => {
      if (isNotFound(err)) return [] as string[];
      throw err;
    });
    for (const d of fanout.sort()) {
      const names = await readdir(join(root, d)).catch((err: unknown) => {
        if (isNotFound(err)) return [] as string[];
        throw err;
      });
      for (const f of names.sort()) {
        const sha256 = d + f;
        if (!isSha256Hex(sha256)) continue;
        try {
          yield { sha256, modifiedAt: (await stat(join(root, d, f))).mtime };
        } catch (err) {
          if (!isNotFound(err)) throw err; // deleted while listing
        }
      }
    }
  }

  async delete(sha256: string): Promise<boolean> {
    const path = this.localPath(sha256);
    try {
      await unlink(path);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    await fsyncDir(dirname(path));
    return true;
  }

  async get(sha256: string): Promise<Uint8Array> {
    const path = this.localPath(sha256);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      if (isNotFound(err)) throw await this.missing(sha256);
      throw err;
    }
    const actual = createHash('sha256').update(buf).digest('hex');
    if (actual !== sha256) throw await this.corruptRead(sha256, actual);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  async createReadStream(sha256: string): Promise<NodeJS.ReadableStream> {
    const source = await this.fileStream(sha256);
    if (source === null) throw await this.missing(sha256);
    return verifiedReadStream(source, sha256, (actual) => this.corruptRead(sha256, actual));
  }

  /**
   * A read stream of the object's file, or null when the key has none (createReadStream's and the
   * confirming read's). Opened first, so that a missing object is known here, not later on the stream.
   */
  private async fileStream(sha256: string): Promise<ReadStream | null> {
    try {
      return (await open(this.localPath(sha256), 'r')).createReadStream({ autoClose: true });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** A read found the wrong bytes: confirmed by a second read before the object is quarantined (confirm-corrupt.ts). */
  private corruptRead(sha256: string, actual: string): Promise<ArtifactCorruptError | ArtifactReadDamagedError> {
    return confirmCorruption(sha256, actual, {
      reread: () => this.fileStream(sha256),
      quarantine: () => this.quarantine(sha256),
    });
  }

  /** Why a key has no object: quarantined as corrupt by an earlier read, or never written (or deleted). */
  private async missing(sha256: string): Promise<ArtifactNotFoundError | ArtifactQuarantinedError> {
    const names = await readdir(join(this.root, QUARANTINE_DIR)).catch(() => [] as string[]);
    return names.some((n) => n.startsWith(`${sha256}-`)) ? new ArtifactQuarantinedError(sha256) : new ArtifactNotFoundError(sha256);
  }

  /**
   * Moves a corrupt object out of its key. A concurrent writer may have repaired the key just
   * before the rename; then good bytes go to quarantine and the next put repairs again, which is
   * harmless because puts are idempotent.
   */
  private async quarantine(sha256: string): Promise<void> {
    const dir = join(this.root, QUARANTINE_DIR);
    await mkdir(dir, { recursive: true });
    try {
      await rename(this.localPath(sha256), join(dir, `${sha256}-${Date.now()}-${randomBytes(4).toString('hex')}`));
    } catch (err) {
      if (!isNotFound(err)) throw err; // another reader quarantined it first
    }
  }

  private async tempFile(): Promise<string> {
    const dir = join(this.root, TMP_DIR);
    await mkdir(dir, { recursive: true });
    return join(dir, `${process.pid}-${randomBytes(8).toString('hex')}.part`);
  }

  private async commit(tmp: string, sha256: string): Promise<void> {
    assertSha256Hex(sha256);
    const dest = this.localPath(sha256);
    await mkdir(dirname(dest), { recursive: true });
    // A concurrent writer of the same bytes may win the race; its file is identical, so replacing it is harmless.
    await rename(tmp, dest);
    await fsyncDir(dirname(dest));
  }
}
