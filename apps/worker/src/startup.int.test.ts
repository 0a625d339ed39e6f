/**
 * `cmbn worker` as a real process against a real S3-protocol server (s3rver): a store it cannot
 * use ends the start-up with one line naming the store, the endpoint and the fix, exit code 1,
 * before Redis or the compute threads are touched; a good store starts the worker.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3RVER_CREDENTIALS, s3StoreForTest, startS3Server, type S3TestServer, type S3TestStore } from '@cmbn/artifacts';
import { createTestDatabase, testAdminUrl, type TestDatabase } from '@cmbn/registry';
import { linesWithoutNodeWarnings, spawnCmbn } from './startup-process.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Not a timing claim: check() gives up after 10 s, so a process still running after this hangs. */
const EXIT_DEADLINE_MS = 60_000;

let s3: S3TestServer;
/** A fresh bucket on that server (its listKeys() sees what the worker left there). */
let good: S3TestStore;
let bucket: string;
/** An empty database on the test server (exists, never migrated), and a migrated one. */
let bare: TestDatabase;
let migrated: TestDatabase;
const prefix = `cmbntest-startup-${randomBytes(4).toString('hex')}`;

function s3Env(over: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL,
    CMBN_QUEUE_PREFIX: prefix,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    CMBN_S3_FORCE_PATH_STYLE: '1',
    CMBN_ARTIFACTS: `s3://${bucket}/artifacts`,
    ...over,
  };
}

/** Runs `cmbn worker`, expects exit code 1 and exactly one line of output, and returns it. */
async function failingStart(env: Record<string, string>): Promise<string> {
  const c = spawnCmbn(['worker'], env);
  const code = await c.exit(EXIT_DEADLINE_MS);
  const lines = linesWithoutNodeWarnings(c.stderr());
  expect({ code, lines, stdout: c.stdout() }).toMatchObject({ code: 1, lines: [expect.stringMatching(/^cmbn: /)], stdout: '' });
  return lines[0]!;
}

beforeAll(async () => {
  [bare, migrated] = await Promise.all([createTestDatabase({ migrated: false }), createTestDatabase()]);
  s3 = await startS3Server();
  good = await s3StoreForTest({ server: s3, prefix: 'artifacts' });
  bucket = good.bucket;
});

afterAll(async () => {
  await Promise.all([bare?.drop(), migrated?.drop()]);
  await good?.cleanup();
  await s3?.stop();
  const r = new Redis(REDIS_URL);
  try {
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length > 0) await r.del(...keys);
  } finally {
    r.disconnect();
  }
});

