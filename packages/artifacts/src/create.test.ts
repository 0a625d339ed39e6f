import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ArtifactBackendNotImplementedError,
  ArtifactStoreConfigError,
  FileArtifactStore,
  S3ArtifactStore,
  S3_ENV_VARS,
  createArtifactStore,
  openArtifactStore,
  parseS3Url,
  s3OptionsFromEnv,
} from './index.ts';

describe('createArtifactStore', () => {
  it('accepts file:// URLs and plain paths', () => {
    const dir = join(tmpdir(), 'cmbn-x');
    const a = createArtifactStore(pathToFileURL(dir).href);
    const b = createArtifactStore(dir);
    expect(a).toBeInstanceOf(FileArtifactStore);
    expect(a.url).toBe(b.url);
    expect(a.localPath?.('0'.repeat(64))).toBe(join(dir, 'sha256', '00', '0'.repeat(62)));
  });

  it('selects the S3 backend for s3:// without contacting anything', () => {
    const s = createArtifactStore('s3://my-bucket/runs/a/', { s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', forcePathStyle: true } });
    expect(s).toBeInstanceOf(S3ArtifactStore);
    expect(s.url).toBe('s3://my-bucket/runs/a');
    expect(s.localPath).toBeUndefined();
    expect((s as S3ArtifactStore).keyOf('ab'.repeat(32))).toBe(`runs/a/sha256/ab/${'ab'.repeat(31)}`);
    (s as S3ArtifactStore).close();
  });

  it('refuses malformed s3:// URLs and other schemes with typed errors', () => {
    expect(() => createArtifactStore('s3://Bad_Bucket/x')).toThrow(ArtifactStoreConfigError);
    expect(() => createArtifactStore('s3:///x')).toThrow(/not a valid S3 bucket name/);
    expect(() => createArtifactStore('gs://bucket/prefix')).toThrow(ArtifactBackendNotImplementedError);
    expect(parseS3Url('s3://bucket')).toEqual({ bucket: 'bucket', prefix: '' });
    expect(() => parseS3Url('s3://bucket/a/../b')).toThrow(/dot segments/);
  });
});

describe('s3OptionsFromEnv', () => {
  const url = 's3://b/p';
  it('reads the SDK standard variables', () => {
    expect(s3OptionsFromEnv(url, {})).toEqual({ region: 'us-east-1', forcePathStyle: false });
    expect(
      s3OptionsFromEnv(url, {
        AWS_ENDPOINT_URL: 'http://global:1',
        AWS_ENDPOINT_URL_S3: 'http://s3only:9000',
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'AK',
        AWS_SECRET_ACCESS_KEY: 'SK',
        CMBN_S3_FORCE_PATH_STYLE: 'true',
      }),
    ).toEqual({ endpoint: 'http://s3only:9000', region: 'eu-west-1', forcePathStyle: true, credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } });
    expect(s3OptionsFromEnv(url, { AWS_ENDPOINT_URL: 'http://global:1' }).endpoint).toBe('http://global:1');
  });

  it('reads exactly the variables S3_ENV_VARS lists', () => {
    const read = new Set<string>();
    const spy = new Proxy({} as Record<string, string | undefined>, { get: (_t, k) => void (typeof k === 'string' && read.add(k)) });
    s3OptionsFromEnv(url, spy);
    expect([...read].sort()).toEqual([...S3_ENV_VARS].sort());
  });

  it('fails with one readable line on a bad value', () => {
    expect(() => s3OptionsFromEnv(url, { AWS_ENDPOINT_URL_S3: 'minio:9000' })).toThrow(/endpoint "minio:9000" is not an http\(s\) URL; set AWS_ENDPOINT_URL_S3/);
    expect(() => s3OptionsFromEnv(url, { CMBN_S3_FORCE_PATH_STYLE: 'yes' })).toThrow(/not a boolean/);
    expect(() => s3OptionsFromEnv(url, { AWS_ACCESS_KEY_ID: 'AK' })).toThrow(/only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });
});

describe('openArtifactStore (what the apps call at start-up)', () => {
  it('returns a checked store, and rejects an unusable one with its one-line STORE_MISCONFIGURED error', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cmbn-open-'));
    try {
      const ok = await openArtifactStore(join(root, 'store'));
      expect(ok.url).toBe(createArtifactStore(join(root, 'store')).url);
      await writeFile(join(root, 'plain-file'), 'x');
      const err = await openArtifactStore(join(root, 'plain-file', 'store')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ArtifactStoreConfigError);
      expect((err as Error).message).toMatch(/^artifact store file:.*plain-file\/store: cannot write .*\(ENOTDIR\); point the store at/);
      // Nothing listens on port 1: refused at once, the clients released (the test would hang otherwise).
      const refused = await openArtifactStore('s3://cmbn-artifacts/x', {
        s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
      }).catch((e: unknown) => e);
      expect((refused as ArtifactStoreConfigError).code).toBe('STORE_MISCONFIGURED');
      expect((refused as Error).message).toMatch(/^artifact store s3:\/\/cmbn-artifacts\/x: cannot reach http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\); set AWS_ENDPOINT_URL_S3/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
