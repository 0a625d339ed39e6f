/**
 * distilAndPublish and a cancel that arrives after training, while the student is being uploaded:
 * the run's isRunCancelled check has already passed, so only the registry can refuse it. Real MBN,
 * real student training, real Postgres and a real file store; the store's put is where the cancel
 * is delivered, the window the issue names ("a cancel during upload or create").
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileArtifactStore } from '@cmbn/artifacts';
import { loadDataset } from '@cmbn/data';
import { DEFAULT_STUDENT_SPEC, type StudentSpec } from '@cmbn/distill';
import { trainMbn, type TrainResult } from '@cmbn/mbn';
import { cancelRun, createRun, createTestDatabase, getDb, getModel, getRun, registerDataset, setRunStatus, type JsonObject, type TestDatabase } from '@cmbn/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distilAndPublish, prismaRegistry, StudentCancelledError, type DistilAndPublishRequest } from './index.ts';

let db: TestDatabase;
let root: string;
let mbn: TrainResult;
let x: DistilAndPublishRequest['x'];

const SPEC: StudentSpec = { ...DEFAULT_STUDENT_SPEC, hidden: [16], epochs: 2 };

/** A file store that delivers a cancel of `runId` just before the first upload. */
class CancellingStore extends FileArtifactStore {
  cancelledAt: number | undefined;
  constructor(
    dir: string,
    private readonly runId: string,
  ) {
    super(dir);
  }
  override async put(bytes: Uint8Array): ReturnType<FileArtifactStore['put']> {
    if (this.cancelledAt === undefined) {
      await cancelRun(this.runId, 'cancelled by request');
      this.cancelledAt = Date.now();
    }
    return super.put(bytes);
  }
}

async function distillingRun(): Promise<string> {
  const ds = await registerDataset({ sha256: 'f'.repeat(64), name: 'mnist', format: 'idx', rows: x.rows, cols: x.cols, dtype: 'uint8', bytes: x.rows * x.cols });
  const run = await createRun({ datasetId: ds.id, params: { V: 20 }, ks: mbn.ks, seed: 1 });
  await setRunStatus(run.id, 'RUNNING');
  await setRunStatus(run.id, 'DISTILLING');
  return run.id;
}

function request(runId: string, register: string): DistilAndPublishRequest {
  return {
    x,
    teacher: { labels: mbn.labels, embedding: mbn.embedding },
    mbn: { model: mbn.model, modelHash: mbn.modelHash, modelBytes: mbn.modelBytes.byteLength, params: JSON.parse(JSON.stringify(mbn.params)) as JsonObject },
    spec: SPEC,
    augment: 0,
    register,
    runId,
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  getDb(db.url);
  root = await mkdtemp(join(tmpdir(), 'cmbn-dap-'));
  x = (await loadDataset('mnist', { limit: 300 })).x;
  mbn = await trainMbn(x, { V: 20, seed: 1 }, { threads: 1 });
}, 120_000);
afterAll(async () => {
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

describe('distilAndPublish and a cancel during the upload', () => {
  it('registers the student when nothing cancels it (the control)', async () => {
    const runId = await distillingRun();
    const store = new FileArtifactStore(join(root, 'a'));
    const r = await distilAndPublish(request(runId, 'kept'), { registry: prismaRegistry, store });
    expect(r).toMatchObject({ name: 'kept', version: 1 });
    expect((await getModel('kept')).versions.map((v) => v.status)).toEqual(['READY']);
  }, 120_000);

  it('a cancel delivered during the upload registers nothing: StudentCancelledError, the version FAILED', async () => {
    const runId = await distillingRun();
    const store = new CancellingStore(join(root, 'b'), runId);
    const err = await distilAndPublish(request(runId, 'dropped'), { registry: prismaRegistry, store }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(store.cancelledAt).toBeDefined(); // the cancel really came inside the publish
    expect(err).toBeInstanceOf(StudentCancelledError);
    expect((err as Error).message).toContain(`run ${runId} was cancelled`);
    expect((await getRun(runId)).status).toBe('CANCELLED');
    const versions = (await getModel('dropped')).versions;
    expect(versions.map((v) => v.status)).toEqual(['FAILED']);
    expect(versions[0]!.artifactSha256).toBeNull();
  }, 120_000);
});
