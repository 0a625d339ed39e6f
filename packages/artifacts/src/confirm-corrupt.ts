import { createHash } from 'node:crypto';
import { ArtifactCorruptError, ArtifactReadDamagedError } from './errors.ts';

/** What a backend offers the confirmation: its stored object's bytes afresh, and its quarantine. */
export interface CorruptionPorts {
  /** The object stored under the key, read again from the backend (null when it is gone). */
  reread(): Promise<NodeJS.ReadableStream | null>;
  /** Moves the object out of its key (kept for inspection). */
  quarantine(): Promise<void>;
}

/**
 * The one rule for a read whose bytes hash to `actual`, not to their key `sha256`: read the stored
 * object again and quarantine it only if that read is wrong too. A good object is then never
 * moved out of its key because one read of it was damaged on the way (a backend that served a
 * torn body while the same bytes were replaced: plain s3rver did, docs/DEPLOY.md), and a corrupt
 * one still is. Returns the error the first read's caller gets: ArtifactReadDamagedError (the
 * object is intact, read again) or ArtifactCorruptError (quarantined, or gone already because
 * another reader quarantined it). A quarantine that fails still reports the corruption. A second
 * read that fails (the backend went away) rejects with its own error: unconfirmed, nothing is
 * moved, and that error is what the retry taxonomy sees.
 */
export async function confirmCorruption(sha256: string, actual: string, ports: CorruptionPorts): Promise<ArtifactCorruptError | ArtifactReadDamagedError> {
  const again = await hashOf(await ports.reread());
  if (again === sha256) return new ArtifactReadDamagedError(sha256, actual);
  if (again !== null) await ports.quarantine().catch(() => {});
  return new ArtifactCorruptError(sha256, actual);
}

async function hashOf(stream: NodeJS.ReadableStream | null): Promise<string | null> {
  if (stream === null) return null;
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
