/**
 * Per-run memory of the orchestrator is released when a run ends (succeeded, failed, cancelled):
 * several small runs leave the state machine's maps empty, and the heap does not grow with them.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, loadDataset, sliceRows } from '@cmbn/data';
import { listShards } from '@cmbn/registry';
import { stop, submit, until, upload, useTestCoordinator, waitForRun } from './test-helpers.ts';

const PARAMS = { V: 4, k: [20, 10], clusters: 5, seed: 2 };
const EMPTY = { fixed: 0, overhead: 0, lastShardAt: 0, locks: 0, blocks: 0 };
const t = useTestCoordinator({ maxUploadBytes: 10_000_000 });
beforeAll(async () => {
  await t.spawnWorker();
}, 120_000);

describe('per-run state', () => {
  // Release follows the run's last event; the outer bound is generous for a loaded machine (what is
  // tested is that it happens, and that late events do not undo it, not how fast).
  const RELEASE_WAIT_MS = 30_000;
  it('is released when runs succeed, fail or are cancelled', async () => {
    const o = t.coordinator.orchestrator;
    const ds = await loadDataset('mnist-train', { limit: 200 });
    const up = await upload(t.a, encodeNpy(ds.x), 'name=mnist200');
    const heaps: number[] = [];
    for (let i = 0; i < 4; i++) {
      const sub = await submit(t.a, { datasetId: up.body.id, params: { ...PARAMS, seed: i } });
      expect(sub.status).toBe(201);
      expect(o.stateSize().fixed).toBeGreaterThanOrEqual(1); // held while the run is active
      const run = await waitForRun(t.a, sub.body.id, 60_000);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.summary.coordinatorSeconds).toBeGreaterThanOrEqual(0);
      // The layer job's lock is released right after the run's last step.
      await until('per-run state released', async () => JSON.stringify(o.stateSize()) === JSON.stringify(EMPTY), RELEASE_WAIT_MS, 20);
      heaps.push(process.memoryUsage().heapUsed);
    }
    // Loose: the maps are the real check; the heap must not grow by anything like a run's data per run.
    expect(heaps[heaps.length - 1]! - heaps[0]!).toBeLessThan(64 * 1024 * 1024);

    // A failed run (corrupt input) and a cancelled one.
    const x = sliceRows(ds.x, 150);
    const bad = await upload(t.a, encodeNpy(x), 'name=mnist150');
    const sha: string = bad.body.sha256;
    const path = join(t.artifacts.dir, 'sha256', sha.slice(0, 2), sha.slice(2));
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(path, bytes);
    const failed = await submit(t.a, { datasetId: bad.body.id, params: PARAMS });
    expect((await waitForRun(t.a, failed.body.id, 60_000)).status).toBe('FAILED');
    await until('state released after a failure', async () => JSON.stringify(o.stateSize()) === JSON.stringify(EMPTY), RELEASE_WAIT_MS, 20);

    await stop(t.workers[0]!); // the fast worker: only the slow one may take the cancelled run's shards
    await t.spawnWorker({ testDelayMs: 5_000 });
    const cancelled = await submit(t.a, { datasetId: up.body.id, params: PARAMS });
    await until('a shard running', async () => (await listShards(cancelled.body.id, 1, { status: 'RUNNING' }))[0], 20_000, 25);
    expect((await t.a.json(`/v1/runs/${cancelled.body.id}/cancel`, { method: 'POST' })).body.status).toBe('CANCELLED');
    // Late events of the cancelled run (its aborted shard) must not bring it back.
    await until('state released after a cancel', async () => JSON.stringify(o.stateSize()) === JSON.stringify(EMPTY), RELEASE_WAIT_MS, 20);
    await t.coordinator.orchestrator.reconcileAll();
    expect(o.stateSize()).toEqual(EMPTY);
  }, 240_000);
});
