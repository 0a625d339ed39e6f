/**
 * The registry over HTTP and through `cmbn models … --remote`: search with paging, alias history
 * with named tokens (CMBN_API_TOKENS; CMBN_API_TOKEN is `default`, the local CLI is `local`),
 * rollback, deletion with its artifacts, and gc. Every answer is checked against /openapi.json.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractCheckedApi, type CheckedApi } from '@cmbn/api';
import { FileArtifactStore } from '@cmbn/artifacts';
import { distillJobId } from '@cmbn/jobs';
import { aliasHistory, createModelVersion, createRun, markVersionReady, registerDataset, runIdempotencyKey, setRunStatus } from '@cmbn/registry';
import { toErrorResponse } from './errors.ts';
import { producerJobId } from './pending-reconciler.ts';
import type { GcService } from './gc-service.ts';
import { modelsRouter } from './routes/models.ts';
import { api, runCli, storedObjects, useTestCoordinator } from './test-helpers.ts';

const contract = { issues: [] as string[], checked: 0 };
const as: Record<'alice' | 'bob' | 'default' | 'nobody', CheckedApi> = {} as never;
const TOKENS = { alice: 'tok-alice-1', bob: 'tok-bob-2', default: 'tok-default-3' };
const json = { 'content-type': 'application/json' };
const savedEnv = process.env.CMBN_API_TOKENS;

// The named tokens are read when the coordinator starts, in useTestCoordinator's beforeAll, which
// runs after this one; this afterAll runs after its teardown.
beforeAll(() => {
  process.env.CMBN_API_TOKENS = `alice:${TOKENS.alice},bob:${TOKENS.bob}`;
});
afterAll(() => {
  if (savedEnv === undefined) delete process.env.CMBN_API_TOKENS;
  else process.env.CMBN_API_TOKENS = savedEnv;
});
const t = useTestCoordinator({ apiToken: TOKENS.default, maxUploadBytes: 1000, reconcileIntervalMs: 60_000 });
let store: FileArtifactStore;

async function publish(name: string, i: number, tags: Record<string, string>, agreement: number) {
  const v = await createModelVersion({ name, metrics: { agreement }, signature: {}, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: {}, backend: 'test', tags });
  const { sha256 } = await store.put(new TextEncoder().encode(`student archive ${name} ${i}`));
  return { ...(await markVersionReady(v.id, { artifactSha256: sha256, artifactBytes: 10 })), sha256 };
}

/** POST /v1/gc as alice: 202 with the job and its Location; then the job polled until it ended. */
async function sweep(body: Record<string, unknown>) {
  const res = await as.alice('/v1/gc', { method: 'POST', headers: json, body: JSON.stringify(body) });
  const started = { status: res.status, body: (await res.json()) as { id: string; status: string } };
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  expect(res.headers.get('location')).toBe(`/v1/gc/${started.body.id}`);
  expect(['queued', 'running', 'succeeded']).toContain(started.body.status);
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const j = await as.alice.json(`/v1/gc/${started.body.id}`);
    expect(j.status).toBe(200);
    if (j.body.status === 'succeeded' || j.body.status === 'failed') return j.body;
  }
  throw new Error(`sweep ${started.body.id} did not end within 60 s`);
}

beforeAll(async () => {
  store = new FileArtifactStore(t.artifacts.dir);
  for (const who of ['alice', 'bob', 'default'] as const) as[who] = await contractCheckedApi(api(t.coordinator.url, TOKENS[who]), contract);
  as.nobody = await contractCheckedApi(api(t.coordinator.url), contract);
});

