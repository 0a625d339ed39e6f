/**
 * Errors of the artifact store. `code` is stable; the package knows nothing of HTTP: the API maps
 * each code to a status in one table (apps/coordinator/src/errors.ts).
 */
export type ArtifactErrorCode =
  | 'ARTIFACT_NOT_FOUND'
  | 'ARTIFACT_CORRUPT'
  | 'ARTIFACT_READ_DAMAGED'
  | 'ARTIFACT_TOO_LARGE'
  | 'INVALID_KEY'
  | 'NOT_IMPLEMENTED'
  | 'STORE_MISCONFIGURED';

export class ArtifactError extends Error {
  constructor(
    readonly code: ArtifactErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ArtifactNotFoundError extends ArtifactError {
  constructor(readonly sha256: string) {
    super('ARTIFACT_NOT_FOUND', `artifact ${sha256} not found`);
  }
}

export class ArtifactCorruptError extends ArtifactError {
  constructor(
    readonly sha256: string,
    readonly actual: string,
    message = `artifact ${sha256} is corrupt: its content hashes to ${actual}`,
  ) {
    super('ARTIFACT_CORRUPT', message);
  }
}

/**
 * The object is gone from its key because an earlier read found its bytes wrong and quarantined
 * it. Reported as what it is (corrupt), not as "not found", so that every reader after the first
 * gets the same reason; `actual` is unknown here.
 */
export class ArtifactQuarantinedError extends ArtifactCorruptError {
  constructor(sha256: string) {
    super(sha256, 'unknown', `artifact ${sha256} is corrupt: an earlier read found its bytes wrong and quarantined it; putting the correct bytes again repairs it`);
  }
}

/**
 * A read's bytes did not match their key, but the stored object did on a second, confirming read:
 * the first read was damaged on the way (a backend serving a torn body while the same bytes were
 * being replaced, a faulty link or proxy), not the object. Nothing is quarantined; reading again is
 * the remedy, so the retry taxonomy (@cmbn/jobs) calls it transient and the API a 503.
 */
export class ArtifactReadDamagedError extends ArtifactError {
  constructor(
    readonly sha256: string,
    readonly actual: string,
  ) {
    super('ARTIFACT_READ_DAMAGED', `artifact ${sha256}: a read's bytes hashed to ${actual}, but the stored object verified on a second read, so the read was damaged on the way and nothing was quarantined; read it again`);
  }
}

export class ArtifactTooLargeError extends ArtifactError {
  constructor(readonly maxBytes: number) {
    super('ARTIFACT_TOO_LARGE', `artifact exceeds the limit of ${maxBytes} bytes`);
  }
}

export class InvalidArtifactKeyError extends ArtifactError {
  constructor(key: string) {
    super('INVALID_KEY', `not a sha256 hex digest: ${JSON.stringify(key)}`);
  }
}

export class ArtifactBackendNotImplementedError extends ArtifactError {
  constructor(url: string) {
    super('NOT_IMPLEMENTED', `artifact store ${url}: this backend is not implemented in this build (use file:///abs/dir, a plain path or s3://bucket/prefix)`);
  }
}

/**
 * The store cannot be used as configured (unreachable endpoint, rejected credentials, missing
 * bucket, unwritable directory). The message is one line naming the store, where it points and
 * the fix, so that an app can print it at start-up and exit.
 */
export class ArtifactStoreConfigError extends ArtifactError {
  constructor(
    readonly storeUrl: string,
    readonly reason: string,
    readonly fix: string,
  ) {
    super('STORE_MISCONFIGURED', `artifact store ${storeUrl}: ${reason}; ${fix}`);
  }
}
