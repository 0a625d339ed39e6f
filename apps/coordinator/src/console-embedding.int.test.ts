/**
 * Every finished run stores MBN's embedding and labels, and the console's routes serve them: the
 * runs list, the projector's JSON (confusion matrix against the true labels) and its binary points,
 * checked against the in-process trainer on the same data (real coordinator, worker, Redis, Postgres),
 * and every JSON answer against the contract both ways: @cmbn/api's zod schema (what the console
 * parses with) and the served OpenAPI document's JSON schema (what other clients read).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ZRunEmbedding, ZRunList, ZRunView, buildOpenApiDocument, documentValidator } from '@cmbn/api';
import { encodeNpy, loadDataset } from '@cmbn/data';
import { trainMbn, type TrainResult } from '@cmbn/mbn';
import { clusteringMetrics } from '@cmbn/metrics';
import { confusionMatrix, project2d, projectRun } from './console-projection.ts';
import { stop, submit, upload, useTestCoordinator, waitForRun } from './test-helpers.ts';

const N = 400;
const PARAMS = { V: 8, clusters: 10, seed: 3 };
const t = useTestCoordinator({ maxUploadBytes: 10_000_000 });
let local: TrainResult;
let truth: Int32Array;
let datasetId: string;
let labelsId: string;
const contract = documentValidator(buildOpenApiDocument());

/** A JSON answer, checked against the zod schema and the OpenAPI document. */
async function checked(path: string, schema: { safeParse(v: unknown): { success: boolean; error?: unknown } }) {
  const res = await t.a(path);
  const body: unknown = await res.json();
  expect(res.status, path).toBe(200);
  expect(contract.check('GET', path.split('?')[0]!, res.status, res.headers.get('content-type'), body), path).toEqual([]);
  const z = schema.safeParse(body);
  expect(z.success, `${path}: ${String(z.error)}`).toBe(true);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return body as any;
}

beforeAll(async () => {
  const ds = await loadDataset('mnist-train', { limit: N });
  truth = ds.labels!;
  local = await trainMbn(ds.x, PARAMS, { threads: 1 });
  datasetId = (await upload(t.a, encodeNpy(ds.x), 'name=mnist400')).body.id;
  labelsId = (await upload(t.a, encodeNpy({ rows: N, cols: 1, dtype: 'int32', data: truth }), `name=labels400&labelsFor=${datasetId}`)).body.id;
});

