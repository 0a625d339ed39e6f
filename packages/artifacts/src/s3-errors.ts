/** What the SDK attaches to service errors; network errors carry a Node `code` instead. */
interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  errors?: unknown[];
  cause?: unknown;
}

/** True for "no such object" from HeadObject (bare 404, no body) and GetObject/CopyObject (NoSuchKey). */
export function isS3NotFound(err: unknown): boolean {
  const e = err as SdkErrorShape | undefined;
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || (e?.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket');
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ERR_SOCKET_CONNECTION_TIMEOUT']);
const CREDENTIAL_NAMES = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError', 'AuthorizationHeaderMalformed']);

/** The Node error code of a socket failure, looking through AggregateError (happy eyeballs) and causes. */
function networkCode(err: unknown, depth = 0): string | undefined {
  const e = err as SdkErrorShape | undefined;
  if (e === undefined || e === null || depth > 3) return undefined;
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return e.code;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timed out';
  for (const inner of e.errors ?? []) {
    const c = networkCode(inner, depth + 1);
    if (c !== undefined) return c;
  }
  return networkCode(e.cause, depth + 1);
}

export interface S3Diagnosis {
  reason: string;
  fix: string;
}

/** Turns a failed start-up probe into one reason and one fix, for ArtifactStoreConfigError. */
export function diagnoseS3Failure(err: unknown, endpoint: string, bucket: string): S3Diagnosis {
  const e = (err ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const net = networkCode(err);
  if (net !== undefined && status === undefined) {
    return {
      reason: `cannot reach ${endpoint} (${net})`,
      fix: 'set AWS_ENDPOINT_URL_S3 to a reachable S3 endpoint (and CMBN_S3_FORCE_PATH_STYLE=true for MinIO or s3rver)',
    };
  }
  if (e.name === 'NoSuchBucket') {
    return { reason: `bucket ${JSON.stringify(bucket)} does not exist at ${endpoint}`, fix: 'create the bucket or correct the bucket in the s3:// URL' };
  }
  if ((e.name !== undefined && CREDENTIAL_NAMES.has(e.name)) || status === 401 || status === 403) {
    return {
      reason: `${endpoint} rejected the credentials (${e.name ?? status})`,
      fix: `set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to a key that may write bucket ${JSON.stringify(bucket)}`,
    };
  }
  const first = (e.message ?? String(err)).split('\n')[0];
  return {
    reason: `probe of ${endpoint} failed (${e.name ?? 'Error'}${status !== undefined ? ` ${status}` : ''}: ${first})`,
    fix: 'check AWS_ENDPOINT_URL_S3, AWS_REGION, CMBN_S3_FORCE_PATH_STYLE and the credentials',
  };
}
