import { createHash } from 'node:crypto';
import { Transform, pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { ArtifactCorruptError } from './errors.ts';

/**
 * Wraps `source` (the raw bytes stored under `sha256`) in a stream that checks them against the
 * key while they pass. The last chunk is held back until the source ends and the digest matches,
 * so that a consumer of a corrupt object never sees its complete byte sequence: on a mismatch
 * `onCorrupt` runs (the backend quarantines the object) and only then is the stream destroyed
 * with ArtifactCorruptError, so that whoever sees the error also sees `has()` false.
 *
 * Holding back one chunk costs one chunk of memory (64 KiB from a file, a socket read from HTTP).
 */
export function verifiedReadStream(source: Readable, sha256: string, onCorrupt: (actual: string) => Promise<void>): Readable {
  const hash = createHash('sha256');
  let held: Buffer | undefined;
  const verifier = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      const out = held;
      held = chunk;
      done(null, out);
    },
    flush(done) {
      const actual = hash.digest('hex');
      if (actual === sha256) {
        done(null, held);
        return;
      }
      held = undefined;
      // Quarantine failures must not mask the corruption, which is what the reader needs to know.
      onCorrupt(actual)
        .catch(() => {})
        .then(() => done(new ArtifactCorruptError(sha256, actual)));
    },
  });
  // pipeline() forwards a source error to the verifier and destroys the source if the consumer
  // destroys the verifier (a client that hangs up stops the download).
  pipeline(source, verifier, () => {});
  return verifier;
}
