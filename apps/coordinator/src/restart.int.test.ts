import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { encodeNpy } from '@cmbn/data';
import { queueName } from '@cmbn/jobs';
import { REDIS_URL, api, spawnCoordinator, stop, submit, until, upload, useRestartTest, waitForRun } from './test-helpers.ts';

const PARAMS = { V: 12, k: [80, 40], clusters: 10, seed: 5 };
const t = useRestartTest();

describe('coordinator restart', () => {
  it('resumes a run after the coordinator is SIGKILLed mid-run, with the same modelHash', async () => {
    const { env, ds, local, first } = await t.startSlowRun(PARAMS);
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
    const shards = new Queue(queueName('shard'), { connection: { url: REDIS_URL } as never, prefix: t.prefix });
    try {
      const before = (await shards.getJobCounts('completed')).completed ?? 0;
      await until('more shards completed with the coordinator down', async () => ((await shards.getJobCounts('completed')).completed ?? 0) >= before + 2, 30_000);
    } finally {
      await shards.close();
    }

    const second = await spawnCoordinator(env);
    t.children.push(second);
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
