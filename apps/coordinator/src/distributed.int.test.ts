import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, loadDataset } from '@cmbn/data';
import { layerShape, parseParams, planLayerShards, trainMbn } from '@cmbn/mbn';
import { clusteringMetrics, type ClusteringMetrics } from '@cmbn/metrics';
import { stop, submit, upload, useTestCoordinator, waitForRun } from './test-helpers.ts';

const PARAMS = { V: 12, clusters: 10, seed: 7 };
const t = useTestCoordinator({ maxUploadBytes: 10_000_000 });
let localHash: string;
let localMetrics: ClusteringMetrics;
let datasetId: string;
let labelsId: string;

beforeAll(async () => {
  const ds = await loadDataset('mnist-train', { limit: 500 });
  const local = await trainMbn(ds.x, PARAMS, { threads: 1 });
  localHash = local.modelHash;
  localMetrics = clusteringMetrics(ds.labels!, local.labels);
  const up = await upload(t.a, encodeNpy(ds.x), 'name=mnist500');
  expect(up.status).toBe(201);
  datasetId = up.body.id;
  const lab = await upload(t.a, encodeNpy({ rows: 500, cols: 1, dtype: 'int32', data: ds.labels! }), `name=labels&labelsFor=${datasetId}`);
  expect(lab.status).toBe(201);
  labelsId = lab.body.id;
});

describe('distributed training', () => {
  it('gives the local modelHash with 1 worker, and serves the model bytes', async () => {
    const w = await t.spawnWorker();
    try {
      const sub = await submit(t.a, { datasetId, labelsId, params: PARAMS });
      expect(sub.status).toBe(201);
      const run = await waitForRun(t.a, sub.body.id, 60_000);
      expect(run.error).toBeNull();
      expect(run.status).toBe('SUCCEEDED');
      expect(run.modelHash).toBe(localHash);
      expect(run.metrics).toEqual(localMetrics);
      // No shardSize asked: every layer is cut by the cost-based plan, and reports its wall time.
      expect(run.shardSize).toBeNull();
      const keep = parseParams(PARAMS).a;
      const planned = (run.ks as number[]).map((k, i) => planLayerShards(PARAMS.V, layerShape(i + 1, 500, 784, PARAMS.V), k, keep).length);
      expect(run.layers.map((l: { shardsTotal: number }) => l.shardsTotal)).toEqual(planned);
      for (const l of run.layers as { shardsDone: number; shardsTotal: number; seconds: number }[]) {
        expect(l.shardsDone).toBe(l.shardsTotal);
        expect(l.seconds).toBeGreaterThan(0);
      }
      const model = await t.a(`/v1/runs/${run.id}/model`);
      expect(model.status).toBe(200);
      const bytes = new Uint8Array(await model.arrayBuffer());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(localHash);
    } finally {
      expect(await stop(w)).toBe(0); // graceful SIGTERM
      if (process.env.CMBN_TEST_CHILD_LOG) console.log(w.output());
    }
  });

  it('gives the same modelHash with 3 workers', async () => {
    const workers = await Promise.all([0, 1, 2].map(() => t.spawnWorker()));
    try {
      const sub = await submit(t.a, { datasetId, params: PARAMS, shardSize: 1 });
      const run = await waitForRun(t.a, sub.body.id, 60_000);
      expect(run.error).toBeNull();
      expect(run.modelHash).toBe(localHash);
      expect(run.shardSize).toBe(1);
      expect(run.layers.every((l: { shardsTotal: number }) => l.shardsTotal === PARAMS.V)).toBe(true);
      const metrics = await (await t.a('/metrics')).text();
      expect(metrics).toMatch(/cmbn_workers\{queue="shard"\} 3/);
      expect(metrics).toMatch(/cmbn_shards_completed_total \d+/);
    } finally {
      await Promise.all(workers.map((w) => stop(w)));
    }
  });
});
