import { InvalidArtifactKeyError } from './errors.ts';

export interface PutResult {
  sha256: string;
  bytes: number;
}

export interface PutStreamOptions {
  /** Refuse (ArtifactTooLargeError) and keep nothing once more than this many bytes arrive. */
  maxBytes?: number;
}

export type ByteSource = AsyncIterable<Uint8Array> | NodeJS.ReadableStream;

/**
 * A content-addressed blob store: the key of a blob is the lowercase hex sha256 of its bytes,
 * so writes are idempotent and a retried job that produces the same bytes lands on the same key.
 *
 * Backends are key/value stores of immutable objects (a file tree, S3, GCS): everything here is
 * expressible as put-if-absent / get / head by key, which is what an S3 backend would implement.
 */
export interface ArtifactStore {
  readonly url: string;
  /** Store bytes; idempotent (same bytes → same key, an existing object is not rewritten). */
  put(bytes: Uint8Array): Promise<PutResult>;
  /** Stream bytes in, hashing while writing; nothing is visible under the key until complete. */
  putStream(src: ByteSource, opts?: PutStreamOptions): Promise<PutResult>;
  /** Read and verify the hash: ArtifactCorruptError on mismatch, ArtifactNotFoundError if absent. */
  get(sha256: string): Promise<Uint8Array>;
  /** Stream an object (not verified: the consumer hashes if it needs to). ArtifactNotFoundError if absent. */
  createReadStream(sha256: string): Promise<NodeJS.ReadableStream>;
  has(sha256: string): Promise<boolean>;
  /** File backend only: the path of the object, for workers that read or mmap it directly. */
  localPath?(sha256: string): string;
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
