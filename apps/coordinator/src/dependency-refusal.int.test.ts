/**
 * `cmbn coordinator` and `cmbn worker` against services that answer but refuse them, with real
 * processes:
 * - Redis (redis-servers of the test's own): a password required and none given (NOAUTH), a wrong
 *   one (WRONGPASS), and INFO renamed away (BullMQ reads the server's version with it); before,
 *   BullMQ retried them forever;
 * - Postgres (the test server): no such database, no such role, a database never migrated; before,
 *   the coordinator printed `cmbn: ` (Prisma's empty first line) and hung;
 * - the coordinator's port taken by another process; before, it printed the error and hung.
 * Each ends the start-up with exit code 1 and one `cmbn:` line naming the service (without
 * credentials) and the fix. A Redis or a Postgres that is down is still waited for.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { startPrivateRedis, type PrivateRedis } from './private-services.ts';
import { REDIS_URL, freePort, runCli, spawnWorker, startCoordinatorChild, startWorkerChild, stop, uniquePrefix, until } from './test-helpers.ts';

/** Not a timing claim: a process still running after this has hung instead of failing. */
const EXIT_DEADLINE_MS = 60_000;
const PASSWORD = 'cmbn-test-secret';
const WRONG = 'not-the-password';
const prefix = uniquePrefix();
let locked: PrivateRedis;
let noInfo: PrivateRedis;
let evicting: PrivateRedis;
let db: TestDatabase;
let bare: TestDatabase;
let artifacts: string;

beforeAll(async () => {
  [locked, noInfo, evicting, db] = await Promise.all([
    startPrivateRedis(['--requirepass', PASSWORD]),
    startPrivateRedis(['--rename-command', 'INFO', '']),
    startPrivateRedis(['--maxmemory-policy', 'allkeys-lru']),
    createTestDatabase(),
  ]);
  bare = await createTestDatabase({ migrated: false });
  artifacts = await mkdtemp(join(tmpdir(), 'cmbn-redis-refusal-'));
});

afterAll(async () => {
  await Promise.all([locked?.remove(), noInfo?.remove(), evicting?.remove(), db?.drop(), bare?.drop()]);
  if (artifacts) await rm(artifacts, { recursive: true, force: true });
});

const withPassword = (url: string, password: string): string => url.replace('redis://', `redis://:${password}@`);

/**
 * Runs `cmbn <role>` with REDIS_URL (and DATABASE_URL, port); it must exit 1 with exactly one
 * `cmbn:` line and no stack, and never listen or become ready.
 */
async function refused(role: 'coordinator' | 'worker', redisUrl: string, over: { databaseUrl?: string; port?: number } = {}): Promise<string> {
  const args = role === 'coordinator' ? ['coordinator', '--port', String(over.port ?? 0)] : ['worker'];
  const env = { REDIS_URL: redisUrl, CMBN_ARTIFACTS: artifacts, CMBN_QUEUE_PREFIX: prefix, DATABASE_URL: over.databaseUrl ?? db.url, CMBN_WORKER_JOBS: 'shard', HOST: '127.0.0.1' };
  const r = await runCli(args, env, EXIT_DEADLINE_MS);
  const all = r.stdout + r.stderr;
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('cmbn'));
  expect({ code: r.code, lines, stack: /^\s+at /m.test(r.stderr), started: /listening|worker ready/.test(all) }).toMatchObject({
    code: 1,
    lines: [expect.stringMatching(/^cmbn( worker)?: \S/)],
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
    expect(w.output()).not.toMatch(/NOAUTH|WRONGPASS|redis unavailable|maxmemory-policy/);
  });

  it('a Redis that may evict keys: the worker starts, and warns once with the policy and the fix', async () => {
    const w = await spawnWorker({ prefix, artifacts, env: { REDIS_URL: evicting.url, CMBN_WORKER_JOBS: 'shard' } });
    expect(await stop(w)).toBe(0);
    const warnings = w
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"redis at'));
    expect(warnings.map((l) => JSON.parse(l) as { msg: string; level: number })).toEqual([
      expect.objectContaining({
        level: 40,
        msg: `redis at redis://127.0.0.1:${evicting.port}: maxmemory-policy is allkeys-lru; when its memory fills, Redis may evict queued jobs: set maxmemory-policy noeviction (BullMQ requires it)`,
      }),
    ]);
  });
});

