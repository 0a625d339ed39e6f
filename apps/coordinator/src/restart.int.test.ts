import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, loadDataset } from '@cmbn/data';
import { queueName } from '@cmbn/jobs';
import { trainMbn } from '@cmbn/mbn';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import {
  REDIS_URL,
  api,
  dropPrefix,
  spawnCoordinator,
  spawnWorker,
  stop,
  submit,
  tempArtifacts,
  until,
  uniquePrefix,
  upload,
  waitForRun,
  type Child,
} from './test-helpers.ts';

const PARAMS = { V: 12, k: [80, 40], clusters: 10, seed: 5 };
let db: TestDatabase;
let artifacts: Awaited<ReturnType<typeof tempArtifacts>>;
const prefix = uniquePrefix();
const children: Child[] = [];

beforeAll(async () => {
  [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
});

afterAll(async () => {
  await Promise.all(children.map((c) => stop(c, 'SIGKILL')));
  await db?.drop();
  await artifacts?.remove();
  await dropPrefix(prefix);
});

describe('coordinator restart', () => {
  it('resumes a run after the coordinator is SIGKILLed mid-run, with the same modelHash', async () => {
    const env = {
      DATABASE_URL: db.url,
      CMBN_ARTIFACTS: artifacts.url,
      CMBN_QUEUE_PREFIX: prefix,
      CMBN_RECONCILE_INTERVAL_MS: '500',
      CMBN_LOCK_DURATION_MS: '3000',
      CMBN_STALLED_INTERVAL_MS: '1000',
      LOG_LEVEL: 'warn',
    };
    const ds = await loadDataset('mnist-train', { limit: 400 });
    // The worker waits 250 ms per shard so that the run is still going when the coordinator dies.
    const [local, first, worker] = await Promise.all([
      trainMbn(ds.x, PARAMS, { threads: 1 }),
      spawnCoordinator(env),
      spawnWorker({ prefix, artifacts: artifacts.url, testDelayMs: 250 }),
    ]);
    children.push(first, worker);
    let base = first.url;
    const a = api(() => base);
    const up = await upload(a, encodeNpy(ds.x), 'name=mnist400');
    expect(up.status).toBe(201);
    // One clustering per shard: the restarted coordinator must plan layer 2 from the run's stored
    // shardSize (12 shards), not from the cost-based default (8 here).
    const sub = await submit(a, { datasetId: up.body.id, params: PARAMS, shardSize: 1 });
    expect(sub.status).toBe(201);
    const runId: string = sub.body.id;
    await until('3 shards of layer 1 done', async () => (await a.json(`/v1/runs/${runId}`)).body.layers[0].shardsDone >= 3, 30_000);

    first.proc.kill('SIGKILL');
    await first.exited;
    // The worker goes on while no coordinator listens: these completions are only in Redis.
    const shards = new Queue(queueName('shard'), { connection: { url: REDIS_URL } as never, prefix });
    try {
      const before = (await shards.getJobCounts('completed')).completed ?? 0;
      await until('more shards completed with the coordinator down', async () => ((await shards.getJobCounts('completed')).completed ?? 0) >= before + 2, 30_000);
    } finally {
      await shards.close();
    }

    const second = await spawnCoordinator(env);
    children.push(second);
    base = second.url;
    const run = await waitForRun(a, runId, 60_000);
    expect(run.error).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.modelHash).toBe(local.modelHash);
    expect(run.shardSize).toBe(1);
    expect(run.layers.map((l: { shardsDone: number; shardsTotal: number }) => [l.shardsDone, l.shardsTotal])).toEqual([
      [12, 12],
      [12, 12],
    ]);
    expect(await stop(second)).toBe(0);
  });
});
