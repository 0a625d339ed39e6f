/**
 * Shutdown and health under outages: /healthz and /metrics answer in bounded time whatever is down, and SIGTERM ends a
 * coordinator or a worker within its grace period while Redis is down. Real processes: a private
 * redis-server on its own port (killed mid-test), a real TCP proxy in front of the shared Postgres
 * (cut or black-holed mid-test), a coordinator and a worker child process.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { startPrivateRedis, type PrivateRedis } from './private-services.ts';
import { spawnCoordinator, spawnWorker, tempArtifacts, until, uniquePrefix, type Child } from './test-helpers.ts';

const GRACE_MS = 3_000;
/** Exit within the grace period plus this (process start-up of the timer, log flushing, a loaded 2-core box). */
const MARGIN_MS = 7_000;

/** A TCP proxy to Postgres that a test can cut (connections refused/reset) or black-hole (accepted, never answered). */
class PgProxy {
  mode: 'forward' | 'cut' | 'blackhole' = 'forward';
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => {});
      if (this.mode === 'cut') return void client.destroy();
      if (this.mode === 'blackhole') return; // held open, nothing forwarded
      const upstream = connect(5432, '127.0.0.1');
      this.sockets.add(upstream);
      upstream.on('close', () => (this.sockets.delete(upstream), client.destroy()));
      upstream.on('error', () => {});
      client.on('close', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  set(mode: PgProxy['mode']): void {
    this.mode = mode;
    if (mode !== 'forward') for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.set('cut');
    await new Promise((r) => this.server.close(r));
  }
}

/** A timed GET: the answer (or the failure) and how long it took. */
async function timed(url: string, timeoutMs = 15_000): Promise<{ ms: number; status?: number; text?: string; error?: string }> {
  const t0 = Date.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { ms: Date.now() - t0, status: res.status, text: await res.text() };
  } catch (err) {
    return { ms: Date.now() - t0, error: String(err) };
  }
}

async function exitWithin(c: Child, ms: number): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  c.proc.kill('SIGTERM');
  const code = await Promise.race([c.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
  if (code === 'timeout') {
    c.proc.kill('SIGKILL');
    throw new Error(`still running ${ms} ms after SIGTERM:\n${c.output().slice(-3000)}`);
  }
  return { code, ms: Date.now() - t0 };
}

/**
 * The process ended through its own shutdown path: exit code 0 (closed), or 1 with the line that
 * says why (the grace period ran out, or a close step failed), and never a crash: no uncaught
 * error, no stack trace.
 */
function expectOwnExit(code: number | null, output: string): void {
  expect(output).not.toMatch(/Emitted 'error' event|Uncaught|^\s+at .*\(.*node_modules/m);
  expect([0, 1]).toContain(code);
  if (code === 1) expect(output).toMatch(/shutdown grace period over|shutdown failed|did not finish|close: /);
}

let db: TestDatabase;
let artifacts: Awaited<ReturnType<typeof tempArtifacts>>;
const proxy = new PgProxy();
const redises: PrivateRedis[] = [];

beforeAll(async () => {
  [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
  await proxy.start();
});

afterAll(async () => {
  for (const r of redises) await r.remove();
  await proxy.close();
  await db?.drop();
  await artifacts?.remove();
});

describe('outages', () => {
  it('coordinator: /healthz and /metrics stay bounded with Postgres cut, black-holed or Redis dead; SIGTERM then exits within the grace period', async () => {
    const redis = await startPrivateRedis();
    redises.push(redis);
    const dbUrl = new URL(db.url);
    dbUrl.port = String(proxy.port);
    const c = await spawnCoordinator({
      REDIS_URL: redis.url,
      DATABASE_URL: dbUrl.href,
      CMBN_ARTIFACTS: artifacts.url,
      CMBN_QUEUE_PREFIX: uniquePrefix(),
      CMBN_SHUTDOWN_GRACE_MS: String(GRACE_MS),
    });
    try {
      const ok = await timed(`${c.url}/healthz`);
      expect(ok.status, ok.text).toBe(200);
      expect(JSON.parse(ok.text!)).toEqual({ status: 'ok', redis: 'ok', db: 'ok', store: 'ok' });

      proxy.set('cut');
      const cut = await timed(`${c.url}/healthz`);
      expect(cut.ms).toBeLessThan(5_000);
      expect(cut.status, cut.text).toBe(503);
      expect(JSON.parse(cut.text!)).toEqual({ status: 'unavailable', redis: 'ok', db: expect.stringMatching(/^(unreachable|timeout)$/), store: 'ok' });

      proxy.set('blackhole');
      const hole = await timed(`${c.url}/healthz`);
      expect(hole.ms).toBeLessThan(5_000);
      expect(JSON.parse(hole.text!)).toMatchObject({ status: 'unavailable', db: expect.stringMatching(/^(unreachable|timeout)$/) });
      const holeMetrics = await timed(`${c.url}/metrics`);
      expect(holeMetrics.ms).toBeLessThan(5_000);
      expect(holeMetrics.status).toBe(200);
      expect(holeMetrics.text).toContain('cmbn_db_up 0');

      proxy.set('forward');
      await until('db back in /healthz', async () => JSON.parse((await timed(`${c.url}/healthz`)).text ?? '{}').db === 'ok', 30_000, 250);

      await redis.kill();
      const down = await timed(`${c.url}/healthz`);
      expect(down.ms).toBeLessThan(5_000);
      expect(down.status, down.text).toBe(503);
      // Right after the SIGKILL, ioredis may not have seen the socket close yet: the probe's PING is
      // then queued and times out instead of failing fast. Both are a 503 with a plain reason, as
      // for the database above.
      expect(JSON.parse(down.text!)).toEqual({ status: 'unavailable', redis: expect.stringMatching(/^(unreachable|timeout)$/), db: 'ok', store: 'ok' });
      const metrics = await timed(`${c.url}/metrics`);
      expect(metrics.ms).toBeLessThan(5_000);
      expect(metrics.status).toBe(200);
      expect(metrics.text).toContain('cmbn_redis_up 0');
      expect(metrics.text).toContain('cmbn_db_up 1');

      // exitWithin throws past the bound; here the process must also have exited by itself (a
      // code, 1 when the grace period ran out), not been ended by a signal.
      const { code } = await exitWithin(c, GRACE_MS + MARGIN_MS);
      expectOwnExit(code, c.output());
      expect(c.output()).toMatch(/shutting down/);
      expect(c.output()).not.toContain('Unhandled error event');
    } finally {
      c.proc.kill('SIGKILL');
    }
  }, 120_000);

  it('worker: SIGTERM while Redis is down exits within the grace period', async () => {
    const redis = await startPrivateRedis();
    redises.push(redis);
    const w = await spawnWorker({
      prefix: uniquePrefix(),
      artifacts: artifacts.url,
      databaseUrl: db.url,
      env: { REDIS_URL: redis.url, CMBN_SHUTDOWN_GRACE_MS: String(GRACE_MS) },
    });
    try {
      await redis.kill();
      const { code } = await exitWithin(w, GRACE_MS + MARGIN_MS);
      // (A BullMQ connection closed while still initialising used to crash the worker here with
      // code 1 and an uncaught 'error' event: worker.ts waits for its connections now.)
      expectOwnExit(code, w.output());
      expect(w.output()).not.toContain('Unhandled error event');
    } finally {
      w.proc.kill('SIGKILL');
    }
  }, 120_000);
});
