import { describe, expect, it } from 'vitest';
import {
  RegistryError,
  createLayer,
  createRun,
  getDb,
  getDataset,
  getRun,
  getRunProgress,
  listUnfinishedRuns,
  markShardDone,
  markShardFailed,
  markShardQueued,
  markShardRunning,
  registerDataset,
  setLayerStatus,
  setRunStatus,
} from './index.ts';
import { useTestDatabase } from './test-helpers.ts';

useTestDatabase();

const SHA = (c: string): string => c.repeat(64);

async function newRun(): Promise<string> {
  const ds = await registerDataset({ sha256: SHA('f'), name: 'mnist', format: 'idx', rows: 70_000, cols: 784, dtype: 'uint8', bytes: 54_880_000 });
  const run = await createRun({ datasetId: ds.id, params: { V: 4 }, ks: [8, 4], seed: 1 });
  return run.id;
}

describe('datasets', () => {
  it('registration is idempotent by sha256 and bytes come back as a number', async () => {
    const a = await registerDataset({ sha256: SHA('1'), name: 'x', format: 'npy', rows: 2, cols: 3, dtype: 'float32', bytes: 24n });
    const [b, c] = await Promise.all([
      registerDataset({ sha256: SHA('1'), name: 'renamed', format: 'npy', rows: 2, cols: 3, dtype: 'float32', bytes: 24 }),
      registerDataset({ sha256: SHA('1'), name: 'renamed', format: 'npy', rows: 2, cols: 3, dtype: 'float32', bytes: 24 }),
    ]);
    expect(b!.id).toBe(a.id);
    expect(c!.id).toBe(a.id);
    expect(b!.name).toBe('x');
    expect((await getDataset(SHA('1'))).bytes).toBe(24);
    expect((await getDataset(a.id)).sha256).toBe(SHA('1'));
  });
});

describe('runs, layers and shards', () => {
  it('shard DONE is idempotent: only the first counts, also under concurrency', async () => {
    const runId = await newRun();
    await setRunStatus(runId, 'RUNNING');
    const shards = [
      { v0: 0, v1: 2 },
      { v0: 2, v1: 4 },
      { v0: 4, v1: 6 },
    ];
    await createLayer({ runId, layer: 1, k: 8, inputSha256: SHA('f'), shards });
    // Creating it again (a restarted coordinator) is harmless.
    await createLayer({ runId, layer: 1, k: 8, inputSha256: SHA('f'), shards });
    await expect(createLayer({ runId, layer: 1, k: 9, inputSha256: SHA('f'), shards })).rejects.toBeInstanceOf(RegistryError);

    await markShardQueued(runId, 1, 0);
    const running = await markShardRunning(runId, 1, 0, 'w1');
    expect(running?.attempts).toBe(1);

    const results = await Promise.all(Array.from({ length: 6 }, () => markShardDone(runId, 1, 0, { outputSha256: SHA('0'), seconds: 1.5, workerId: 'w1' })));
    expect(results.filter((r) => r.first)).toHaveLength(1);
    expect(Math.max(...results.map((r) => r.shardsDone))).toBe(1);

    // A DONE shard ignores a late running/failed report; a different output is a determinism bug.
    expect(await markShardRunning(runId, 1, 0, 'w2')).toBeNull();
    expect((await markShardFailed(runId, 1, 0, 'late')).status).toBe('DONE');
    await expect(markShardDone(runId, 1, 0, { outputSha256: SHA('9') })).rejects.toMatchObject({ code: 'CONFLICT' });

    await markShardFailed(runId, 1, 1, 'boom');
    await markShardRunning(runId, 1, 1, 'w2');
    await markShardDone(runId, 1, 1, { outputSha256: SHA('1') });
    const last = await markShardDone(runId, 1, 2, { outputSha256: SHA('2') });
    expect(last).toMatchObject({ first: true, shardsDone: 3, shardsTotal: 3, layerComplete: true });

    const progress = await getRunProgress(runId);
    expect(progress.layers[0]).toMatchObject({ layer: 1, status: 'RUNNING', shardsDone: 3, shards: { DONE: 3, FAILED: 0 } });
    expect(progress.layers[0]!.startedAt).toBeInstanceOf(Date);
    expect((await getDb().shard.findUniqueOrThrow({ where: { runId_layer_index: { runId, layer: 1, index: 1 } } })).attempts).toBe(1);

    await setLayerStatus(runId, 1, 'DONE', SHA('c'));
    expect((await getRunProgress(runId)).layers[0]).toMatchObject({ status: 'DONE', outputSha256: SHA('c') });
  });

  it('run status: timestamps, unfinished listing, terminal is final', async () => {
    const a = await newRun();
    const b = await newRun();
    const r = await setRunStatus(a, 'RUNNING', { currentLayer: 1 });
    expect(r.startedAt).toBeInstanceOf(Date);
    expect((await listUnfinishedRuns()).map((x) => x.id)).toEqual(expect.arrayContaining([a, b]));

    const done = await setRunStatus(a, 'SUCCEEDED', { modelHash: SHA('m'), metrics: { acc: 0.9 }, mbnSeconds: 12.5 });
    expect(done.finishedAt).toBeInstanceOf(Date);
    expect(done.metrics).toEqual({ acc: 0.9 });
    expect((await listUnfinishedRuns()).map((x) => x.id)).not.toContain(a);
    await expect(setRunStatus(a, 'RUNNING')).rejects.toMatchObject({ code: 'CONFLICT' });
    await setRunStatus(b, 'CANCELLED', { error: 'user' });
    expect((await getRun(b)).status).toBe('CANCELLED');
    await expect(getRun('00000000-0000-0000-0000-000000000000')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
