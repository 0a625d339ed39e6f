export type { ArtifactStore, ByteSource, PutResult, PutStreamOptions, StoredObject } from './store.ts';
export { assertSha256Hex, isSha256Hex, objectKey } from './store.ts';
export { FileArtifactStore } from './file-store.ts';
export { S3ArtifactStore } from './s3-store.ts';
export { S3_ENV_VARS, parseS3Url, s3OptionsFromEnv } from './s3-config.ts';
export type { S3Location, S3StoreOptions } from './s3-config.ts';
export { createArtifactStore, openArtifactStore } from './create.ts';
export type { CreateArtifactStoreOptions } from './create.ts';
export { verifiedReadStream } from './verified-read-stream.ts';
export {
  ArtifactBackendNotImplementedError,
  ArtifactCorruptError,
  ArtifactQuarantinedError,
  ArtifactReadDamagedError,
  ArtifactError,
  ArtifactNotFoundError,
  ArtifactStoreConfigError,
  ArtifactTooLargeError,
  InvalidArtifactKeyError,
} from './errors.ts';
export type { ArtifactErrorCode } from './errors.ts';
// Test fixtures: a real S3-protocol server (s3rver, a dev dependency, resolved only when called).
export { S3RVER_CREDENTIALS, startS3Server } from './s3-test-server.ts';
export type { S3TestServer, StartS3ServerOptions } from './s3-test-server.ts';
export { listS3Keys, s3StoreForTest } from './s3-store-for-test.ts';
export type { S3StoreForTestOptions, S3TestStore } from './s3-store-for-test.ts';
