import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { S3StoreOptions } from './s3-config.ts';
import { S3ArtifactStore } from './s3-store.ts';
import { S3RVER_CREDENTIALS, startS3Server } from './s3-test-server.ts';
import type { S3TestServer } from './s3-test-server.ts';

export interface S3TestStore {
  store: S3ArtifactStore;
  /** Options that reach the server; build extra clients or stores from them. */
  options: S3StoreOptions;
  endpoint: string;
  bucket: string;
  prefix: string;
  /** The server this helper spawned (absent when it used `server` or CMBN_TEST_S3_ENDPOINT). */
  spawned?: S3TestServer;
  /** Every object key in the bucket under the prefix (for assertions about tmp/, quarantine/…). */
  listKeys(under?: string): Promise<string[]>;
  /** Empties and deletes the bucket, closes the store, stops a spawned server. */
  cleanup(): Promise<void>;
}

export interface S3StoreForTestOptions {
  /** Use this server. Otherwise CMBN_TEST_S3_ENDPOINT (a shared s3rver, e.g. in CI) or a freshly spawned one. */
  server?: S3TestServer;
  prefix?: string;
  partSize?: number;
  queueSize?: number;
}

/** Lists every key under `prefix` (all pages). */
export async function listS3Keys(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of res.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
    token = res.IsTruncated === true ? res.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys.sort();
}

/** An S3ArtifactStore on its own fresh bucket (unique per call), against a real S3-protocol server. */
export async function s3StoreForTest(opts: S3StoreForTestOptions = {}): Promise<S3TestStore> {
  const shared = process.env.CMBN_TEST_S3_ENDPOINT;
  const spawned = opts.server === undefined && (shared === undefined || shared === '') ? await startS3Server() : undefined;
  const base: S3StoreOptions =
    (opts.server ?? spawned)?.options() ?? { endpoint: shared, region: 'us-east-1', forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } };
  const options: S3StoreOptions = {
    ...base,
    ...(opts.partSize !== undefined ? { partSize: opts.partSize } : {}),
    ...(opts.queueSize !== undefined ? { queueSize: opts.queueSize } : {}),
  };
  const bucket = `cmbn-test-${randomBytes(6).toString('hex')}`;
  const prefix = opts.prefix ?? 'artifacts';
  const admin = new S3Client({ ...options, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  const store = new S3ArtifactStore({ bucket, prefix }, options);
  const listKeys = (under = '') => listS3Keys(admin, bucket, prefix === '' ? under : `${prefix}/${under}`);
  return {
    store,
    options,
    endpoint: options.endpoint ?? '',
    bucket,
    prefix,
    ...(spawned !== undefined ? { spawned } : {}),
    listKeys,
    cleanup: async () => {
      try {
        for (const key of await listS3Keys(admin, bucket, '')) await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
      } finally {
        store.close();
        admin.destroy();
        await spawned?.stop();
      }
    },
  };
}