describe('cmbn worker start-up probe of the artifact store', () => {
  it('exits 1 with one line when the bucket does not exist', async () => {
    const line = await failingStart(s3Env({ CMBN_ARTIFACTS: 's3://no-such-bucket-here/artifacts' }));
    expect(line).toBe(
      `cmbn: artifact store s3://no-such-bucket-here/artifacts: bucket "no-such-bucket-here" does not exist at ${s3.endpoint}; create the bucket or correct the bucket in the s3:// URL`,
    );
  });

  it('exits 1 with one line when nothing listens at the endpoint', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => resolve(port));
      });
    });
    const line = await failingStart(s3Env({ AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${closed}` }));
    expect(line).toMatch(new RegExp(`^cmbn: artifact store s3://${bucket}/artifacts: cannot reach http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\); set AWS_ENDPOINT_URL_S3 to a reachable S3 endpoint`));
  });

  it('exits 1 with one line, not a hang, when the endpoint accepts connections and never answers', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const line = await failingStart(s3Env({ AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` }));
      expect(line).toMatch(new RegExp(`^cmbn: artifact store s3://${bucket}/artifacts: cannot reach http://127\\.0\\.0\\.1:${port} \\((ETIMEDOUT|timed out)\\); set AWS_ENDPOINT_URL_S3`));
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('exits 1 with one line when the server rejects the access key', async () => {
    const line = await failingStart(s3Env({ AWS_ACCESS_KEY_ID: 'NOT-S3RVER' }));
    expect(line).toMatch(new RegExp(`^cmbn: artifact store s3://${bucket}/artifacts: ${s3.endpoint.replace(/\./g, '\\.')} rejected the credentials \\(InvalidAccessKeyId\\); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`));
  });

  it('exits 1 with one line when a file:// store cannot be written, and on a bad CMBN_WORKER_JOBS', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cmbn-startup-'));
    try {
      await writeFile(join(dir, 'plain-file'), 'x');
      const line = await failingStart({ REDIS_URL, CMBN_QUEUE_PREFIX: prefix, CMBN_ARTIFACTS: join(dir, 'plain-file', 'store') });
      expect(line).toMatch(/^cmbn: artifact store file:\/\/.*\/plain-file\/store: cannot write .* \(ENOTDIR\); point the store at a directory/);
      const jobs = await failingStart({ REDIS_URL, CMBN_QUEUE_PREFIX: prefix, CMBN_ARTIFACTS: dir, CMBN_WORKER_JOBS: 'shard,layer' });
      expect(jobs).toMatch(/^cmbn: worker configuration: CMBN_WORKER_JOBS\.1: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a distill worker whose DATABASE_URL does not answer starts, and says so in one warning line naming the database and the fix', async () => {
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as { port: number }).port;
        srv.close(() => resolve(port));
      });
    });
    const c = spawnCmbn(['worker'], s3Env({ CMBN_WORKER_JOBS: 'shard,distill', DATABASE_URL: `postgresql://postgres:s3cret@127.0.0.1:${closed}/cmbn` }));
    try {
      await c.line(/worker ready/, EXIT_DEADLINE_MS);
      const warning = JSON.parse(await c.line(/distill jobs register students/, EXIT_DEADLINE_MS)) as { level: number; msg: string; database: string };
      expect(warning.level).toBe(40); // pino's warn
      expect(warning.database).toBe(`127.0.0.1:${closed}/cmbn`);
      expect(warning.msg).toMatch(
        new RegExp(`^distill jobs register students in Postgres at 127\\.0\\.0\\.1:${closed}/cmbn, which did not answer \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}\\); set DATABASE_URL to the registry's database, or CMBN_WORKER_JOBS=shard`),
      );
      expect(c.stdout() + c.stderr()).not.toContain('s3cret');
      // A database that is up but not there is named as such.
      const server = new URL(testAdminUrl());
      const noSuchDb = new URL(testAdminUrl());
      noSuchDb.pathname = '/cmbn_no_such_db';
      const missing = spawnCmbn(['worker'], s3Env({ CMBN_WORKER_JOBS: 'distill', DATABASE_URL: noSuchDb.href }));
      try {
        const where = `${server.hostname}:${server.port || '5432'}/cmbn_no_such_db`;
        expect(await missing.line(/distill jobs register students/, EXIT_DEADLINE_MS)).toContain(
          `in the registry at ${where}: the server answered \\"database \\"cmbn_no_such_db\\" does not exist\\"; create it (createdb cmbn_no_such_db)`,
        );
      } finally {
        missing.kill();
      }
      // A database that exists but was never migrated is named as such too.
      const unmigrated = spawnCmbn(['worker'], s3Env({ CMBN_WORKER_JOBS: 'distill', DATABASE_URL: bare.url }));
      try {
        expect(await unmigrated.line(/distill jobs register students/, EXIT_DEADLINE_MS)).toContain(
          `in the registry at ${server.hostname}:${server.port || '5432'}/${bare.name}: the database has no cmbn tables (it was never migrated); run \`npm run db:migrate\``,
        );
      } finally {
        unmigrated.kill();
      }
      // A warning, not an exit: the shard queue is served, and SIGTERM still ends it cleanly.
      c.proc.kill('SIGTERM');
      expect(await c.exit(EXIT_DEADLINE_MS)).toBe(0);
    } finally {
      c.kill();
    }
  });

  it('a distill worker whose registry answers starts without that warning', async () => {
    // A migrated database on the test server (the default's `cmbn` need not exist on a test machine).
    const databaseUrl = migrated.url;
    const c = spawnCmbn(['worker'], s3Env({ CMBN_WORKER_JOBS: 'shard,distill', DATABASE_URL: databaseUrl }));
    try {
      await c.line(/worker ready/, EXIT_DEADLINE_MS);
      const ok = JSON.parse(await c.line(/registry: Postgres at .* answers/, EXIT_DEADLINE_MS)) as { level: number; database: string };
      expect(ok.level).toBe(30);
      expect(ok.database).toBe(`${new URL(databaseUrl).hostname}:${new URL(databaseUrl).port || '5432'}${new URL(databaseUrl).pathname}`);
      c.proc.kill('SIGTERM');
      expect(await c.exit(EXIT_DEADLINE_MS)).toBe(0);
      expect(c.stdout() + c.stderr()).not.toMatch(/which did not answer/);
    } finally {
      c.kill();
    }
  });

  it('starts against a good s3rver (shard jobs only when CMBN_WORKER_JOBS=shard) and stops cleanly on SIGTERM', async () => {
    const c = spawnCmbn(['worker'], s3Env({ CMBN_WORKER_JOBS: 'shard' }));
    try {
      const ready = JSON.parse(await c.line(/worker ready/, EXIT_DEADLINE_MS)) as { jobs: string[]; artifacts: string; prefix: string };
      expect(ready).toMatchObject({ jobs: ['shard'], artifacts: `s3://${bucket}/artifacts`, prefix });
      // The probe object was deleted again: nothing is left under the prefix.
      expect(await good.listKeys()).toEqual([]);
      c.proc.kill('SIGTERM');
      expect(await c.exit(EXIT_DEADLINE_MS)).toBe(0);
    } finally {
      c.kill();
    }
  });
});
