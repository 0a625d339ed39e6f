/**
 * The failed-authentication limit against a real coordinator and Redis: wrong tokens count, right
 * ones do not, past the limit even a right token gets 429 with Retry-After, and the counter is
 * shared through Redis by a second coordinator on the same prefix.
 */
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { startCoordinator, type CoordinatorHandle } from './coordinator.ts';
import { readCoordinatorEnv } from './env.ts';
import { startPrivateRedis } from './private-services.ts';
import { REDIS_URL, dropPrefix, tempArtifacts, uniquePrefix, until } from './test-helpers.ts';

const TOKEN = 'limit-test-token-0123456789';
const LIMIT = 4;
let db: TestDatabase;
let artifacts: Awaited<ReturnType<typeof tempArtifacts>>;
const coordinators: CoordinatorHandle[] = [];
const prefix = uniquePrefix();

async function start(onPrefix = prefix, redisUrl = REDIS_URL): Promise<CoordinatorHandle> {
  const c = await startCoordinator({
    env: readCoordinatorEnv({ CMBN_API_TOKENS: `ci:${TOKEN}`, CMBN_AUTH_FAIL_LIMIT: String(LIMIT), CMBN_AUTH_FAIL_WINDOW_S: '600' }),
    databaseUrl: db.url,
    redisUrl,
    artifacts: artifacts.url,
    prefix: onPrefix,
    port: 0,
    maxUploadBytes: 1e6,
    reconcileIntervalMs: 60_000,
    logger: pino({ level: 'silent' }),
  });
  coordinators.push(c);
  return c;
}

beforeAll(async () => {
  [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
  await start();
});

afterAll(async () => {
  for (const c of coordinators) await c.close();
  await db?.drop();
  await artifacts?.remove();
  await dropPrefix(prefix);
});
const parallelPrefix = uniquePrefix();

const runs = (base: string, token: string) => fetch(`${base}/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
const login = (base: string, token: string) =>
  fetch(`${base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });

describe('failed-authentication limit', () => {
  it('counts only 401s, then answers 429 RATE_LIMITED with Retry-After to every request from the address, on every coordinator of the prefix', async () => {
    const base = coordinators[0]!.url;
    // Successes are not counted: many more than LIMIT right-token requests go through.
    for (let i = 0; i < LIMIT * 3; i++) expect((await runs(base, TOKEN)).status).toBe(200);
    // Check, then count: a success only reads the counter, so none exists yet (an increment-then-
    // decrement limiter would have left one at 0, for two round trips per request).
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.keys(`${prefix}:authfail:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    // LIMIT failures, through both doors (login body and Bearer header), are each a 401.
    for (let i = 0; i < LIMIT; i++) {
      const res = await (i % 2 ? login(base, `wrong-${i}`) : runs(base, `wrong-${i}`));
      expect(res.status).toBe(401);
    }
    const blocked = await runs(base, 'wrong-again');
    expect(blocked.status).toBe(429);
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);
    const body = (await blocked.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('RATE_LIMITED');
    expect(body.error.message).toMatch(/too many failed authentications/);
    // A right token is refused too while the window lasts: otherwise a right guess would pass.
    expect((await runs(base, TOKEN)).status).toBe(429);
    expect((await login(base, TOKEN)).status).toBe(429);
    // The counter is in Redis: a second coordinator on the same prefix refuses the address as well.
    const second = await start();
    expect((await runs(second.url, TOKEN)).status).toBe(429);
    // Health and metrics are outside /v1 and not limited.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('parallel guesses cannot all pass on one read of the counter: at most LIMIT of them get a 401', async () => {
    // A Redis of this test's own: its writes are held below, which on the shared server would
    // stall every other test file for as long.
    const own = await startPrivateRedis();
    const held: { c?: CoordinatorHandle } = {};
    try {
      const c = (held.c = await start(parallelPrefix, own.url));
      const redis = new Redis(own.url);
      try {
        // Hold Redis's writes (rate-limit-redis reads and counts through scripts, which count as
        // writes) until every guess is waiting on its read of the counter: the race that a
        // check-then-count limiter must close. Held until released below (60 s at most).
        await redis.call('CLIENT', 'PAUSE', '60000', 'WRITE');
        const answered: number[] = [];
        const guesses = Array.from({ length: LIMIT * 5 }, (_, i) => runs(c.url, `parallel-wrong-${i}`).then((r) => (answered.push(i), r)));
        for (const g of guesses) g.catch(() => {}); // a failed fetch surfaces at Promise.all below, not as unhandled
        // The window is exercised: a script is held at Redis, and no guess is answered while it is.
        await until('a held script at Redis', async () => /flags=b\b.*cmd=evalsha/.test(String(await redis.call('CLIENT', 'LIST'))), 30_000, 20);
        // The other guesses reach the coordinator too. (A fixed wait: a guess that came after the
        // release would only weaken the test, not fail it.)
        await new Promise((r) => setTimeout(r, 500));
        expect(answered).toEqual([]);
        await redis.call('CLIENT', 'UNPAUSE');
        const statuses = (await Promise.all(guesses)).map((r) => r.status);
        expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(LIMIT);
        expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(0);
        expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
        // And afterwards the address is over the limit for good (this window).
        expect((await runs(c.url, TOKEN)).status).toBe(429);
      } finally {
        await redis.call('CLIENT', 'UNPAUSE').catch(() => undefined);
        redis.disconnect();
      }
    } finally {
      // Closed before its Redis goes (afterAll would find that Redis gone).
      if (held.c) await coordinators.splice(coordinators.indexOf(held.c), 1)[0]!.close();
      await own.remove();
    }
  });
});
