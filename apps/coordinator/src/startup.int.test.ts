/**
 * The coordinator's start-up probe of the artifact store, with real processes and a real
 * S3-protocol server (s3rver): a missing bucket or a refused endpoint ends `cmbn coordinator`
 * with one line and exit code 1; with a good bucket it serves /healthz, and a shard-only worker
 * (CMBN_WORKER_JOBS=shard, no reachable Postgres: the machine-B worker of docs/DEPLOY.md) trains a
 * run through the same bucket to the local modelHash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3RVER_CREDENTIALS, s3StoreForTest, startS3Server, type S3TestServer, type S3TestStore } from '@cmbn/artifacts';
import { encodeNpy, loadDataset } from '@cmbn/data';
import { trainMbn } from '@cmbn/mbn';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { api, freePort, runCli, spawnCoordinator, spawnWorker, stop, submit, tearDown, uniquePrefix, upload, waitForRun } from './test-helpers.ts';

/** Not a timing claim: check() gives up after 10 s, so a coordinator still running after this hangs. */
const EXIT_DEADLINE_MS = 60_000;
const prefix = uniquePrefix();
let s3: S3TestServer;
let bucket: S3TestStore;
let db: TestDatabase;

/** The variables of docs/DEPLOY.md that point a process at the bucket. */
function s3Env(over: Record<string, string> = {}): Record<string, string> {
  return {
    CMBN_QUEUE_PREFIX: prefix,
    CMBN_ARTIFACTS: `s3://${bucket.bucket}/artifacts`,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    CMBN_S3_FORCE_PATH_STYLE: '1',
    ...over,
  };
}

/** `cmbn coordinator` must exit 1 having printed one `cmbn:` line and no stack; returns that line. */
async function failingStart(env: Record<string, string>): Promise<string> {
  const r = await runCli(['coordinator', '--port', '0'], { DATABASE_URL: db.url, HOST: '127.0.0.1', ...env }, EXIT_DEADLINE_MS);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('cmbn'));
  expect({ code: r.code, lines, stack: /^\s+at /m.test(r.stderr), listening: /listening/.test(r.stdout + r.stderr) }).toMatchObject({
    code: 1,
    lines: [expect.stringMatching(/^cmbn: artifact store /)],
    stack: false,
    listening: false,
  });
  return lines[0]!;
}

beforeAll(async () => {
  [s3, db] = await Promise.all([startS3Server(), createTestDatabase()]);
  bucket = await s3StoreForTest({ server: s3, prefix: 'artifacts' });
});

afterAll(async () => {
  await bucket?.cleanup();
  await s3?.stop();
  await tearDown({ db, prefix });
});

describe('cmbn coordinator start-up probe of the artifact store', () => {
  it('exits 1 with one line when the bucket does not exist', async () => {
    const line = await failingStart(s3Env({ CMBN_ARTIFACTS: 's3://cmbn-missing-bucket/artifacts' }));
    expect(line).toBe(
      `cmbn: artifact store s3://cmbn-missing-bucket/artifacts: bucket "cmbn-missing-bucket" does not exist at ${s3.endpoint}; create the bucket or correct the bucket in the s3:// URL`,
    );
  });

  it('exits 1 with one line when nothing listens at the endpoint', async () => {
    const port = await freePort();
    const line = await failingStart(s3Env({ AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` }));
    expect(line).toMatch(new RegExp(`^cmbn: artifact store s3://${bucket.bucket}/artifacts: cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); set AWS_ENDPOINT_URL_S3`));
  });

  it('with a good bucket: /healthz is ok, and a shard-only worker without Postgres trains to the local modelHash', async () => {
    const ds = await loadDataset('mnist-train', { limit: 300 });
    const params = { V: 8, clusters: 10, seed: 3 };
    const local = await trainMbn(ds.x, params, { threads: 1 });
    const coordinator = await spawnCoordinator({ ...s3Env(), DATABASE_URL: db.url });
    // A Postgres that cannot be reached: the shard-only worker must never need one.
    const worker = await spawnWorker({
      prefix,
      artifacts: `s3://${bucket.bucket}/artifacts`,
      env: s3Env({ CMBN_WORKER_JOBS: 'shard', DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' }),
    });
    try {
      const a = api(coordinator.url);
      expect(await a.json('/healthz')).toEqual({ status: 200, body: { status: 'ok', redis: 'ok', db: 'ok', store: 'ok' } });
      const up = await upload(a, encodeNpy(ds.x), 'name=startup300');
      expect(up.status).toBe(201);
      const sub = await submit(a, { datasetId: up.body.id, params });
      expect(sub.status).toBe(201);
      const run = await waitForRun(a, sub.body.id, 120_000);
      expect({ status: run.status, error: run.error, modelHash: run.modelHash }).toEqual({ status: 'SUCCEEDED', error: null, modelHash: local.modelHash });
      // The dataset and the model went to the bucket, not to a local directory.
      expect((await bucket.listKeys('sha256/')).length).toBeGreaterThan(2);
    } finally {
      expect(await stop(worker)).toBe(0);
      expect(await stop(coordinator)).toBe(0);
    }
  });
});
