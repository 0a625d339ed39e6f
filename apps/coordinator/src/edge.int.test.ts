/**
 * The API edge: validation (NUL bytes, int4 versions, prototype keys), what a 500 may say, the
 * FK race of alias vs delete, and downloads of corrupt store objects. A real in-process
 * coordinator over real Redis (unique prefix), a fresh Postgres database and a file:// store.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileArtifactStore } from '@cmbn/artifacts';
import { RegistryError, createModelVersion, createRun, deleteVersion, getRun, markVersionReady, setAlias, setRunStatus } from '@cmbn/registry';
import { toErrorResponse } from './errors.ts';
import { contractCheckedApi } from '@cmbn/api';
import { api, submit, upload, useTestCoordinator, type Api } from './test-helpers.ts';

const logLines: string[] = [];
const t = useTestCoordinator({
  maxUploadBytes: 1_000_000,
  reconcileIntervalMs: 60_000,
  logger: pino({ level: 'info' }, { write: (s: string) => logLines.push(s) }),
});
let store: FileArtifactStore;
let a: Api;
/** Every answer of the API in this file, checked against GET /openapi.json (asserted empty at the end). */
const contract = { issues: [] as string[], checked: 0 };
const CSV = `x,y\n${Array.from({ length: 20 }, (_, i) => `${i},${i % 3}`).join('\n')}\n`;
let datasetId: string;

