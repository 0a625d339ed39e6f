import { ArtifactStoreConfigError } from './errors.ts';

/** Where an S3 store keeps its objects: `s3://bucket/prefix` (prefix may be empty). */
export interface S3Location {
  bucket: string;
  /** No leading or trailing slash; '' means the bucket's root. */
  prefix: string;
}

/** Connection settings. Apps take them from the environment (`s3OptionsFromEnv`); tests pass them. */
export interface S3StoreOptions {
  /** Absent: the SDK's default AWS endpoint for the region. */
  endpoint?: string;
  region: string;
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and s3rver need. */
  forcePathStyle: boolean;
  /** Absent: the SDK's default provider chain (profiles, SSO, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Multipart part size in bytes (S3's minimum is 5 MiB); with queueSize it bounds upload memory. */
  partSize?: number;
  /** Parts uploaded in parallel. */
  queueSize?: number;
}

// S3's bucket naming rules (3-63 characters, lowercase letters, digits, dots, hyphens).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/.exec(url);
  const bucket = m?.[1] ?? '';
  if (!BUCKET.test(bucket)) {
    throw new ArtifactStoreConfigError(url, `${JSON.stringify(bucket)} is not a valid S3 bucket name`, 'use s3://bucket/optional/prefix');
  }
  const prefix = (m?.[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((seg) => seg === '.' || seg === '..') || prefix.includes('//')) {
    throw new ArtifactStoreConfigError(url, `prefix ${JSON.stringify(prefix)} has empty or dot segments`, 'use s3://bucket/optional/prefix');
  }
  return { bucket, prefix };
}

type Env = Record<string, string | undefined>;

/** Every variable s3OptionsFromEnv reads (create.test.ts checks the list; deployment files are checked against it). */
export const S3_ENV_VARS = [
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'CMBN_S3_FORCE_PATH_STYLE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
] as const;

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v.trim());

/**
 * The SDK's standard variables, read once and validated so that a typo fails at start-up with a
 * readable line rather than as a signing or DNS error on the first upload. (Hand-written rather
 * than zod: @cmbn/artifacts does not depend on zod, and adding it needs a lockfile change.)
 */
export function s3OptionsFromEnv(url: string, env: Env = process.env): S3StoreOptions {
  // AWS_ENDPOINT_URL_S3: the service-specific endpoint (MinIO, s3rver, R2); AWS_ENDPOINT_URL: the global one.
  const endpoint = nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  if (endpoint !== undefined) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(endpoint).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new ArtifactStoreConfigError(url, `endpoint ${JSON.stringify(endpoint)} is not an http(s) URL`, 'set AWS_ENDPOINT_URL_S3 to e.g. http://127.0.0.1:9000');
  }
  // AWS_REGION: signing region; S3-compatible servers accept any, AWS needs the bucket's.
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1';
  // CMBN_S3_FORCE_PATH_STYLE: true for servers without virtual-host buckets (MinIO, s3rver).
  const pathStyle = nonEmpty(env.CMBN_S3_FORCE_PATH_STYLE)?.toLowerCase();
  if (pathStyle !== undefined && !['true', 'false', '1', '0'].includes(pathStyle)) {
    throw new ArtifactStoreConfigError(url, `CMBN_S3_FORCE_PATH_STYLE=${JSON.stringify(pathStyle)} is not a boolean`, 'set it to true or false');
  }
  // AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: static keys; both or neither (then the SDK's chain).
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ArtifactStoreConfigError(url, 'only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set', 'set both, or neither to use the SDK default credential chain');
  }
  return {
    ...(endpoint !== undefined ? { endpoint } : {}),
    region,
    forcePathStyle: pathStyle === 'true' || pathStyle === '1',
    ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  };
}
