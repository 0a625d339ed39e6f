/**
 * Named API tokens and the console's session cookie, against a real coordinator, Redis and Postgres:
 * the cookie is accepted wherever the token is (the run's SSE stream included) and nothing else is.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { Auth, parseApiTokens } from './auth.ts';
import { startCoordinator, type CoordinatorHandle } from './coordinator.ts';
import { SessionStore } from './session-store.ts';
import { REDIS_URL, api, dropPrefix, submit, tempArtifacts, uniquePrefix, upload } from './test-helpers.ts';

const ALICE = 'alice-token-0123456789';
const BOB = 'bob-token-9876543210';
const SINGLE = 'the-old-single-token';
let db: TestDatabase;
let artifacts: Awaited<ReturnType<typeof tempArtifacts>>;
let coordinator: CoordinatorHandle;
let redis: Redis;
const prefix = uniquePrefix();
const CSV = `x,y\n${Array.from({ length: 24 }, (_, i) => `${i % 2 ? 50 + i : i},${i % 5}`).join('\n')}\n`;
let runId: string;

beforeAll(async () => {
  [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
  // The named tokens come from the environment, as in production (auth.ts' ZAuthEnv).
  process.env.CMBN_API_TOKENS = `alice:${ALICE}, bob:${BOB}`;
  process.env.CMBN_SESSION_TTL_S = '600';
  coordinator = await startCoordinator({
    databaseUrl: db.url,
    redisUrl: REDIS_URL,
    artifacts: artifacts.url,
    prefix,
    port: 0,
    apiToken: SINGLE,
    maxUploadBytes: 1e6,
    reconcileIntervalMs: 60_000,
    logger: pino({ level: 'silent' }),
  });
  delete process.env.CMBN_API_TOKENS;
  delete process.env.CMBN_SESSION_TTL_S;
  redis = new Redis(REDIS_URL);
  const a = api(coordinator.url, ALICE);
  const up = await upload(a, new TextEncoder().encode(CSV), 'name=session-blobs');
  expect(up.status).toBe(201);
  // No worker runs: the run stays RUNNING, so its event stream stays open after the snapshot.
  const sub = await submit(a, { datasetId: up.body.id, params: { V: 2, k1: 4, clusters: 2 } });
  expect(sub.status).toBe(201);
  runId = sub.body.id;
});

afterAll(async () => {
  redis?.disconnect();
  await coordinator?.close();
  await db?.drop();
  await artifacts?.remove();
  await dropPrefix(prefix);
});

async function login(token: string): Promise<Response> {
  return fetch(`${coordinator.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
}

function cookieOf(res: Response): string {
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';')[0]!;
}

/** Opens the run's SSE stream and returns the status and the first event block (or the body of an error). */
async function openEvents(headers: Record<string, string>): Promise<{ status: number; type: string | null; first: string }> {
  const ctl = new AbortController();
  const res = await fetch(`${coordinator.url}/v1/runs/${runId}/events`, { headers, signal: ctl.signal });
  if (res.status !== 200) return { status: res.status, type: res.headers.get('content-type'), first: await res.text() };
  const reader = res.body!.getReader();
  let text = '';
  while (!text.includes('event: status')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  ctl.abort();
  return { status: res.status, type: res.headers.get('content-type'), first: text };
}

describe('named API tokens', () => {
  it('parses name:token lists and refuses malformed ones without echoing a token', () => {
    expect(parseApiTokens('a:x1, b:y:2', 'z').map((t) => t.name)).toEqual(['default', 'a', 'b']);
    expect(() => parseApiTokens('novalue', undefined)).toThrow(/entry 1 is not name:token/);
    expect(() => parseApiTokens('a:', undefined)).toThrow(/token of "a" is empty/);
    expect(() => parseApiTokens('a:x,a:y', undefined)).toThrow(/"a" is given twice/);
    expect(() => parseApiTokens('a:same,b:same', undefined)).toThrow(/also another name's token/);
    expect(() => parseApiTokens('bad name:secret', undefined)).toThrow(/bad token name/);
    expect(() => parseApiTokens('a:secret-value,a:x', undefined)).not.toThrow(/secret-value/);
    expect(parseApiTokens(undefined, undefined)).toEqual([]);
  });

  it('names the principal of each token; the single CMBN_API_TOKEN is "default"', async () => {
    expect((await api(coordinator.url, ALICE).json('/v1/session')).body).toEqual({ principal: 'alice', via: 'token', authRequired: true });
    expect((await api(coordinator.url, BOB).json('/v1/session')).body.principal).toBe('bob');
    expect((await api(coordinator.url, SINGLE).json('/v1/session')).body.principal).toBe('default');
    for (const bad of [undefined, 'alice', `${ALICE}x`, ALICE.slice(0, -1)]) {
      const r = await api(coordinator.url, bad).json(`/v1/runs/${runId}`);
      expect(r.status, String(bad)).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHORIZED');
    }
  });
});

describe('console session cookie', () => {
  let cookie: string;

  it('is issued only for a valid token, HttpOnly and SameSite=Strict, with an expiry', async () => {
    const wrong = await login('nope');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect((await fetch(`${coordinator.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(400);
    const ok = await login(BOB);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { principal: string; expiresAt: string };
    expect(body.principal).toBe('bob');
    const set = ok.headers.get('set-cookie')!;
    expect(set).toMatch(/^cmbn_session=[A-Za-z0-9_-]{43};/);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\//);
    expect(set).toMatch(/Max-Age=600/);
    expect(Date.parse(body.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    cookie = cookieOf(ok);
    // The session lives in Redis under the sha256 of its id (never the id itself), with the TTL.
    const id = cookie.split('=')[1]!;
    const key = `${prefix}:session:${createHash('sha256').update(id).digest('hex')}`;
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    expect(await redis.get(key)).not.toContain(id);
  });

  it('is accepted wherever the token is: a run, and its SSE stream', async () => {
    expect((await api(coordinator.url).json('/v1/session', { headers: { cookie } })).body).toEqual({ principal: 'bob', via: 'session', authRequired: true });
    const run = await api(coordinator.url).json(`/v1/runs/${runId}`, { headers: { cookie } });
    expect(run.status).toBe(200);
    expect(run.body.id).toBe(runId);
    const ev = await openEvents({ cookie });
    expect(ev.status).toBe(200);
    expect(ev.type).toMatch(/text\/event-stream/);
    expect(ev.first).toMatch(/event: status\ndata: \{"type":"status","status":"RUNNING"/);
  });

  it('the SSE stream fails with 401 without it, or with a forged or unknown one', async () => {
    const cases: Record<string, string>[] = [{}, { cookie: 'cmbn_session=' + 'A'.repeat(43) }, { cookie: 'cmbn_session=../../x' }, { cookie: 'other=1' }];
    for (const headers of cases) {
      const ev = await openEvents(headers);
      expect(ev.status, JSON.stringify(headers)).toBe(401);
      expect(JSON.parse(ev.first).error.code).toBe('UNAUTHORIZED');
    }
    // A wrong header is judged alone, even next to a valid cookie.
    expect((await openEvents({ cookie, authorization: 'Bearer wrong' })).status).toBe(401);
  });

  it('refuses a cross-origin state change made with the cookie', async () => {
    const host = new URL(coordinator.url).host;
    const cross = await fetch(`${coordinator.url}/v1/runs/${runId}/cancel`, { method: 'POST', headers: { cookie, origin: 'https://evil.example' } });
    expect(cross.status).toBe(401);
    expect((await api(coordinator.url).json(`/v1/runs/${runId}`, { headers: { cookie } })).body.status).toBe('RUNNING');
    const same = await fetch(`${coordinator.url}/v1/runs/${runId}/cancel`, { method: 'POST', headers: { cookie, origin: `http://${host}` } });
    expect(same.status).toBe(200);
  });

  it('ends when its token is rotated or removed', async () => {
    const sessions = new SessionStore(redis, prefix, 600);
    const id = cookie.split('=')[1]!;
    const current = new Auth(parseApiTokens(`alice:${ALICE},bob:${BOB}`, undefined), sessions);
    expect(await current.principalOfSession(id)).toBe('bob');
    expect(await new Auth(parseApiTokens(`alice:${ALICE},bob:rotated-token`, undefined), sessions).principalOfSession(id)).toBeUndefined();
    expect(await new Auth(parseApiTokens(`alice:${ALICE}`, undefined), sessions).principalOfSession(id)).toBeUndefined();
  });

  it('DELETE /v1/session logs out: the cookie is cleared and no longer accepted', async () => {
    const out = await fetch(`${coordinator.url}/v1/session`, { method: 'DELETE', headers: { cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/cmbn_session=;.*Expires=Thu, 01 Jan 1970/);
    expect((await api(coordinator.url).json('/v1/session', { headers: { cookie } })).status).toBe(401);
    expect((await openEvents({ cookie })).status).toBe(401);
  });
});
