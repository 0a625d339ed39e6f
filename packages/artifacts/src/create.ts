import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactBackendNotImplementedError } from './errors.ts';
import { FileArtifactStore } from './file-store.ts';
import { parseS3Url, s3OptionsFromEnv } from './s3-config.ts';
import type { S3StoreOptions } from './s3-config.ts';
import { S3ArtifactStore } from './s3-store.ts';
import type { ArtifactStore } from './store.ts';

export interface CreateArtifactStoreOptions {
  /** Replaces the environment (AWS_ENDPOINT_URL_S3, AWS_REGION, keys, CMBN_S3_FORCE_PATH_STYLE) for s3:// URLs; tests use it. */
  s3?: S3StoreOptions;
}

/**
 * `file:///abs/dir` or a plain path (relative paths resolve against the cwd) → FileArtifactStore.
 * `s3://bucket/prefix` → S3ArtifactStore, configured from the SDK's standard environment
 * variables (see `s3OptionsFromEnv`). Nothing is contacted here; apps call `check()` at start-up.
 * A malformed URL or environment throws ArtifactStoreConfigError.
 */
export function createArtifactStore(url: string, opts: CreateArtifactStoreOptions = {}): ArtifactStore {
  if (url.startsWith('file:')) return new FileArtifactStore(fileURLToPath(url));
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme?.toLowerCase() === 's3') return new S3ArtifactStore(parseS3Url(url), opts.s3 ?? s3OptionsFromEnv(url));
  if (scheme !== undefined) throw new ArtifactBackendNotImplementedError(url);
  return new FileArtifactStore(isAbsolute(url) ? url : resolve(url));
}

/**
 * What an app calls at start-up: the store of `url`, probed with `check()` before the app opens
 * anything else, so a wrong endpoint, rejected credentials, a missing bucket or an unwritable
 * directory end the process at once (within check()'s deadline) with one line, instead of
 * failing its first job. Rejects with ArtifactStoreConfigError (code STORE_MISCONFIGURED), whose
 * message is that line; the store's sockets are released first.
 */
export async function openArtifactStore(url: string, opts: CreateArtifactStoreOptions = {}): Promise<ArtifactStore> {
  const store = createArtifactStore(url, opts);
  try {
    await store.check();
  } catch (err) {
    store.close?.();
    throw err;
  }
  return store;
}
