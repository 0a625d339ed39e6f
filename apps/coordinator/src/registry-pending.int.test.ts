/**
 * No stuck versions: the pending reconciler fails a PENDING version only once its producing job is
 * neither waiting nor active in its (real BullMQ) queue, and the job's retry then registers a fresh
 * version. Real Redis (unique prefix) and a fresh Postgres database.
 */
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileArtifactStore } from '@cmbn/artifacts';
import { saveStudent, type TrainedStudent } from '@cmbn/distill';
import { publishStudent } from '@cmbn/pipeline';
import { distillJobId, queueName } from '@cmbn/jobs';
import { createModelVersion, createTestDatabase, runIdempotencyKey, getDb, getVersion, type CreateModelVersionInput, type TestDatabase } from '@cmbn/registry';
import { PendingReconciler } from './pending-reconciler.ts';
import { openQueues, type Queues } from './queues.ts';
import { REDIS_URL, tearDown, tempArtifacts, uniquePrefix, until, type TempArtifacts } from './test-helpers.ts';

let db: TestDatabase;
let artifacts: TempArtifacts;
let queues: Queues;
const prefix = uniquePrefix();
let reconciler: PendingReconciler;

const input = (extra: Partial<CreateModelVersionInput>): CreateModelVersionInput => ({
  name: 'pending', metrics: {}, signature: {}, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: {}, backend: 'test', ...extra,
});

beforeAll(async () => {
  [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
  getDb(db.url);
  queues = await openQueues(REDIS_URL, prefix);
  reconciler = new PendingReconciler({ queues, store: new FileArtifactStore(artifacts.dir), logger: pino({ level: 'silent' }), minAgeMs: 0, localMaxAgeMs: 3_600_000 });
});

afterAll(async () => {
  await queues?.close();
  await tearDown({ db, artifacts, prefix });
});

describe('pending reconciler', () => {
  it('leaves a version PENDING while its job waits or runs, fails it once the job failed, and the retry registers a fresh version', async () => {
    const runId = 'run-stuck-1';
    const jobId = distillJobId(runId);
    const key = runIdempotencyKey(runId);
    const v = await createModelVersion(input({ runId, idempotencyKey: key }));
    await queues.distill.add('distill', { runId }, { jobId, attempts: 1 });

    // Waiting in the queue: not stuck.
    expect(await queues.distill.getJobState(jobId)).toBe('waiting');
    expect(await reconciler.reconcileOnce()).toMatchObject({ failed: [], alive: 1 });
    expect((await getVersion('pending', v.version)).status).toBe('PENDING');

    // Active on a worker (held until released): not stuck either.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker(
      queueName('distill'),
      async () => {
        await held;
        throw new Error('the worker lost its student');
      },
      { connection, prefix, autorun: true },
    );
    try {
      await until('the job to be active', async () => (await queues.distill.getJobState(jobId)) === 'active', 20_000, 50);
      expect(await reconciler.reconcileOnce()).toMatchObject({ failed: [], alive: 1 });
      expect((await getVersion('pending', v.version)).status).toBe('PENDING');

      // The job fails for good without finishing its version: now the version is stuck, and failed.
      release();
      await until('the job to fail', async () => (await queues.distill.getJobState(jobId)) === 'failed', 20_000, 50);
    } finally {
      await worker.close();
      connection.disconnect();
    }
    const out = await reconciler.reconcileOnce();
    expect(out.failed).toEqual([{ name: 'pending', version: v.version, reason: expect.stringContaining(`${jobId} is failed`) }]);
    const failed = await getVersion('pending', v.version);
    expect(failed.status).toBe('FAILED');
    expect((failed.tags as { error?: string }).error).toMatch(/^pending reconciler: /);

    // The job's retry registers a fresh version instead of failing on the failed one.
    const retry = await createModelVersion(input({ runId, idempotencyKey: key }));
    expect(retry.id).not.toBe(v.id);
    expect(retry).toMatchObject({ status: 'PENDING', version: v.version + 1 });
    // It is alive again once the retried job waits: not failed.
    await queues.distill.remove(jobId);
    await queues.distill.add('distill', { runId }, { jobId });
    expect((await reconciler.reconcileOnce()).failed).toEqual([]);
  });

  it('fails a version whose job is gone from the queue, and one with no job only after localMaxAgeMs', async () => {
    const gone = await createModelVersion(input({ runId: 'run-gone', idempotencyKey: runIdempotencyKey('run-gone') }));
    const local = await createModelVersion(input({ idempotencyKey: 'local-name:abc' }));
    const out = await reconciler.reconcileOnce();
    expect(out.failed.map((f) => f.version)).toEqual([gone.version]);
    expect(out.failed[0]!.reason).toMatch(/gone from the queue/);
    expect((await getVersion('pending', local.version)).status).toBe('PENDING');
    const strict = new PendingReconciler({ queues, store: new FileArtifactStore(artifacts.dir), logger: pino({ level: 'silent' }), minAgeMs: 0, localMaxAgeMs: 0 });
    expect((await strict.reconcileOnce()).failed.map((f) => f.version)).toContain(local.version);
    expect((await getVersion('pending', local.version)).status).toBe('FAILED');
  });

  it("the producer's retry, through the real publish, registers a fresh READY version instead of failing on the FAILED one", async () => {
    const runId = 'run-crashed-publisher';
    const key = runIdempotencyKey(runId);
    // Attempt 1 registered its version and died (nobody marks it); its job is gone.
    const stuck = await createModelVersion(input({ name: 'republished', runId, idempotencyKey: key }));
    expect((await reconciler.reconcileOnce()).failed.map((f) => f.version)).toContain(stuck.version);
    const w = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) / 4);
    const student: TrainedStudent = {
      signature: { inputDims: 3, inputDType: 'uint8', normalisation: { kind: 'scale', scale: 1 / 255 }, output: { kind: 'labels', size: 2 } },
      backend: 'wasm', seconds: 0, epochs: 1, history: { loss: [1], valLoss: [1] },
      layers: [{ weight: w(6), bias: w(2), inDim: 3, outDim: 2, activation: 'softmax' }],
    };
    const dir = join(artifacts.dir, 'student');
    await saveStudent(student, dir, {});
    const store = new FileArtifactStore(artifacts.dir);
    const lineage = { runId, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: {}, backend: 'wasm' };
    // Attempt 2 (the job's retry) publishes with the same idempotency key.
    const p = await publishStudent({ studentDir: dir, name: 'republished', store, lineage, metrics: {}, idempotencyKey: key });
    expect(p.version).toBe(stuck.version + 1);
    expect(await getVersion('republished', p.version)).toMatchObject({ status: 'READY', idempotencyKey: key, artifactSha256: p.artifactSha256 });
    expect((await getVersion('republished', stuck.version)).status).toBe('FAILED');
  });
});