describe('a Postgres that answers but cannot be used, and a port taken', () => {
  it('cmbn coordinator: no such database, no such role and a database never migrated each end the start-up with one line', async () => {
    const server = new URL(db.url);
    const at = (name: string) => `registry at ${server.hostname}:${server.port || '5432'}/${name}: `;
    const noDb = new URL(db.url);
    noDb.pathname = '/cmbn_no_such_db';
    expect(await refused('coordinator', REDIS_URL, { databaseUrl: noDb.href })).toContain(
      `${at('cmbn_no_such_db')}the server answered "database "cmbn_no_such_db" does not exist"; create it (createdb cmbn_no_such_db) and run \`npm run db:migrate\``,
    );
    const noRole = new URL(db.url);
    noRole.username = 'cmbn_no_such_role';
    noRole.password = PASSWORD;
    expect(await refused('coordinator', REDIS_URL, { databaseUrl: noRole.href })).toMatch(
      // `role … does not exist` from a trust-auth server (the test machine's), a password failure from others.
      new RegExp(`${at(db.name)}the server answered "(role \"cmbn_no_such_role\" does not exist|password authentication failed for user \"cmbn_no_such_role\")"; set the user and password in DATABASE_URL to ones the server accepts$`),
    );
    expect(await refused('coordinator', REDIS_URL, { databaseUrl: bare.url })).toBe(
      `cmbn: ${at(bare.name)}the database has no cmbn tables (it was never migrated); run \`npm run db:migrate\` with this DATABASE_URL (the compose file runs it as its \`migrate\` service)`,
    );
  });

  it('cmbn coordinator: a port another process listens on ends the start-up with one line, not a hang', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      expect(await refused('coordinator', REDIS_URL, { port })).toMatch(new RegExp(`^cmbn: listen EADDRINUSE: address already in use [0-9.:]*:${port}$`));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe('a Postgres that is down at start-up', () => {
  it('is waited for by the coordinator, which says so and does not listen', async () => {
    const closed = await freePort();
    const down = new URL(db.url);
    down.port = String(closed);
    const c = startCoordinatorChild({ CMBN_ARTIFACTS: artifacts, CMBN_QUEUE_PREFIX: prefix, DATABASE_URL: down.href });
    try {
      const line = JSON.parse(await c.waitFor(/postgres unavailable \(retrying\)/, EXIT_DEADLINE_MS)) as { database: string; err: string };
      expect(line).toMatchObject({ database: `${down.hostname}:${closed}${down.pathname}`, err: `connect ECONNREFUSED 127.0.0.1:${closed}` });
      // Still waiting (the line again, 5 s later), and nothing listens.
      await until('a second "postgres unavailable"', async () => (c.output().match(/postgres unavailable/g) ?? []).length >= 2, EXIT_DEADLINE_MS);
      expect(c.output()).not.toMatch(/listening/);
      expect(c.proc.exitCode).toBeNull();
    } finally {
      await stop(c, 'SIGKILL');
    }
  });
});

describe('a Redis that is down at start-up', () => {
  it('is waited for: the worker says so, and becomes ready once the server is up', async () => {
    const r = await startPrivateRedis();
    try {
      await r.kill();
      const w = startWorkerChild({ prefix, artifacts, env: { REDIS_URL: r.url, CMBN_WORKER_JOBS: 'shard' } });
      try {
        await w.waitFor(/redis unavailable \(retrying\)/, EXIT_DEADLINE_MS);
        expect(w.output()).not.toMatch(/worker ready/);
        await r.start();
        await w.waitFor(/worker ready/, EXIT_DEADLINE_MS);
        expect(await stop(w)).toBe(0);
      } finally {
        await stop(w, 'SIGKILL');
      }
    } finally {
      await r.remove();
    }
  });
});