describe('registry API', () => {
  it('searches versions by tag, status, alias and metric range, a page at a time', async () => {
    for (let i = 1; i <= 5; i++) await publish('digits', i, { team: i % 2 ? 'vision' : 'speech' }, 0.9 + i / 100);
    const page1 = await as.alice.json('/v1/models/digits/versions?tag=team=vision&min_agreement=0.92&page_size=1');
    expect(page1.status).toBe(200);
    expect(page1.body.versions.map((v: { version: number }) => v.version)).toEqual([5]);
    const page2 = await as.alice.json(`/v1/models/digits/versions?tag=team=vision&min_agreement=0.92&page_size=1&page_token=${page1.body.nextPageToken}`);
    expect(page2.body.versions.map((v: { version: number }) => v.version)).toEqual([3]);
    expect(page2.body.nextPageToken).toBeNull();
    expect((await as.alice.json('/v1/models/digits/versions?max_agreement=0.92&status=READY')).body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    for (const bad of ['min_agreement=high', 'page_token=garbage', 'bogus=1', 'status=DONE', 'created_after=yesterday', 'page_size=0']) {
      const r = await as.alice.json(`/v1/models/digits/versions?${bad}`);
      expect(r.status, bad).toBe(400);
    }
    expect((await as.nobody.json('/v1/models/digits/versions')).status).toBe(401);
  });

  it("the model detail carries the newest versions only, and its nextPageToken continues in the search", async () => {
    const all = await as.alice.json('/v1/models/digits');
    expect(all.status).toBe(200);
    expect(all.body.versions.map((v: { version: number }) => v.version)).toEqual([1, 2, 3, 4, 5]);
    expect(all.body).toMatchObject({ versionCount: 5, nextPageToken: null });
    const two = await as.alice.json('/v1/models/digits?versions=2');
    expect(two.body.versions.map((v: { version: number }) => v.version)).toEqual([4, 5]);
    expect(two.body.versionCount).toBe(5);
    const rest = await as.alice.json(`/v1/models/digits/versions?page_token=${two.body.nextPageToken}`);
    expect(rest.body.versions.map((v: { version: number }) => v.version)).toEqual([3, 2, 1]);
    for (const bad of ['versions=0', 'versions=1001', 'versions=x', 'bogus=1']) expect((await as.alice.json(`/v1/models/digits?${bad}`)).status, bad).toBe(400);
    const cli = await runCli(['models', 'show', 'digits', '--versions', '2', '--remote', t.coordinator.url, '--token', TOKENS.alice]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`(the newest 2 of 5 versions; older: cmbn models search digits --page-token ${two.body.nextPageToken}, or --all)`);
    expect(cli.stdout.trim().split('\n').filter((l) => /^ {2}\d/.test(l)).map((l) => Number(l.trim().split('\t')[0]))).toEqual([4, 5]);
  });

  it('records who moved an alias (token names), rolls back, and shows the history', async () => {
    const put = (who: 'alice' | 'bob' | 'default', version: number) => as[who].json('/v1/models/digits/aliases/prod', { method: 'PUT', headers: json, body: JSON.stringify({ version }) });
    expect((await put('alice', 1)).body).toMatchObject({ version: 1, previousVersion: null, event: { principal: 'alice', action: 'set' } });
    expect((await put('bob', 2)).body).toMatchObject({ version: 2, previousVersion: 1, event: { principal: 'bob' } });
    expect((await put('default', 3)).body).toMatchObject({ version: 3, previousVersion: 2, event: { principal: 'default' } });
    const back = await as.alice.json('/v1/models/digits/aliases/prod/rollback', { method: 'POST' });
    expect(back.body).toMatchObject({ version: 2, previousVersion: 3, event: { action: 'rollback', principal: 'alice' } });
    const h = await as.bob.json('/v1/models/digits/aliases/prod/history');
    expect(h.body.current).toBe(2);
    expect(h.body.events.map((e: { action: string; principal: string; version: number }) => `${e.action}:${e.principal}:${e.version}`)).toEqual([
      'rollback:alice:2',
      'set:default:3',
      'set:bob:2',
      'set:alice:1',
    ]);
    expect((await as.alice.json('/v1/models/digits/aliases/none/history')).status).toBe(404);
    expect((await as.alice.json('/v1/models/digits/aliases/staging/rollback', { method: 'POST' })).status).toBe(404);
  });

  it('cmbn models search / alias --rollback / history --remote, and a local move recorded as `local`', async () => {
    const remote = ['--remote', t.coordinator.url, '--token', TOKENS.bob];
    const s = await runCli(['models', 'search', 'digits', '--tag', 'team=vision', '--min-agreement', '0.92', '--json', ...remote]);
    expect(s.code, s.stderr).toBe(0);
    expect((JSON.parse(s.stdout) as { versions: { version: number }[] }).versions.map((v) => v.version)).toEqual([5, 3]);
    const rb = await runCli(['models', 'alias', 'digits', 'prod', '--rollback', '--json', ...remote]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(JSON.parse(rb.stdout)).toMatchObject({ version: 3, previousVersion: 2, event: { principal: 'bob', action: 'rollback' } });
    const local = await runCli(['models', 'alias', 'digits', 'prod', '4'], { DATABASE_URL: t.db.url, CMBN_ARTIFACTS: t.artifacts.url });
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toContain('digits@prod → 4 (was 3)');
    const h = await runCli(['models', 'history', 'digits', 'prod', ...remote]);
    expect(h.code, h.stderr).toBe(0);
    const lines = h.stdout.trim().split('\n');
    expect(lines[0]).toBe('digits@prod → 4');
    expect(lines[1]).toMatch(/\tset\t3 → 4\tby local$/);
    expect(lines[2]).toMatch(/\trollback\t2 → 3\tby bob$/);
    const usage = await runCli(['models', 'alias', 'digits', 'prod', '2', '--rollback', ...remote]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/exactly one of VERSION, --rollback or --delete/);
  }, 120_000);

  it('deletes a version with its artifact, refuses an aliased one, removes an alias, and sweeps orphans', async () => {
    const v = await publish('deleting', 1, {}, 0.5);
    expect(await storedObjects(t.artifacts.dir)).toContain(v.sha256);
    await as.alice.json('/v1/models/deleting/aliases/prod', { method: 'PUT', headers: json, body: JSON.stringify({ version: 1 }) });
    const refused = await as.alice.json('/v1/models/deleting/versions/1', { method: 'DELETE' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('ALIAS_IN_USE');
    const un = await as.alice.json('/v1/models/deleting/aliases/prod', { method: 'DELETE' });
    expect(un.body).toMatchObject({ deleted: true, event: { action: 'delete', previousVersion: 1, principal: 'alice' } });
    const del = await as.alice.json('/v1/models/deleting/versions/1', { method: 'DELETE' });
    expect(del.status).toBe(200);
    // The archive was written just now: inside the grace period, so its deletion is recorded and deferred.
    expect(del.body).toMatchObject({ deleted: true, orphaned: [v.sha256], artifacts: { deleted: [], deferred: 1 } });
    expect(await storedObjects(t.artifacts.dir)).toContain(v.sha256);

    const { sha256: orphan } = await store.put(new TextEncoder().encode('an orphan'));
    const dry = await sweep({ graceSeconds: 0, dryRun: true });
    expect(dry).toMatchObject({ status: 'succeeded', principal: 'alice', graceSeconds: 0, dryRun: true, error: null, result: { dryRun: true, deleted: [] } });
    expect(dry.result.orphans.sort()).toEqual([orphan, v.sha256].sort());
    const young = await sweep({});
    expect(young).toMatchObject({ graceSeconds: null, result: { young: 2, deleted: [], deferred: 1 } });

    // A grace below 300 s while a run is active: refused (409) before anything is queued, nothing deleted.
    const ds = await registerDataset({ sha256: 'f'.repeat(64), name: 'busy', format: 'csv', rows: 1, cols: 1, dtype: 'float32', bytes: 1 });
    const run = await createRun({ datasetId: ds.id, params: {}, ks: [2], seed: 0 });
    await setRunStatus(run.id, 'RUNNING');
    const busy = await as.alice.json('/v1/gc', { method: 'POST', headers: json, body: JSON.stringify({ graceSeconds: 0 }) });
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/below 300 s/) });
    expect(await storedObjects(t.artifacts.dir)).toEqual(expect.arrayContaining([orphan, v.sha256]));
    await setRunStatus(run.id, 'FAILED', { error: 'test' });

    const gc = await sweep({ graceSeconds: 0 });
    expect(gc.result).toMatchObject({ deleted: [orphan, v.sha256].sort(), deferred: 0 });
    expect(await storedObjects(t.artifacts.dir)).not.toContain(orphan);
    expect(await storedObjects(t.artifacts.dir)).not.toContain(v.sha256);
    // The ended sweep stays readable, by anyone authenticated; unknown ids are a 404, junk a 400.
    expect((await as.bob.json(`/v1/gc/${gc.id}`)).body).toMatchObject({ id: gc.id, status: 'succeeded', principal: 'alice' });
    expect((await as.alice.json('/v1/gc/gc-00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await as.alice.json('/v1/gc/x%00y')).status).toBe(400);
    expect((await as.nobody.json(`/v1/gc/${gc.id}`)).status).toBe(401);
    // `cmbn models gc --remote` starts the job, shows its status on stderr and prints its result.
    const cli = await runCli(['models', 'gc', '--dry-run', '--grace', '0', '--json', '--remote', t.coordinator.url, '--token', TOKENS.bob]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ dryRun: true, deleted: [], store: store.url });
    expect(cli.stderr).toMatch(/^gc: sweep gc-[0-9a-f-]{36} succeeded$/m);
    expect((await as.alice.json('/v1/gc', { method: 'POST', headers: json, body: JSON.stringify({ graceSeconds: -1 }) })).status).toBe(400);
  });

  it('an alias move that reaches the models routes without an authenticated principal is refused, not recorded as someone', async () => {
    await publish('unauthed', 1, {}, 0.5);
    const bare = express();
    // No auth middleware: no res.locals.principal. (The alias routes never reach the sweeps.)
    bare.use('/v1', modelsRouter({ store, gc: {} as GcService }));
    bare.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      const { status, body } = toErrorResponse(err);
      res.status(status).json(body);
    });
    const server = bare.listen(0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/models/unauthed/aliases/prod`;
      const res = await fetch(url, { method: 'PUT', headers: json, body: JSON.stringify({ version: 1 }) });
      expect(res.status).toBe(500);
      // Never moved: no alias and no history (before, it was moved and recorded as `default`).
      await expect(aliasHistory('unauthed', 'prod')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("the pending reconciler's producing job comes from the distill idempotency key only, never from runId alone", () => {
    expect(producerJobId({ idempotencyKey: runIdempotencyKey('run-a') })).toBe(distillJobId('run-a'));
    // A version that names a run (a local publish of its student) but was not registered by its distill job.
    const local = { idempotencyKey: null, runId: 'run-a' };
    expect(producerJobId(local)).toBeUndefined();
    const other = { idempotencyKey: 'cli:abc', runId: 'run-a' };
    expect(producerJobId(other)).toBeUndefined();
  });

  it('every answer in this file validated against GET /openapi.json', () => {
    expect(contract.issues).toEqual([]);
    expect(contract.checked).toBeGreaterThan(20);
  });
});