/** Nothing a client reads from a 5xx may name server files, Prisma or the store's location. */
function expectNoInternals(body: unknown) {
  const text = JSON.stringify(body);
  expect(text).not.toMatch(/\/work\/|\/tmp\/|node_modules|\.ts:\d+|invocation|prisma|Invalid `/i);
  expect(text).not.toContain(t.artifacts.dir);
}

function expectInternal500(r: { status: number; body: { error: { code: string; message: string; errorId?: string } } }) {
  expect(r.status).toBe(500);
  expect(r.body.error).toEqual({ code: 'INTERNAL', message: 'internal error', errorId: expect.stringMatching(/^[0-9a-f]{16}$/) });
  // The details are in the log under that id.
  const line = logLines.find((l) => l.includes(r.body.error.errorId!));
  expect(line).toBeDefined();
  return JSON.parse(line!) as { err?: { message?: string; stack?: string } };
}

async function readyVersion(name: string, sha: string): Promise<number> {
  const v = await createModelVersion({ name, metrics: {}, signature: {}, datasetSha256: sha, mbnModelHash: sha, params: {}, backend: 'test' });
  await markVersionReady(v.id, { artifactSha256: sha, artifactBytes: 1 });
  return v.version;
}

/** A SUCCEEDED run whose model is `bytes` (a stand-in for model.cmbn: the route only streams it). */
async function runWithModel(bytes: Uint8Array): Promise<{ id: string; sha: string }> {
  const { sha256 } = await store.put(bytes);
  const run = await createRun({ datasetId, params: {}, ks: [2], seed: 0 });
  await setRunStatus(run.id, 'RUNNING');
  await setRunStatus(run.id, 'SUCCEEDED', { modelHash: sha256, modelSha256: sha256, summary: { modelBytes: bytes.byteLength } });
  return { id: run.id, sha: sha256 };
}

async function flipByte(path: string, at: number) {
  const h = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await h.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await h.write(b, 0, 1, at);
  } finally {
    await h.close();
  }
}

beforeAll(async () => {
  store = new FileArtifactStore(t.artifacts.dir);
  a = await contractCheckedApi(api(t.coordinator.url), contract);
  const up = await upload(a, new TextEncoder().encode(CSV), 'name=edge');
  expect(up.status).toBe(201);
  datasetId = up.body.id;
});

describe('validation at the edge', () => {
  it('refuses version numbers that do not fit an int4 with a 400, in paths, refs and bodies', async () => {
    await readyVersion('edge-m', 'a'.repeat(64));
    const big = 2 ** 31;
    const cases: [string, RequestInit?][] = [
      [`/v1/models/edge-m/versions/${big}`],
      [`/v1/models/edge-m/versions/99999999999999999999`],
      [`/v1/models/${encodeURIComponent(`edge-m:${big}`)}/artifact`],
      [`/v1/models/edge-m/versions/${big}`, { method: 'DELETE' }],
      ['/v1/models/edge-m/aliases/champion', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: big }) }],
    ];
    for (const [path, init] of cases) {
      const r = await a.json(path, init);
      expect(r.status, `${init?.method ?? 'GET'} ${path}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.error.code).toBe('BAD_REQUEST');
      expectNoInternals(r.body);
    }
    // The largest int4 is a valid version number: simply not there.
    expect((await a.json(`/v1/models/edge-m/versions/${big - 1}`)).status).toBe(404);
  });

  it('takes every seed the params allow, up to 2^32 - 1 (Run.seed is a bigint), and refuses 2^32 with a 400', async () => {
    const params = (seed: number) => ({ V: 4, k: [6], clusters: 2, seed });
    const top = await submit(a, { datasetId, params: params(2 ** 32 - 1) });
    expect(top.status, JSON.stringify(top.body)).toBe(201);
    expect(Number((await getRun(top.body.id)).seed)).toBe(2 ** 32 - 1);
    expect((await a.json(`/v1/runs/${top.body.id}`)).body.params.seed).toBe(2 ** 32 - 1);
    expect((await a.json(`/v1/runs/${top.body.id}/cancel`, { method: 'POST' })).status).toBe(200);
    const over = await submit(a, { datasetId, params: params(2 ** 32) });
    expect(over.status, JSON.stringify(over.body)).toBe(400);
    expect(JSON.stringify(over.body)).toMatch(/seed/);
    expectNoInternals(over.body);
  });

  it('refuses NUL bytes and control characters in ids, names and bodies with a 400', async () => {
    const gets = ['/v1/datasets/%00', '/v1/runs/x%00y', '/v1/runs/x%00y/model', '/v1/runs/x%01y/events', '/v1/models/a%00b', '/v1/models/a%00b/artifact'];
    for (const path of gets) {
      const r = await a.json(path);
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(400);
      expectNoInternals(r.body);
    }
    expect((await a.json('/v1/runs/x%00y/cancel', { method: 'POST' })).status).toBe(400);
    for (const body of [{ datasetId: 'a\u0000b' }, { datasetId, labelsId: '\u0000' }, { datasetId, distill: { evalDatasetId: 'x\u0000' } }, { datasetId, params: { kernel: 'lin\u0000ear' } }]) {
      const r = await submit(a, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expectNoInternals(r.body);
    }
    const up = await upload(a, new TextEncoder().encode('p,q\n1,2\n'), 'name=a%00b');
    expect(up.status).toBe(400);
    expect((await upload(a, new TextEncoder().encode('p,q\n1,2\n'), 'name=x&labelsFor=%00')).status).toBe(400);
    // Malformed percent-encoding in a path is the client's fault too.
    expect((await a.json('/v1/runs/%zz')).status).toBe(400);
  });

  it('refuses __proto__, constructor and prototype keys anywhere in a JSON body', async () => {
    // What Express's parser really does with "__proto__": JSON.parse keeps it as an own key.
    const raw = (json: string) => a.json('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
    for (const json of [
      `{"datasetId":"${datasetId}","params":{"__proto__":{"V":2}}}`,
      `{"datasetId":"${datasetId}","params":{"V":2,"__proto__":1}}`,
      `{"__proto__":{"admin":true},"datasetId":"${datasetId}"}`,
      `{"datasetId":"${datasetId}","params":{"constructor":{"prototype":{"x":1}}}}`,
      `{"datasetId":"${datasetId}","distill":{"student":{"prototype":1}}}`,
      `{"datasetId":"${datasetId}","params":[{"__proto__":1}]}`,
    ]) {
      const r = await raw(json);
      expect(r.status, json).toBe(400);
      expect(r.body.error.code).toBe('BAD_REQUEST');
      expect(r.body.error.message).toMatch(/forbidden key/);
    }
    const alias = await a.json('/v1/models/edge-m/aliases/champion', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"version":1,"__proto__":{}}' });
    expect(alias.status).toBe(400);
    // Malformed JSON: a 400 that does not echo the parser's internals.
    const bad = await raw('{"datasetId": ');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toEqual({ code: 'BAD_REQUEST', message: 'malformed JSON body' });
  });
});

