/**
 * The coordinator's own lifecycle, with real Redis, Postgres and processes: the pending reconciler
 * belongs to startCoordinator's handle and close() stops it (awaiting a pass in flight) before the
 * queues and the database close; with Redis hung, close() still ends, each step bounded, and says
 * which step it went on without; a bad environment value ends `cmbn coordinator` with one line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { startCoordinator } from './coordinator.ts';
import { readCoordinatorEnv } from './env.ts';
import { startPrivateRedis } from './private-services.ts';
import { captureLogs } from './test-log.ts';
import { REDIS_URL, dropPrefix, runCli, tempArtifacts, uniquePrefix, until } from './test-helpers.ts';

let db: TestDatabase;
let artifacts: Awaited<ReturnType<typeof tempArtifacts>>;
const prefix = uniquePrefix();

beforeAll(async () => {
  [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
});

afterAll(async () => {
  await db?.drop();
  await artifacts?.remove();
  await dropPrefix(prefix);
});

describe('pending reconciler lifecycle', () => {
  it('runs from startCoordinator at CMBN_PENDING_RECONCILE_MS, and close() stops it after its pass in flight', async () => {
    const { logs, logger } = captureLogs();
    const c = await startCoordinator({
      env: readCoordinatorEnv({ CMBN_PENDING_RECONCILE_MS: '100' }),
      databaseUrl: db.url,
      redisUrl: REDIS_URL,
      artifacts: artifacts.url,
      prefix,
      port: 0,
      maxUploadBytes: 1e6,
      logger,
    });
    await until('two reconciler passes', async () => c.reconciler.passes >= 2, 30_000);
    // A pass in flight when close() begins: close() must wait for it before closing the queues and
    // the database under it (before, the pass failed on a closed client or opened a new one).
    let passDone = false;
    const pass = c.reconciler.runPass().then(() => (passDone = true));
    expect(await c.close()).toEqual([]);
    expect(c.closing()).toBeUndefined();
    expect(passDone).toBe(true);
    await pass;
    // Stopped for good: the interval is cleared and no pass is running.
    expect(c.reconciler.active).toBe(false);
    expect(logs.filter((l) => /pending reconciler/.test(l.msg))).toEqual([]);
  });
});

describe('close() with Redis hung', () => {
  it('ends, each step bounded, naming the steps it went on without and what they waited on', async () => {
    const redis = await startPrivateRedis();
    const { logs, logger } = captureLogs();
    try {
      const c = await startCoordinator({
        databaseUrl: db.url,
        redisUrl: redis.url,
        artifacts: artifacts.url,
        prefix: uniquePrefix(),
        port: 0,
        maxUploadBytes: 1e6,
        closeStepTimeoutMs: 1_000,
        logger,
      });
      // A hung server: its connections stay open and nothing answers. BullMQ's and ioredis' graceful
      // closes (QUIT) wait for a reply that never comes: unbounded, this close would never end
      // (main.ts' grace period was the only way out). A dead server is not used: whether a QUIT
      // then waits depends on whether the client has yet seen the socket close.
      redis.freeze();
      let during: ReturnType<typeof c.closing>;
      const closed = c.close();
      await until('a close step in progress', async () => (during = c.closing()), 5_000, 20);
      const problems = await closed;
      expect(during).toMatchObject({ step: expect.any(String) });
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.every((p) => p.outcome === 'overran' || p.outcome === 'failed')).toBe(true);
      const overran = problems.filter((p) => p.outcome === 'overran');
      expect(overran.map((p) => p.step)).toContain('coordinator job workers');
      expect(overran.find((p) => p.step === 'coordinator job workers')!.detail).toMatchObject({ afterMs: 1_000, waitingOn: { activeJobs: {} } });
      // Each is logged with its step, and the close is over: nothing is reported in progress.
      expect(logs.filter((l) => /^close: /.test(l.msg)).map((l) => l.step)).toEqual(problems.map((p) => p.step));
      expect(c.closing()).toBeUndefined();
    } finally {
      await redis.remove();
    }
  });
});

describe('coordinator environment', () => {
  it('a bad value of any setting ends `cmbn coordinator` with one readable line naming each variable', async () => {
    const r = await runCli(['coordinator', '--port', '0'], {
      DATABASE_URL: db.url,
      CMBN_PENDING_RECONCILE_MS: 'soon',
      CMBN_SESSION_TTL_S: '5',
      CMBN_TRUST_PROXY: 'everyone',
    }, 60_000);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('cmbn'));
    expect({ code: r.code, n: lines.length, stack: /^\s+at /m.test(r.stderr), listening: /listening/.test(r.stdout + r.stderr) }).toEqual({ code: 1, n: 1, stack: false, listening: false });
    expect(lines[0]).toMatch(/^cmbn: coordinator configuration: /);
    for (const v of ['CMBN_PENDING_RECONCILE_MS', 'CMBN_SESSION_TTL_S', 'CMBN_TRUST_PROXY']) expect(lines[0]).toContain(`${v}: `);
    expect(lines[0]).not.toMatch(/^cmbn: \[/);
  });
});
