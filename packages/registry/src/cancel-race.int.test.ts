/**
 * A cancel and its run's student becoming READY, against the real Postgres: whichever commits first
 * wins, and the registry never holds a CANCELLED run with a READY version of it (issue 11: "cancel
 * must stop the job and register nothing", including a cancel that lands during the upload).
 */
import { describe, expect, it } from 'vitest';
import { RegistryError, cancelRun, createModelVersion, createRun, getDb, getRun, getVersion, markVersionReady, registerDataset, setRunStatus } from './index.ts';
import type { ModelVersionRecord } from './index.ts';
import { useTestDatabase } from './test-helpers.ts';

useTestDatabase();

const SHA = (c: string): string => c.repeat(64);
const ARTIFACT = { artifactSha256: SHA('a'), artifactBytes: 1234 };
let names = 0;

async function distillingRun(): Promise<string> {
  const ds = await registerDataset({ sha256: SHA('f'), name: 'mnist', format: 'idx', rows: 100, cols: 784, dtype: 'uint8', bytes: 78_400 });
  const run = await createRun({ datasetId: ds.id, params: { V: 4 }, ks: [8, 4], seed: 1 });
  await setRunStatus(run.id, 'RUNNING');
  await setRunStatus(run.id, 'DISTILLING');
  return run.id;
}

async function pendingVersion(runId: string): Promise<ModelVersionRecord> {
  return createModelVersion({
    name: `student-${++names}`,
    metrics: { agreement: 0.95 },
    signature: { input: { dtype: 'float32', shape: [-1, 784] } },
    runId,
    datasetSha256: SHA('d'),
    mbnModelHash: SHA('e'),
    params: { V: 4 },
    backend: 'wasm',
    idempotencyKey: `run:${runId}`,
  });
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => {
      if (!(e instanceof RegistryError)) throw e;
      return e.code;
    },
  );
}

describe('cancelling a run whose student is being registered', () => {
  it('a cancel before READY fails the PENDING version, and READY is then refused with CANCELLED', async () => {
    const runId = await distillingRun();
    const v = await pendingVersion(runId);
    const cancelled = await cancelRun(runId, 'cancelled by request');
    expect(cancelled).toMatchObject({ status: 'CANCELLED', error: 'cancelled by request' });
    expect(cancelled.finishedAt).toBeInstanceOf(Date);
    const failed = await getVersion(v.modelName, v.version);
    expect(failed.status).toBe('FAILED');
    expect(failed.tags).toMatchObject({ error: `run ${runId} was cancelled` });

    expect(await codeOf(markVersionReady(v.id, ARTIFACT))).toBe('CANCELLED');
    expect((await getVersion(v.modelName, v.version)).status).toBe('FAILED');
  });

  it('a version created after the cancel cannot become READY either: it is failed with CANCELLED', async () => {
    const runId = await distillingRun();
    await cancelRun(runId, 'cancelled by request');
    const late = await pendingVersion(runId); // the worker had not heard of the cancel yet
    const err = await markVersionReady(late.id, ARTIFACT).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ code: 'CANCELLED', details: { runId } });
    expect((err as Error).message).toContain(`run ${runId} was cancelled`);
    const after = await getVersion(late.modelName, late.version);
    expect(after.status).toBe('FAILED');
    expect(after.artifactSha256).toBeNull();
  });

  it('a cancel after READY is refused (CONFLICT) and leaves the run as it was', async () => {
    const runId = await distillingRun();
    const v = await pendingVersion(runId);
    await markVersionReady(v.id, ARTIFACT);
    const err = await cancelRun(runId, 'cancelled by request').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'CONFLICT' });
    expect((err as Error).message).toContain(`as ${v.modelName}:${v.version}`);
    expect((await getRun(runId)).status).toBe('DISTILLING');
    expect((await getVersion(v.modelName, v.version)).status).toBe('READY');
  });

  it('an ended or unknown run is not cancelled', async () => {
    const runId = await distillingRun();
    await setRunStatus(runId, 'SUCCEEDED');
    expect(await codeOf(cancelRun(runId, 'x'))).toBe('CONFLICT');
    expect((await getRun(runId)).status).toBe('SUCCEEDED');
    expect(await codeOf(cancelRun('no-such-run', 'x'))).toBe('NOT_FOUND');
  });

  it('raced against each other, exactly one of cancel and READY wins, and never both', async () => {
    const outcomes = { cancelled: 0, registered: 0 };
    for (let i = 0; i < 24; i++) {
      const runId = await distillingRun();
      const v = await pendingVersion(runId);
      // Alternate which call is issued first, so both orders of arrival at the row lock occur.
      const calls = [() => codeOf(cancelRun(runId, 'cancelled by request')), () => codeOf(markVersionReady(v.id, ARTIFACT))];
      if (i % 2 === 1) calls.reverse();
      const codes = await Promise.all(calls.map((c) => c()));
      const [cancelCode, readyCode] = i % 2 === 1 ? [codes[1], codes[0]] : [codes[0], codes[1]];
      const run = await getRun(runId);
      const version = await getVersion(v.modelName, v.version);
      if (run.status === 'CANCELLED') {
        outcomes.cancelled++;
        expect(cancelCode).toBeUndefined();
        expect(['CANCELLED', 'CONFLICT']).toContain(readyCode);
        expect(version.status).toBe('FAILED');
      } else {
        outcomes.registered++;
        expect(run.status).toBe('DISTILLING');
        expect(readyCode).toBeUndefined();
        expect(cancelCode).toBe('CONFLICT');
        expect(version.status).toBe('READY');
      }
    }
    expect(outcomes.cancelled + outcomes.registered).toBe(24);
    // The invariant over the whole table, not only the rows above.
    const bad = await getDb().$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM "ModelVersion" v JOIN "Run" r ON r."id" = v."runId"
      WHERE r."status" = 'CANCELLED' AND v."status" = 'READY'`;
    expect(Number(bad[0]!.n)).toBe(0);
  });
});
