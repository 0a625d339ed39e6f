import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { markShardDone, markShardRunning } from '@cmbn/registry';
import { contractCheckedApi } from '@cmbn/api';
import { api, storedObjects, submit, upload, useTestCoordinator, type Api } from './test-helpers.ts';

const TOKEN = 'test-token-123';
const MAX = 20_000;
const logLines: string[] = [];
/** Every answer of the API in this file, checked against GET /openapi.json (asserted at the end). */
const contract = { issues: [] as string[], checked: 0 };
const t = useTestCoordinator({
  apiToken: TOKEN,
  maxUploadBytes: MAX,
  reconcileIntervalMs: 60_000,
  logger: pino({ level: 'debug', redact: { paths: ['req.headers.authorization', 'token'], censor: '[redacted]' } }, { write: (s: string) => logLines.push(s) }),
});
let a: Api;

/** 40 points of 3 columns in two well-separated groups, as CSV with a header. */
const CSV = `x,y,z\n${Array.from({ length: 40 }, (_, i) => [i % 2 ? 100 + i : i, i % 7, (i * 3) % 5].join(',')).join('\n')}\n`;

beforeAll(async () => {
  a = await contractCheckedApi(api(t.coordinator.url, TOKEN), contract);
});

describe('API', () => {
  let datasetId: string;
  let sha: string;

  it('requires the token on /v1 but not on /healthz and /metrics', async () => {
    const anon = api(t.coordinator.url);
    const r = await anon.json('/v1/runs/x');
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('UNAUTHORIZED');
    expect((await api(t.coordinator.url, 'wrong').json('/v1/runs/x')).status).toBe(401);
    expect((await anon.json('/healthz')).body).toEqual({ status: 'ok', redis: 'ok', db: 'ok', store: 'ok' });
    expect((await anon('/metrics')).status).toBe(200);
    expect(logLines.join('')).not.toContain(TOKEN);
  });

  it('stores a valid upload once: the same bytes give the same dataset', async () => {
    const bytes = new TextEncoder().encode(CSV);
    const first = await upload(a, bytes, 'name=blobs');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ rows: 40, cols: 3, format: 'csv', dtype: 'float32' });
    datasetId = first.body.id;
    sha = first.body.sha256;
    const again = await upload(a, bytes, 'name=other-name');
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(datasetId);
    expect(await storedObjects(t.artifacts.dir)).toEqual([sha]);
  });

  it('rejects bad uploads with a 4xx naming the problem and stores nothing', async () => {
    const nan = await upload(a, new TextEncoder().encode('1,2\n3,nan\n'), 'name=nan.csv');
    expect(nan.status).toBe(400);
    expect(nan.body.error.code).toBe('BAD_DATA');
    expect(nan.body.error.message).toMatch(/nan\.csv.*row 2/i);
    const ragged = await upload(a, new TextEncoder().encode('1,2,3\n4,5\n'), 'name=ragged.csv');
    expect(ragged.status).toBe(400);
    expect(ragged.body.error.message).toMatch(/ragged\.csv.*(column|field)/i);
    const big = await upload(a, new Uint8Array(MAX + 1).fill(49), 'name=big');
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const typed = await a.json('/v1/datasets', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: CSV });
    expect(typed.status).toBe(415);
    const labels = await upload(a, new TextEncoder().encode('1\n2\n'), `name=l&labelsFor=${datasetId}`);
    expect(labels.status).toBe(400);
    expect(labels.body.error.message).toMatch(/2 labels but dataset .* has 40 rows/);
    // The earlier dataset is untouched and nothing else was written.
    expect(await storedObjects(t.artifacts.dir)).toEqual([sha]);
    expect(await readdir(join(t.artifacts.dir, 'tmp')).catch(() => [])).toEqual([]);
    expect((await a.json(`/v1/datasets/${datasetId}`)).body).toMatchObject({ id: datasetId, rows: 40 });
  });

  it('rejects params that cannot work with a 400, an unknown dataset with a 404', async () => {
    const cases: [unknown, RegExp][] = [
      [{ k1: 41 }, /only 40 points/],
      [{ V: 0 }, /V/],
      [{ a: 0 }, /a:/],
      [{ a: 1.5 }, /a:/],
      [{ nope: 1 }, /nope|Unrecognized/i],
    ];
    for (const [params, msg] of cases) {
      const r = await submit(a, { datasetId, params });
      expect(r.status, JSON.stringify(params)).toBe(400);
      expect(r.body.error.message).toMatch(msg);
    }
    const unknown = await submit(a, { datasetId: '00000000-0000-0000-0000-000000000000', params: {} });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    expect((await submit(a, { params: {} })).status).toBe(400);
    const malformed = await a.json('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(malformed.status).toBe(400);
  });

  it('cancels a run: its queued shards are removed and the event stream ends', async () => {
    const sub = await submit(a, { datasetId, params: { V: 6, k1: 8, clusters: 2 }, shardSize: 2 });
    expect(sub.status).toBe(201);
    const id: string = sub.body.id;
    const running = await a.json(`/v1/runs/${id}`);
    expect(running.body).toMatchObject({ status: 'RUNNING', currentLayer: 1, layers: [{ layer: 1, shardsDone: 0, shardsTotal: 3 }] });
    expect((await a.json(`/v1/runs/${id}/model`)).status).toBe(409);
    const cancel = await a.json(`/v1/runs/${id}/cancel`, { method: 'POST' });
    expect(cancel.body.status).toBe('CANCELLED');
    expect((await a.json(`/v1/runs/${id}/cancel`, { method: 'POST' })).status).toBe(409);
    const metrics = await (await a('/metrics')).text();
    expect(metrics).toMatch(/cmbn_queue_jobs\{queue="shard",state="waiting"\} 0/);
    const events = await (await a(`/v1/runs/${id}/events`)).text();
    expect(events).toMatch(/event: status\ndata: \{"type":"status","status":"CANCELLED"/);
  });

  it('gives a running run an ETA once a shard of its current layer has finished', async () => {
    const sub = await submit(a, { datasetId, params: { V: 6, k1: 8, clusters: 2 }, shardSize: 2 });
    const id: string = sub.body.id;
    // No shard has finished, so there is no rate to extrapolate yet.
    expect((await a.json(`/v1/runs/${id}`)).body).toMatchObject({ status: 'RUNNING', etaSeconds: null });
    // Recorded in the registry as a worker's shard would be (no worker runs in this file; its job stays queued,
    // so this is the last test here).
    await markShardRunning(id, 1, 0, 'test-worker');
    await markShardDone(id, 1, 0, { outputSha256: 'a'.repeat(64) });
    const oneDone = await a.json(`/v1/runs/${id}`);
    expect(oneDone.body.layers[0]).toMatchObject({ shardsDone: 1, shardsTotal: 3 });
    expect(oneDone.body.etaSeconds).toBeGreaterThan(0);
    expect((await a.json(`/v1/runs/${id}/cancel`, { method: 'POST' })).body.status).toBe('CANCELLED');
    expect((await a.json(`/v1/runs/${id}`)).body.etaSeconds).toBeNull();
  });
});

describe('the contract', () => {
  it('every answer in this file validated against GET /openapi.json', () => {
    expect(contract.issues).toEqual([]);
    expect(contract.checked).toBeGreaterThan(20);
  });
});