describe('500s and races', () => {
  it('answers an unexpected failure with INTERNAL, a logged errorId and no internal text', async () => {
    // The store's temp directory turned into a file: put() fails with ENOTDIR naming the path.
    const tmp = join(t.artifacts.dir, 'tmp');
    await rm(tmp, { recursive: true, force: true });
    await writeFile(tmp, 'not a directory');
    try {
      const r = await upload(a, new TextEncoder().encode(`u,v\n${Math.random()},1\n`), 'name=fails');
      const logged = expectInternal500(r);
      expectNoInternals(r.body);
      expect(JSON.stringify(logged.err)).toContain(t.artifacts.dir);
    } finally {
      await rm(tmp, { force: true });
      await mkdir(tmp, { recursive: true });
    }
  });

  it('answers an alias move racing a version delete with 409 (or 404), never 500', async () => {
    const sha = 'b'.repeat(64);
    const versions: number[] = [];
    for (let i = 0; i < 40; i++) versions.push(await readyVersion('edge-race', sha));
    const json = { 'content-type': 'application/json' };
    const jitter = () => new Promise((r) => setTimeout(r, Math.random() * 20));
    const results = await Promise.all(
      versions.flatMap((v) => [
        jitter().then(() => a.json(`/v1/models/edge-race/aliases/a${v}`, { method: 'PUT', headers: json, body: JSON.stringify({ version: v }) })),
        jitter().then(() => a.json(`/v1/models/edge-race/versions/${v}`, { method: 'DELETE' })),
      ]),
    );
    for (const r of results) {
      expect([200, 404, 409], JSON.stringify(r.body)).toContain(r.status);
      expectNoInternals(r.body);
    }
  });

  it('the race is the registry’s own CONFLICT (alias onto a deleted version) or ALIAS_IN_USE, never a foreign-key violation; 409 at the edge', async () => {
    const sha = 'c'.repeat(64);
    const aliasErrors: unknown[] = [];
    const deleteErrors: unknown[] = [];
    // Until the alias side loses at least once (a handful of rounds at most; each round is 60 versions).
    for (let round = 0; round < 10 && aliasErrors.length === 0; round++) {
      const versions: number[] = [];
      for (let i = 0; i < 60; i++) versions.push(await readyVersion(`edge-fk${round}`, sha));
      const jitter = () => new Promise((r) => setTimeout(r, Math.random() * 30));
      await Promise.all(
        versions.flatMap((v) => [
          jitter().then(() => setAlias(`edge-fk${round}`, `a${v}`, v)).catch((e: unknown) => void aliasErrors.push(e)),
          jitter().then(() => deleteVersion(`edge-fk${round}`, v)).catch((e: unknown) => void deleteErrors.push(e)),
        ]),
      );
    }
    expect(aliasErrors.length).toBeGreaterThan(0);
    for (const e of aliasErrors) {
      expect(e).toBeInstanceOf(RegistryError);
      expect((e as RegistryError).code).toBe('CONFLICT');
      const r = toErrorResponse(e);
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('CONFLICT');
      expectNoInternals(r.body);
    }
    for (const e of deleteErrors) {
      expect(e).toBeInstanceOf(RegistryError);
      expect((e as RegistryError).code).toBe('ALIAS_IN_USE');
      expect(toErrorResponse(e).status).toBe(409);
    }
  }, 120_000);

  it('still maps a raw foreign-key violation (SQLSTATE 23503) to 409 CONFLICT, as the backstop for other races', () => {
    const fk = Object.assign(new Error('insert or update on table violates foreign key constraint'), { code: 'P2003' });
    const r = toErrorResponse(fk);
    expect(r).toMatchObject({ status: 409, body: { error: { code: 'CONFLICT' } } });
    expectNoInternals(r.body);
  });
});