describe('console data routes', () => {
  let runId: string;
  let unlabelled: string;

  it('a run without distillation stores its embedding and labels', async () => {
    const w = await t.spawnWorker();
    try {
      runId = (await submit(t.a, { datasetId, labelsId, params: PARAMS })).body.id;
      unlabelled = (await submit(t.a, { datasetId, params: PARAMS })).body.id;
      const run = await waitForRun(t.a, runId, 90_000);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.modelHash).toBe(local.modelHash);
      expect(run.summary.mbnOutput).toMatchObject({ rows: N, c: local.model.pca.c });
      await checked(`/v1/runs/${runId}`, ZRunView);
      expect((await waitForRun(t.a, unlabelled, 90_000)).status).toBe('SUCCEEDED');
    } finally {
      await stop(w);
    }
  });

  it('lists runs newest first with status, params, duration and metrics', async () => {
    const r = { body: await checked('/v1/runs', ZRunList) };
    expect(r.body.runs.map((x: { id: string }) => x.id)).toEqual([unlabelled, runId]);
    const row = r.body.runs[1];
    expect(row).toMatchObject({ status: 'SUCCEEDED', params: PARAMS, distill: false, labelsId, modelHash: local.modelHash });
    expect(row.durationSeconds).toBeGreaterThan(0);
    // (jsonb in Postgres keeps about 15 significant digits)
    for (const [k, v] of Object.entries(clusteringMetrics(truth, local.labels))) expect(row.metrics[k], k).toBeCloseTo(v, 12);
    expect((await t.a.json('/v1/runs?status=FAILED')).body.runs).toEqual([]);
    expect((await t.a.json('/v1/runs?limit=1')).body.runs).toHaveLength(1);
    for (const q of ['limit=0', 'limit=x', 'status=DONE', 'other=1']) expect((await t.a.json(`/v1/runs?${q}`)).status, q).toBe(400);
  });

  it('serves the projection and the confusion matrix, equal to the local trainer\'s', async () => {
    const r = { body: await checked(`/v1/runs/${runId}/embedding`, ZRunEmbedding) };
    const want = project2d(local.embedding, N, local.model.pca.c);
    // The bounds are the projected points' own min and max (computed on the projection thread).
    const range = (v: Float32Array) => [Math.min(...v), Math.max(...v)];
    expect(r.body.projection.bounds).toEqual({ x: range(want.x), y: range(want.y) });
    expect(r.body).toMatchObject({ runId, n: N, c: local.model.pca.c, hasTruth: true });
    expect(r.body.projection.explained[0]).toBeCloseTo(want.explained[0], 12);
    expect(r.body.confusion).toEqual(confusionMatrix(truth, local.labels));
    // The diagonal holds the Hungarian match: its trace over n is the run's ACC.
    const trace = r.body.confusion.counts.reduce((s: number, row: number[], i: number) => s + row[i]!, 0);
    expect(trace / N).toBeCloseTo(r.body.metrics.acc, 12);
    expect(r.body.clusterSizes.reduce((s: number, c: { count: number }) => s + c.count, 0)).toBe(N);

    const bin = await t.a(`/v1/runs/${runId}/embedding/points`);
    expect(bin.status).toBe(200);
    expect(bin.headers.get('x-points')).toBe(String(N));
    const buf = new Uint8Array(await bin.arrayBuffer());
    expect(buf.byteLength).toBe(N * 16);
    const x = new Float32Array(buf.buffer, 0, N);
    const y = new Float32Array(buf.buffer, 4 * N, N);
    const clusters = new Int32Array(buf.buffer, 8 * N, N);
    const truthColumn = new Int32Array(buf.buffer, 12 * N, N);
    expect(Array.from(x)).toEqual(Array.from(want.x));
    expect(Array.from(y)).toEqual(Array.from(want.y));
    expect(Array.from(clusters)).toEqual(Array.from(local.labels));
    expect(Array.from(truthColumn)).toEqual(Array.from(truth));
  });

  it('a run without labels has no confusion matrix and no truth column; concurrent first requests get the same answer', async () => {
    // Its projection was never asked for: these three arrive together, before any of it is cached.
    const [r, ...others] = await Promise.all([0, 1, 2].map(() => checked(`/v1/runs/${unlabelled}/embedding`, ZRunEmbedding)));
    for (const o of others) expect(o).toEqual(r);
    expect(r).toMatchObject({ hasTruth: false, confusion: null, metrics: null });
    const bin = await t.a(`/v1/runs/${unlabelled}/embedding/points`);
    expect(bin.headers.get('x-has-truth')).toBe('0');
    expect((await bin.arrayBuffer()).byteLength).toBe(N * 12);
  });

  it('a run that has not finished answers 409, an unknown run 404', async () => {
    const pending = (await submit(t.a, { datasetId, params: PARAMS })).body.id; // no worker is running
    const r = await t.a.json(`/v1/runs/${pending}/embedding`);
    expect(r.status).toBe(409);
    expect(r.body.error.message).toMatch(/has no stored embedding: it is (QUEUED|RUNNING)/);
    expect((await t.a.json('/v1/runs/00000000-0000-0000-0000-000000000000/embedding/points')).status).toBe(404);
  });
});

describe('the projection of an empty embedding', () => {
  it('has null bounds, not ±Infinity (which JSON would turn into nulls the contract refuses)', () => {
    const p = projectRun(new Float64Array(0), 0, 3, new Int32Array(0), null);
    expect(p).toMatchObject({ n: 0, bounds: null, explained: [0, 0], clusterSizes: [], confusion: null });
    const projection = ZRunEmbedding.shape.projection;
    expect(projection.safeParse(JSON.parse(JSON.stringify({ method: 'pca2', explained: p.explained, bounds: p.bounds }))).success).toBe(true);
    expect(projection.safeParse(JSON.parse(JSON.stringify({ method: 'pca2', explained: [0, 0], bounds: { x: [Infinity, -Infinity], y: [Infinity, -Infinity] } }))).success).toBe(false);
  });
});
