import { createHash } from 'node:crypto';
import { Transform, pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { ArtifactCorruptError, type ArtifactReadDamagedError } from './errors.ts';

/**
 * Wraps `source` (the raw bytes stored under `sha256`) in a stream that checks them against the
 * key while they pass. The last chunk is held back until the source ends and the digest matches,
 * so that a consumer of a corrupt object never sees its complete byte sequence: on a mismatch
 * `onCorrupt` runs (the backend confirms the corruption with a second read and quarantines the
 * object, confirm-corrupt.ts) and only then is the stream destroyed with the error it returns, so
 * that whoever sees ArtifactCorruptError also sees `has()` false.
 *
 * Holding back one chunk costs one chunk of memory (64 KiB from a file, a socket read from HTTP).
 */
export function verifiedReadStream(
  source: Readable,
  sha256: string,
  onCorrupt: (actual: string) => Promise<ArtifactCorruptError | ArtifactReadDamagedError>,
): Readable {
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
      // A confirmation that could not read the object again ends the stream with that error.
      onCorrupt(actual).then(done, (err: unknown) => done(err instanceof Error ? err : new ArtifactCorruptError(sha256, actual)));
    },
  });
  // pipeline() forwards a source error to the verifier and destroys the source if the consumer
  // destroys the verifier (a client that hangs up stops the download).
  pipeline(source, verifier, () => {});
  return verifier;
}