describe('downloads of corrupt store objects', () => {
  it('aborts GET /v1/runs/:id/model mid-way when the stored model is corrupt; the next request gets a clean error', async () => {
    const bytes = randomBytes(1_000_000);
    const { id, sha } = await runWithModel(bytes);
    const ok = await a(`/v1/runs/${id}/model`);
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer()).equals(bytes)).toBe(true);

    await flipByte(store.localPath(sha), 600_000);
    const res = await a(`/v1/runs/${id}/model`);
    // Headers went out with the first chunk; the body must not complete.
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-hash')).toBe(sha);
    await expect(res.arrayBuffer()).rejects.toThrow();

    // Quarantined: the object left its key, so the next request fails before any header.
    const again = await a.json(`/v1/runs/${id}/model`);
    expect(again.status).toBe(500);
    expect(again.body.error.code).toBe('ARTIFACT_CORRUPT');
    expect(again.body.error.errorId).toMatch(/^[0-9a-f]{16}$/);
    expectNoInternals(again.body);
  });

  it('refuses a corrupt model that fits in one chunk with a JSON error before any header', async () => {
    const { id, sha } = await runWithModel(randomBytes(1000));
    await flipByte(store.localPath(sha), 10);
    const r = await a.json(`/v1/runs/${id}/model`);
    expect(r.status).toBe(500);
    expect(r.body.error.code).toBe('ARTIFACT_CORRUPT');
    expectNoInternals(r.body);
  });

  it('refuses a corrupt student archive on /v1/models/:ref/artifact with a clean ARTIFACT_CORRUPT', async () => {
    const bytes = randomBytes(200_000);
    const { sha256 } = await store.put(bytes);
    const v = await createModelVersion({ name: 'edge-art', metrics: {}, signature: {}, datasetSha256: sha256, mbnModelHash: sha256, params: {}, backend: 'test' });
    await markVersionReady(v.id, { artifactSha256: sha256, artifactBytes: bytes.byteLength });
    const good = await a('/v1/models/edge-art%3A1/artifact');
    expect(good.status).toBe(200);
    expect(Buffer.from(await good.arrayBuffer()).equals(bytes)).toBe(true);
    await flipByte(store.localPath(sha256), 100_000);
    for (let i = 0; i < 2; i++) {
      const r = await a.json('/v1/models/edge-art%3A1/artifact');
      expect(r.status).toBe(500);
      expect(r.body.error.code).toBe('ARTIFACT_CORRUPT');
      expect(r.body.error.errorId).toMatch(/^[0-9a-f]{16}$/);
      expectNoInternals(r.body);
    }
  });
});

describe('/healthz', () => {
  it('is 200 with a plain state per component, and 503 naming the store when it is unreachable', async () => {
    const ok = await a.json('/healthz');
    expect(ok).toEqual({ status: 200, body: { status: 'ok', redis: 'ok', db: 'ok', store: 'ok' } });
    // The store's object tree replaced by a file: every read of it fails (ENOTDIR).
    const tree = join(t.artifacts.dir, 'sha256');
    await rename(tree, `${tree}.away`);
    await writeFile(tree, 'x');
    try {
      const t0 = Date.now();
      const down = await a.json('/healthz');
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(down).toEqual({ status: 503, body: { status: 'unavailable', redis: 'ok', db: 'ok', store: 'unreachable' } });
    } finally {
      await rm(tree, { force: true });
      await rename(`${tree}.away`, tree);
    }
    expect((await a.json('/healthz')).status).toBe(200);
  });
});

describe('the contract', () => {
  it('every answer in this file validated against GET /openapi.json', () => {
    expect(contract.issues).toEqual([]);
    expect(contract.checked).toBeGreaterThan(50);
  });
});
