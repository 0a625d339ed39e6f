import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStoreConfigError, S3ArtifactStore, parseS3Url, s3OptionsFromEnv, s3StoreForTest, startS3Server } from './index.ts';
import type { S3StoreOptions, S3TestServer, S3TestStore } from './index.ts';

/**
 * S3-specific behaviour against a real s3rver child process: start-up diagnosis of each kind of
 * misconfiguration, configuration from the environment, and the restartable test fixture.
 *
 * s3rver checks the access key id (anything but S3RVER is InvalidAccessKeyId) but does not verify
 * SigV4 signatures, so a wrong secret with the right key id is accepted here; a real S3 answers
 * SignatureDoesNotMatch, which check() reports the same way as a wrong key id.
 */

// "Within seconds" with room for a loaded 2-core machine; the probe's own deadline is 10 s.
const FAIL_FAST_MS = 15_000;

let t: S3TestStore;
beforeAll(async () => {
  t = await s3StoreForTest();
});
afterAll(async () => {
  await t?.cleanup();
});

async function expectMisconfigured(opts: S3StoreOptions, bucket: string, message: RegExp): Promise<void> {
  const store = new S3ArtifactStore({ bucket, prefix: 'p' }, opts);
  const started = Date.now();
  try {
    const err = await store.check().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(FAIL_FAST_MS);
    expect(err).toBeInstanceOf(ArtifactStoreConfigError);
    expect((err as ArtifactStoreConfigError).code).toBe('STORE_MISCONFIGURED');
    const text = (err as Error).message;
    expect(text).not.toContain('\n');
    expect(text).toMatch(message);
  } finally {
    store.close();
  }
}

describe('S3ArtifactStore.check()', () => {
  it('passes against a reachable server, the right key and an existing bucket', async () => {
    await expect(t.store.check()).resolves.toBeUndefined();
  });

  it('fails fast naming the endpoint when nothing listens there', async () => {
    // Port 1 on loopback: connection refused at once.
    await expectMisconfigured({ ...t.options, endpoint: 'http://127.0.0.1:1' }, t.bucket, /^artifact store s3:\/\/.*: cannot reach http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\); set AWS_ENDPOINT_URL_S3/);
  });

  it('fails fast, never hangs, when the endpoint accepts connections but never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const addr = silent.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    try {
      await expectMisconfigured({ ...t.options, endpoint: `http://127.0.0.1:${port}` }, t.bucket, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} \\((ETIMEDOUT|timed out)\\); set AWS_ENDPOINT_URL_S3`));
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('fails fast on credentials the server does not know', async () => {
    await expectMisconfigured(
      { ...t.options, credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong' } },
      t.bucket,
      new RegExp(`${t.endpoint.replace(/[.]/g, '\\.')} rejected the credentials \\(InvalidAccessKeyId\\); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`),
    );
  });

  it('fails fast on a bucket that does not exist', async () => {
    await expectMisconfigured(t.options, 'cmbn-no-such-bucket', /bucket "cmbn-no-such-bucket" does not exist at http:\/\/.*; create the bucket/);
  });
});

describe('S3ArtifactStore configured from the environment', () => {
  it('round-trips through the SDK standard variables (the path apps use)', async () => {
    const url = `s3://${t.bucket}/from-env`;
    const env = {
      AWS_ENDPOINT_URL_S3: t.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: t.options.credentials?.accessKeyId,
      AWS_SECRET_ACCESS_KEY: t.options.credentials?.secretAccessKey,
      CMBN_S3_FORCE_PATH_STYLE: 'true',
    };
    const store = new S3ArtifactStore(parseS3Url(url), s3OptionsFromEnv(url, env));
    try {
      await store.check();
      const r = await store.put(new TextEncoder().encode('via env'));
      expect(Buffer.from(await store.get(r.sha256)).toString()).toBe('via env');
      expect(await t.listKeys('')).toEqual([]); // another prefix than the fixture store's
    } finally {
      store.close();
    }
  });
});

describe('startS3Server', () => {
  let server: S3TestServer;
  beforeAll(async () => {
    server = await startS3Server({ buckets: ['cmbn-fixture'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('restart() kills the child and brings it back on the same endpoint with its data', async () => {
    const store = new S3ArtifactStore({ bucket: 'cmbn-fixture', prefix: '' }, server.options());
    try {
      const r = await store.put(new TextEncoder().encode('survives a restart'));
      await server.restart();
      expect(Buffer.from(await store.get(r.sha256)).toString()).toBe('survives a restart');
    } finally {
      store.close();
    }
  });
});
