/**
 * `cmbn coordinator` and `cmbn worker` against a Redis that answers but refuses them, with real
 * processes and real redis-servers of their own: a password required and none given (NOAUTH), a
 * wrong one (WRONGPASS), and INFO renamed away (BullMQ reads the server's version with it). Each
 * ends the start-up with exit code 1 and one `cmbn:` line naming the server (without credentials)
 * and the fix; before, BullMQ retried them forever. A Redis that is down is still waited for.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { startPrivateRedis, type PrivateRedis } from './private-services.ts';
import { runCli, spawnWorker, stop, uniquePrefix } from './test-helpers.ts';

/** Not a timing claim: a process still running after this has hung instead of failing. */
const EXIT_DEADLINE_MS = 60_000;
const PASSWORD = 'cmbn-test-secret';
const WRONG = 'not-the-password';
const prefix = uniquePrefix();
let locked: PrivateRedis;
let noInfo: PrivateRedis;
let db: TestDatabase;
let artifacts: string;

beforeAll(async () => {
  [locked, noInfo, db] = await Promise.all([
    startPrivateRedis(['--requirepass', PASSWORD]),
    startPrivateRedis(['--rename-command', 'INFO', '']),
    createTestDatabase(),
  ]);
  artifacts = await mkdtemp(join(tmpdir(), 'cmbn-redis-refusal-'));
});

afterAll(async () => {
  await Promise.all([locked?.remove(), noInfo?.remove(), db?.drop()]);
  if (artifacts) await rm(artifacts, { recursive: true, force: true });
});

const withPassword = (url: string, password: string): string => url.replace('redis://', `redis://:${password}@`);

/** Runs `cmbn <role>` against redisUrl; it must exit 1 with exactly one `cmbn:` line and no stack. */
async function refused(role: 'coordinator' | 'worker', redisUrl: string): Promise<string> {
  const args = role === 'coordinator' ? ['coordinator', '--port', '0'] : ['worker'];
  const env = { REDIS_URL: redisUrl, CMBN_ARTIFACTS: artifacts, CMBN_QUEUE_PREFIX: prefix, DATABASE_URL: db.url, CMBN_WORKER_JOBS: 'shard', HOST: '127.0.0.1' };
  const r = await runCli(args, env, EXIT_DEADLINE_MS);
  const all = r.stdout + r.stderr;
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('cmbn'));
  expect({ code: r.code, lines, stack: /^\s+at /m.test(r.stderr), started: /listening|worker ready/.test(all) }).toMatchObject({
    code: 1,
    lines: [expect.stringMatching(/^cmbn( worker)?: redis at /)],
    stack: false,
    started: false,
  });
  expect(all).not.toContain(PASSWORD);
  expect(all).not.toContain(WRONG);
  return lines[0]!;
}

describe('a Redis that answers but refuses', () => {
  for (const role of ['coordinator', 'worker'] as const) {
    it(`cmbn ${role}: a password required and none given, a wrong one, and INFO renamed each end the start-up with one line`, async () => {
      const where = (r: PrivateRedis) => `redis at redis://127.0.0.1:${r.port}: `;
      expect(await refused(role, locked.url)).toContain(`${where(locked)}it answered "NOAUTH Authentication required."; it needs a password: put it in REDIS_URL`);
      expect(await refused(role, withPassword(locked.url, WRONG))).toMatch(
        new RegExp(`${where(locked)}it answered "WRONGPASS [^"]*"; set the user and password in REDIS_URL to ones the server accepts$`),
      );
      expect(await refused(role, noInfo.url)).toMatch(new RegExp(`${where(noInfo)}it answered "ERR unknown command 'info'[^"]*"; BullMQ needs INFO`));
    });
  }

  it('with the right password in REDIS_URL the worker starts, and stops cleanly', async () => {
    const w = await spawnWorker({ prefix, artifacts, env: { REDIS_URL: withPassword(locked.url, PASSWORD), CMBN_WORKER_JOBS: 'shard' } });
    expect(await stop(w)).toBe(0);
    expect(w.output()).not.toMatch(/NOAUTH|WRONGPASS|redis unavailable/);
  });
});

describe('a Redis that is down at start-up', () => {
  it('is waited for: the worker says so, and becomes ready once the server is up', async () => {
    const r = await startPrivateRedis();
    try {
      await r.kill();
      const started = spawnWorker({ prefix, artifacts, env: { REDIS_URL: r.url, CMBN_WORKER_JOBS: 'shard' } });
      started.catch(() => {}); // awaited below; a rejection before then is not unhandled
      // spawnWorker resolves on "worker ready", which must not come while the server is down.
      const early = await Promise.race([started.then(() => 'ready'), new Promise((res) => setTimeout(() => res('waiting'), 3_000))]);
      expect(early).toBe('waiting');
      await r.start();
      const w = await started;
      expect(w.output()).toMatch(/redis unavailable \(retrying\)/);
      expect(await stop(w)).toBe(0);
    } finally {
      await r.remove();
    }
  });
});
