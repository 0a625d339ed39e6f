import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNpy, loadDataset, sliceRows } from '@cmbn/data';
import { trainMbn } from '@cmbn/mbn';
import { listShards } from '@cmbn/registry';
import { stop, submit, until, upload, useTestCoordinator, waitForRun } from './test-helpers.ts';

// Two layers keep these runs short; the modelHash equality with 5 layers is distributed.int.test.ts's.
const PARAMS = { V: 12, k: [80, 40], clusters: 10, seed: 11 };
// Short locks so that a dead worker's shard is retried within seconds.
const FAST_STALL = { lockDurationMs: 2_000, stalledIntervalMs: 500 };
const t = useTestCoordinator({ maxUploadBytes: 10_000_000 });
// Outer bounds only: each wait ends as soon as its state is reached (seconds on a quiet machine). They
// are generous because a fresh-clone CI run beside other jobs once took over 60 s to see a worker's
// first shard RUNNING (2026-12-04), and each test's own timeout is above the sum of its waits.
const LOADED_BOUND_MS = 150_000;
const TEST_TIMEOUT_MS = 480_000;

describe('failures', () => {
  it('retries the shard of a worker killed with SIGKILL mid-shard and keeps the modelHash', async () => {
    const ds = await loadDataset('mnist-train', { limit: 400 });
    // The victim starts alone, so the first shard is surely its own, and waits 10 minutes inside
    // each shard (longer than the rescuer's start may take, up to spawnWorker's 60 s, under any load),
    // so it is still mid-shard when killed. (With both started together under load, the rescuer
    // once took every layer-1 shard first; with a 30 s wait a slow start could outlast it.)
    const [local, up, victim] = await Promise.all([
      trainMbn(ds.x, PARAMS, { threads: 1 }),
      upload(t.a, encodeNpy(ds.x), 'name=mnist400'),
      t.spawnWorker({ testDelayMs: 600_000, ...FAST_STALL }),
    ]);
    const sub = await submit(t.a, { datasetId: up.body.id, params: PARAMS });
    expect(sub.status).toBe(201);
    const runId: string = sub.body.id;
    const tag = `:${victim.proc.pid}:`;
    const running = await until(
      'a shard running on the victim',
      async () => (await listShards(runId, 1, { status: 'RUNNING' })).find((s) => s.workerId?.includes(tag)),
      LOADED_BOUND_MS,
      25,
    );
    await t.spawnWorker({ ...FAST_STALL }); // the rescuer
    expect((await listShards(runId, 1)).find((s) => s.index === running.index)!.status).toBe('RUNNING');
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const run = await waitForRun(t.a, runId, LOADED_BOUND_MS);
    expect(run.error).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.modelHash).toBe(local.modelHash);
    const retried = (await listShards(runId, 1)).find((s) => s.index === running.index)!;
    expect(retried.status).toBe('DONE');
    // Computed again, by the other worker.
    expect(retried.workerId).not.toContain(tag);
  }, TEST_TIMEOUT_MS);

  it('fails the run with a clear error when an input artifact is corrupt (no hang)', async () => {
    const ds = await loadDataset('mnist-train', { limit: 300 });
    const x = sliceRows(ds.x, 300);
    const up = await upload(t.a, encodeNpy(x), 'name=mnist300');
    expect(up.status).toBe(201);
    const sha: string = up.body.sha256;
    const path = join(t.artifacts.dir, 'sha256', sha.slice(0, 2), sha.slice(2));
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // flip one pixel: the content no longer matches its address
    await writeFile(path, bytes);
    if (t.workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null).length === 0) {
      await t.spawnWorker({ ...FAST_STALL });
    }
    const sub = await submit(t.a, { datasetId: up.body.id, params: PARAMS });
    expect(sub.status).toBe(201);
    const run = await waitForRun(t.a, sub.body.id, LOADED_BOUND_MS);
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatch(/shard \d+ of layer 1 .*failed permanently: .*artifact [0-9a-f]{64} is corrupt/);
    // Nothing of the failed run is left queued.
    const metrics = await (await t.a('/metrics')).text();
    expect(metrics).toMatch(/cmbn_queue_jobs\{queue="shard",state="waiting"\} 0/);
  }, TEST_TIMEOUT_MS);

  it('cancels a running run: queued shards are removed and the running shard is aborted on its worker', async () => {
    const ds = await loadDataset('mnist-train', { limit: 200 });
    const [up, slow] = await Promise.all([
      upload(t.a, encodeNpy(ds.x), 'name=mnist200'),
      t.spawnWorker({ testDelayMs: 600_000 }),
    ]);
    // Only the slow worker may take shards of this run.
    await Promise.all(t.workers.filter((w) => w !== slow).map((w) => stop(w)));
    const sub = await submit(t.a, { datasetId: up.body.id, params: PARAMS });
    const runId: string = sub.body.id;
    await until('a shard running', async () => (await listShards(runId, 1, { status: 'RUNNING' }))[0], LOADED_BOUND_MS, 25);
    const cancel = await t.a.json(`/v1/runs/${runId}/cancel`, { method: 'POST' });
    expect(cancel.body.status).toBe('CANCELLED');
    // Aborted long before its 10-minute delay is over (the outer bound is generous for load, and
    // still a tenth of the delay, so a shard that ran its delay out cannot pass).
    await slow.waitFor(/shard aborted: run .* was cancelled|was cancelled/, 60_000);
    const run = await waitForRun(t.a, runId, LOADED_BOUND_MS);
    expect(run.status).toBe('CANCELLED');
    const metrics = await (await t.a('/metrics')).text();
    expect(metrics).toMatch(/cmbn_queue_jobs\{queue="shard",state="waiting"\} 0/);
  }, TEST_TIMEOUT_MS);
});
