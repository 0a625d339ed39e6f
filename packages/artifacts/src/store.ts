import { InvalidArtifactKeyError } from './errors.ts';

export interface PutResult {
  sha256: string;
  bytes: number;
}

export interface PutStreamOptions {
  /** Refuse (ArtifactTooLargeError) and keep nothing once more than this many bytes arrive. */
  maxBytes?: number;
}

/** One object of a store listing. */
export interface StoredObject {
  sha256: string;
  /** When the object was written under its key (file mtime, S3 LastModified). */
  modifiedAt: Date;
}

export type ByteSource = AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/**
 * A content-addressed blob store: the key of a blob is the lowercase hex sha256 of its bytes,
 * so writes are idempotent and a retried job that produces the same bytes lands on the same key.
 *
 * Backends are key/value stores of immutable objects (a file tree, S3): everything here is
 * expressible as put-if-absent / get / head / copy / delete by key.
 *
 * Integrity: every read is checked against its key. When a read finds bytes that do not hash to
 * their key, the backend reads the object again (confirm-corrupt.ts). Wrong again: it moves the
 * object out of the key (into `quarantine/`) before it reports ArtifactCorruptError, so `has()`
 * turns false and the next put/putStream of the right bytes writes the object anew: a damaged
 * object is repaired by simply producing it again. Right the second time: the first read was
 * damaged on the way, nothing is moved, and the read fails with ArtifactReadDamagedError
 * (transient: read again).
 */
export interface ArtifactStore {
  readonly url: string;
  /**
   * Start-up probe: resolves once the store is reachable and writable (file: the directory can be
   * created and written; s3: an object can be put and deleted under the prefix). Otherwise it
   * rejects within seconds, never hangs, with ArtifactStoreConfigError (code STORE_MISCONFIGURED)
   * whose message is one line naming the store, its endpoint and the fix.
   */
  check(): Promise<void>;
  /** Store bytes; idempotent (same bytes → same key, an existing object is not rewritten). */
  put(bytes: Uint8Array): Promise<PutResult>;
  /** Stream bytes in, hashing while writing; nothing is visible under the key until complete. */
  putStream(src: ByteSource, opts?: PutStreamOptions): Promise<PutResult>;
  /**
   * Read and verify the hash: ArtifactCorruptError on a confirmed mismatch (object quarantined),
   * ArtifactReadDamagedError when only this read was wrong, ArtifactNotFoundError if absent.
   */
  get(sha256: string): Promise<Uint8Array>;
  /**
   * Stream an object, verified while it streams. ArtifactNotFoundError (rejected promise) if absent.
   * The stream hashes bytes as they pass and holds back its final chunk until the digest matches
   * the key, so a consumer of a corrupt object never receives the complete byte sequence: on a
   * mismatch confirmed by a second read the object is quarantined and the stream is destroyed
   * with ArtifactCorruptError instead of ending (ArtifactReadDamagedError when the second read
   * verified). Consumers must therefore treat only 'end' (or a resolved pipeline) as
   * success; an HTTP route that pipes this stream aborts its response on error rather than
   * completing it.
   */
  createReadStream(sha256: string): Promise<NodeJS.ReadableStream>;
  has(sha256: string): Promise<boolean>;
  /**
   * Every object under its sha256 key (not tmp/ or quarantine/), with the time it was written, in
   * no particular order. For the registry's garbage collection (@cmbn/registry gcArtifacts).
   */
  list(): AsyncIterable<StoredObject>;
  /**
   * Removes the object under the key; resolves false when there was none. Callers decide what is
   * unreferenced (content-addressed objects are shared): only the registry's GC calls this.
   */
  delete(sha256: string): Promise<boolean>;
  /** When the object was last put (a re-put of the same bytes refreshes it), undefined when absent: the GC's age re-check. */
  modifiedAt(sha256: string): Promise<Date | undefined>;
  /** File backend only: the path of the object, for workers that read or mmap it directly (unverified). */
  localPath?(sha256: string): string;
  /** Releases the backend's sockets (S3); absent where there is nothing to release. */
  close?(): void;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(key: string): boolean {
  return SHA256_HEX.test(key);
}

export function assertSha256Hex(key: string): void {
  if (!SHA256_HEX.test(key)) throw new InvalidArtifactKeyError(key);
}

/** Object key inside a store: `sha256/ab/cdef…` (two-character fan-out keeps directories small). */
export function objectKey(sha256: string): string {
  assertSha256Hex(sha256);
  return `sha256/${sha256.slice(0, 2)}/${sha256.slice(2)}`;
}
