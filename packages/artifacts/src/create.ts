import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactBackendNotImplementedError } from './errors.ts';
import { FileArtifactStore } from './file-store.ts';
import type { ArtifactStore } from './store.ts';

/**
 * `file:///abs/dir` or a plain path (relative paths resolve against the cwd) → FileArtifactStore.
 * `s3://bucket/prefix` is reserved: an S3 backend implements ArtifactStore with put-if-absent,
 * get and head on `objectKey(sha256)` under the prefix; it is not part of this build.
 */
export function createArtifactStore(url: string): ArtifactStore {
  if (url.startsWith('file:')) return new FileArtifactStore(fileURLToPath(url));
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme !== undefined) throw new ArtifactBackendNotImplementedError(url);
  return new FileArtifactStore(isAbsolute(url) ? url : resolve(url));
}
