/**
 * Named API tokens and the console's session cookie, against a real coordinator, Redis and Postgres:
 * the cookie is accepted wherever the token is (the run's SSE stream included) and nothing else is.
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { Auth, MIN_TOKEN_LENGTH, parseApiTokens } from './auth.ts';
import { startCoordinator, type CoordinatorHandle } from './coordinator.ts';
import { readCoordinatorEnv } from './env.ts';
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
  // The named tokens and the TTL as main.ts reads them: through env.ts' ZCoordinatorEnv.
  coordinator = await startCoordinator({
    env: readCoordinatorEnv({ CMBN_API_TOKENS: `alice:${ALICE}, bob:${BOB}`, CMBN_SESSION_TTL_S: '600' }),
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

/** A request with headers fetch will not send as given (Host, X-Forwarded-*). */
function raw(base: string, path: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; setCookie: string[]; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: o.method ?? 'GET', headers: o.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, setCookie: res.headers['set-cookie'] ?? [], body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const rawLogin = (base: string, token: string, headers: Record<string, string> = {}) =>
  raw(base, '/v1/session', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token }) });

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
    const t = (c: string) => c.repeat(MIN_TOKEN_LENGTH);
    expect(parseApiTokens(`a:${t('x')}, b:y:${t('2')}`, t('z')).map((x) => x.name)).toEqual(['default', 'a', 'b']);
    expect(() => parseApiTokens('novalue', undefined)).toThrow(/entry 1 is not name:token/);
    expect(() => parseApiTokens('a:', undefined)).toThrow(/token of "a" is empty/);
    expect(() => parseApiTokens(`a:${t('x')},a:${t('y')}`, undefined)).toThrow(/"a" is given twice/);
    expect(() => parseApiTokens(`a:${t('s')},b:${t('s')}`, undefined)).toThrow(/also another name's token/);
    // Refused (the name twice, the token too short), and the message does not echo the token.
    expect(() => parseApiTokens(`a:${t('x')},a:secret-value`, undefined)).toThrow(/^CMBN_API_TOKENS/);
    expect(() => parseApiTokens(`a:${t('x')},a:secret-value`, undefined)).not.toThrow(/secret-value/);
    expect(parseApiTokens(undefined, undefined)).toEqual([]);
    // Too short to be a token (a typo, a placeholder): refused at boot, without echoing it.
    expect(() => parseApiTokens('a:abc1234', undefined)).toThrow(new RegExp(`token of "a" is too short \\(at least ${MIN_TOKEN_LENGTH}`));
    expect(() => parseApiTokens(undefined, 'short')).toThrow(/CMBN_API_TOKEN: the token of "default" is too short/);
    // A malformed name part is not echoed: it may be the start of a token pasted without `name:`.
    let msg = '';
    try {
      parseApiTokens(`alice:${t('a')}, s3cr3t-pr3fix?${t('q')}:tail`, undefined);
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(/^CMBN_API_TOKENS entry 2: bad token name: a token name is 1-64 of/);
    expect(msg).not.toMatch(/s3cr3t|pr3fix|tail/);
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
    const before = Date.now();
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
    // 600 s from the login, measured against clocks read around it, so no load can make it flake.
    expect(Date.parse(body.expiresAt)).toBeGreaterThanOrEqual(before + 600_000 - 1_000);
    expect(Date.parse(body.expiresAt)).toBeLessThanOrEqual(Date.now() + 600_000 + 1_000);
    cookie = cookieOf(ok);
    // The session lives in Redis under the sha256 of its id (never the id itself), with the TTL.
    const id = cookie.split('=')[1]!;
    const key = `${prefix}:session:${createHash('sha256').update(id).digest('hex')}`;
    const ttl = await redis.ttl(key);
    // Redis counts down in whole seconds from the 600 it was set to during the login.
    expect(ttl).toBeGreaterThanOrEqual(600 - Math.ceil((Date.now() - before) / 1000) - 1);
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

describe('session cookie flags and origin checks (no proxy configured)', () => {
  it('is Secure except on loopback; X-Forwarded-Proto/-Host are not believed without CMBN_TRUST_PROXY', async () => {
    const local = await rawLogin(coordinator.url, ALICE);
    expect(local.status).toBe(200);
    expect(local.setCookie[0]).not.toMatch(/;\s*Secure/i);
    // Reached under a public name over plain http: the session id must not travel in the clear.
    const remote = await rawLogin(coordinator.url, ALICE, { host: 'cmbn.example.org:8080' });
    expect(remote.status).toBe(200);
    expect(remote.setCookie[0]).toMatch(/;\s*Secure/i);
    // A client's own X-Forwarded-Proto on loopback changes nothing: no proxy is trusted.
    const forged = await rawLogin(coordinator.url, ALICE, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' });
    expect(forged.setCookie[0]).not.toMatch(/;\s*Secure/i);
    const cookie = forged.setCookie[0]!.split(';')[0]!;
    const cancel = (headers: Record<string, string>) => raw(coordinator.url, '/v1/runs/00000000-0000-4000-8000-000000000000/cancel', { method: 'POST', headers: { cookie, ...headers } });
    expect((await cancel({ origin: 'https://evil.example', 'x-forwarded-host': 'evil.example' })).status).toBe(401);
    // Same origin: past auth, to the route (the run does not exist).
    expect((await cancel({ origin: coordinator.url })).status).toBe(404);
  });

  it('a corrupt session value in Redis is an unknown session (401), not a 500', async () => {
    const id = 'C'.repeat(43);
    const key = `${prefix}:session:${createHash('sha256').update(id).digest('hex')}`;
    for (const value of ['{not json', '"a string"', JSON.stringify({ principal: 'alice' })]) {
      await redis.set(key, value, 'EX', 60);
      const r = await api(coordinator.url).json('/v1/session', { headers: { cookie: `cmbn_session=${id}` } });
      expect({ value, status: r.status, code: r.body.error?.code }).toEqual({ value, status: 401, code: 'UNAUTHORIZED' });
    }
    await redis.del(key);
  });
});

describe('behind a TLS proxy (CMBN_TRUST_PROXY, CMBN_PUBLIC_URL)', () => {
  // One Prisma client per process (@cmbn/registry): these coordinators take turns on the database.
  const others: { c: CoordinatorHandle; prefix: string }[] = [];
  beforeAll(() => coordinator.close());
  async function start(env: Record<string, string>): Promise<CoordinatorHandle> {
    for (const o of others) await o.c.close();
    const o = { prefix: uniquePrefix() };
    const c = await startCoordinator({
      env: readCoordinatorEnv({ CMBN_API_TOKENS: `alice:${ALICE}`, ...env }),
      databaseUrl: db.url,
      redisUrl: REDIS_URL,
      artifacts: artifacts.url,
      prefix: o.prefix,
      port: 0,
      maxUploadBytes: 1e6,
      logger: pino({ level: 'silent' }),
    });
    others.push({ ...o, c });
    return c;
  }
  afterAll(async () => {
    for (const o of others) {
      await o.c.close();
      await dropPrefix(o.prefix);
    }
  });
  const missingRun = '/v1/runs/00000000-0000-4000-8000-000000000000/cancel';

  it('CMBN_PUBLIC_URL=https://…: the cookie is Secure, and only that Origin may change state with it', async () => {
    const c = await start({ CMBN_PUBLIC_URL: 'https://cmbn.example.org/', CMBN_TRUST_PROXY: 'loopback' });
    // The proxy talks plain http to the coordinator on loopback, with the upstream's Host.
    const login = await rawLogin(c.url, ALICE, { 'x-forwarded-proto': 'https' });
    expect(login.status).toBe(200);
    expect(login.setCookie[0]).toMatch(/;\s*Secure/i);
    const cookie = login.setCookie[0]!.split(';')[0]!;
    const post = (origin: string) => raw(c.url, missingRun, { method: 'POST', headers: { cookie, origin } });
    expect((await post('https://cmbn.example.org')).status).toBe(404);
    expect((await post(c.url)).status).toBe(401);
    expect((await post('http://cmbn.example.org')).status).toBe(401);
    expect((await post('https://evil.example')).status).toBe(401);
    const logout = await raw(c.url, '/v1/session', { method: 'DELETE', headers: { cookie } });
    expect(logout.setCookie[0]).toMatch(/;\s*Secure/i);
  });

  it('CMBN_TRUST_PROXY alone: the proxy\'s X-Forwarded-Proto makes the cookie Secure and X-Forwarded-Host is the origin compared', async () => {
    const c = await start({ CMBN_TRUST_PROXY: '127.0.0.1' });
    const viaProxy = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'cmbn.example.org', 'x-forwarded-for': '203.0.113.7' };
    const login = await rawLogin(c.url, ALICE, viaProxy);
    expect(login.setCookie[0]).toMatch(/;\s*Secure/i);
    const cookie = login.setCookie[0]!.split(';')[0]!;
    const post = (origin: string) => raw(c.url, missingRun, { method: 'POST', headers: { cookie, origin, ...viaProxy } });
    expect((await post('https://cmbn.example.org')).status).toBe(404);
    expect((await post('https://evil.example')).status).toBe(401);
  });

  it('refuses a malformed CMBN_TRUST_PROXY or CMBN_PUBLIC_URL with a readable message', () => {
    expect(() => readCoordinatorEnv({ CMBN_TRUST_PROXY: 'yes please' })).toThrow(/^coordinator configuration: CMBN_TRUST_PROXY: true, false, a hop count/);
    expect(() => readCoordinatorEnv({ CMBN_PUBLIC_URL: 'https://cmbn.example.org/console' })).toThrow(/CMBN_PUBLIC_URL: an origin/);
    expect(() => readCoordinatorEnv({ CMBN_PUBLIC_URL: 'ftp://x' })).toThrow(/CMBN_PUBLIC_URL: an http/);
    expect(readCoordinatorEnv({ CMBN_TRUST_PROXY: '10.0.0.0/8, loopback' }).CMBN_TRUST_PROXY).toBe('10.0.0.0/8, loopback');
    expect(readCoordinatorEnv({ CMBN_TRUST_PROXY: '2' }).CMBN_TRUST_PROXY).toBe(2);
    expect(readCoordinatorEnv({ CMBN_PUBLIC_URL: 'https://cmbn.example.org/' }).CMBN_PUBLIC_URL).toBe('https://cmbn.example.org');
  });
});
