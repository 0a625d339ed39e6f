/**
 * Infrastructure outages mid-layer: the run's private Postgres stopped with `-m immediate` for
 * longer than BullMQ's retry backoff, and its private Redis SIGKILLed and restarted from its AOF,
 * while shards are running. Each run must still SUCCEED with the in-process trainer's modelHash,
 * and every layer row must end with all its shards counted (none left at 16/24).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, loadDataset, type Matrix } from '@cmbn/data';
import { queueName } from '@cmbn/jobs';
import { trainMbn } from '@cmbn/mbn';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from './private-services.ts';
import { api, spawnCoordinator, spawnWorker, stop, submit, tempArtifacts, uniquePrefix, until, upload, waitForRun, type Api, type Child } from './test-helpers.ts';

const PARAMS = { V: 24, k: [100, 50], clusters: 10, seed: 21 };
/** Longer than the layer job's 2 s + 4 s backoff: without in-step retries the run would fail. */
const OUTAGE_MS = 15_000;

let pg: PrivatePostgres;
let redis: PrivateRedis;
let db: TestDatabase;
let artifacts: Awaited<ReturnType<typeof tempArtifacts>>;
let coordinator: Child & { url: string };
let a: Api;
let x: Matrix;
let localHash: string;
let datasetId: string;
const prefix = uniquePrefix();
const children: Child[] = [];

beforeAll(async () => {
  [pg, redis, artifacts] = await Promise.all([startPrivatePostgres(), startPrivateRedis(), tempArtifacts()]);
  db = await createTestDatabase({ adminUrl: pg.adminUrl });
  x = (await loadDataset('mnist-train', { limit: 2000 })).x;
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    CMBN_ARTIFACTS: artifacts.url,
    CMBN_QUEUE_PREFIX: prefix,
    CMBN_RECONCILE_INTERVAL_MS: '1000',
    CMBN_LOCK_DURATION_MS: '10000',
    CMBN_STALLED_INTERVAL_MS: '2000',
    CMBN_INFRA_RETRY_MS: '120000',
    LOG_LEVEL: 'warn',
  };
  const worker = () =>
    spawnWorker({ prefix, artifacts: artifacts.url, databaseUrl: db.url, testDelayMs: 300, lockDurationMs: 5_000, stalledIntervalMs: 1_000, env: { REDIS_URL: redis.url } });
  const [local, c, w1, w2] = await Promise.all([trainMbn(x, PARAMS, { threads: 1 }), spawnCoordinator(env), worker(), worker()]);
  localHash = local.modelHash;
  coordinator = c;
  children.push(c, w1, w2);
  a = api(c.url);
  const up = await upload(a, encodeNpy(x), 'name=mnist2000');
  expect(up.status).toBe(201);
  datasetId = up.body.id;
}, 180_000);

afterAll(async () => {
  await Promise.all(children.map((c) => stop(c, 'SIGKILL')));
  await db?.drop().catch(() => {});
  await Promise.all([pg?.remove(), redis?.remove(), artifacts?.remove()]);
});

async function completedShards(): Promise<number> {
  const q = new Queue(queueName('shard'), { connection: { url: redis.url, maxRetriesPerRequest: 1 } as never, prefix });
  q.on('error', () => {});
  try {
    return (await q.getJobCounts('completed')).completed ?? 0;
  } finally {
    await q.close();
  }
}

async function startRun(): Promise<string> {
  const sub = await submit(a, { datasetId, params: PARAMS, shardSize: 1 });
  expect(sub.status).toBe(201);
  const runId: string = sub.body.id;
  // Mid-layer: some shards of layer 1 done, most still to run.
  await until('4 shards of layer 1 done', async () => ((await a.json(`/v1/runs/${runId}`)).body.layers[0]?.shardsDone ?? 0) >= 4, 60_000, 50);
  return runId;
}

async function expectSucceeded(runId: string): Promise<void> {
  const run = await waitForRun(a, runId, 240_000);
  expect(run.error).toBeNull();
  expect(run.status).toBe('SUCCEEDED');
  expect(run.modelHash).toBe(localHash);
  expect(run.layers.map((l: { shardsDone: number; shardsTotal: number }) => [l.shardsDone, l.shardsTotal])).toEqual([
    [24, 24],
    [24, 24],
  ]);
  expect(coordinator.output()).not.toMatch(/Unhandled error event/);
  for (const c of children) expect(c.output()).not.toMatch(/Unhandled error event/);
}

describe('infrastructure outages mid-layer', () => {
  it('survives Postgres stopped (-m immediate) for longer than the retry backoff', async () => {
    const runId = await startRun();
    const before = await completedShards();
    const t0 = Date.now();
    await pg.stopImmediate();
    // Work goes on while the database is away: these completions reach Postgres only after it returns.
    await until('shards completing with Postgres down', async () => (await completedShards()) >= before + 3, 60_000, 100);
    // The outage itself (fault injection, not an assertion): at least OUTAGE_MS in all.
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - t0)));
    await pg.start();
    await expectSucceeded(runId);
    expect(coordinator.output()).toMatch(/infrastructure unavailable, retrying/);
  }, 300_000);

  it('survives Redis SIGKILLed and restarted from its append-only file', async () => {
    const runId = await startRun();
    await redis.kill();
    await sleep(5_000); // the outage (fault injection)
    await redis.start();
    await expectSucceeded(runId);
  }, 300_000);
});
