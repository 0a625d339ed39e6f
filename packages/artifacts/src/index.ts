export type { ArtifactStore, ByteSource, PutResult, PutStreamOptions } from './store.ts';
export { assertSha256Hex, isSha256Hex, objectKey } from './store.ts';
export { FileArtifactStore } from './file-store.ts';
export { createArtifactStore } from './create.ts';
export {
  ArtifactBackendNotImplementedError,
  ArtifactCorruptError,
  ArtifactError,
  ArtifactNotFoundError,
  ArtifactTooLargeError,
  InvalidArtifactKeyError,
} from './errors.ts';
export type { ArtifactErrorCode } from './errors.ts';
