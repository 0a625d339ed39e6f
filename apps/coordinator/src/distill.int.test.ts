/**
 * The remote half of issue 4: a run with `distill` goes DISTILLING after MBN, a worker trains and
 * registers the student, the run ends SUCCEEDED with the student's summary; the registry's HTTP
 * routes; a crashed distill job registers exactly one version; a tampered artifact is refused.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, loadDataset } from '@cmbn/data';
import { getModel } from '@cmbn/registry';
import { runCli, submit, upload, useTestCoordinator, waitForRun } from './test-helpers.ts';

const PARAMS = { V: 12, k: [80, 40], clusters: 10, seed: 3 };
// Small and quick: the accuracy of the student is the compression bench's business, not this test's.
const STUDENT = { hidden: [32], epochs: 3, augment: 0 };
const NAME = 'mnist-remote';
const t = useTestCoordinator({ maxUploadBytes: 50_000_000 });
let out: string;

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'cmbn-pull-'));
});

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('remote distillation', () => {
  let version: number;

  it('distils after MBN; a worker killed right after registering is replaced and exactly one version is registered', async () => {
    const [train, test] = await Promise.all([loadDataset('mnist-train', { limit: 600 }), loadDataset('mnist-test', { limit: 300 })]);
    const up = await upload(t.a, encodeNpy(train.x), 'name=mnist600');
    const upLabels = await upload(t.a, encodeNpy({ rows: 600, cols: 1, dtype: 'int32', data: train.labels! }), `name=mnist600-labels&labelsFor=${up.body.id}`);
    const ev = await upload(t.a, encodeNpy(test.x), 'name=mnist-test300');
    const evLabels = await upload(t.a, encodeNpy({ rows: 300, cols: 1, dtype: 'int32', data: test.labels! }), `name=mnist-test300-labels&labelsFor=${ev.body.id}`);
    expect([up.status, upLabels.status, ev.status, evLabels.status]).toEqual([201, 201, 201, 201]);

    // Bad distill requests are refused at submission.
    const bad = await submit(t.a, { datasetId: up.body.id, params: PARAMS, distill: { register: 'x@y' } });
    expect(bad.status).toBe(400);
    const badEval = await submit(t.a, { datasetId: up.body.id, params: PARAMS, distill: { evalDatasetId: ev.body.id, evalLabelsId: upLabels.body.id } });
    expect(badEval.status).toBe(400);
    expect(badEval.body.error.message).toMatch(/not uploaded for eval dataset/);
    // Bad student specs: a width of 0, an architecture the job does not know.
    const zero = await submit(t.a, { datasetId: up.body.id, params: PARAMS, distill: { student: { hidden: [64, 0] } } });
    expect(zero.status).toBe(400);
    expect(JSON.stringify(zero.body.error)).toMatch(/hidden/);
    const arch = await submit(t.a, { datasetId: up.body.id, params: PARAMS, distill: { student: { architecture: 'transformer' } } });
    expect(arch.status).toBe(400);
    expect(JSON.stringify(arch.body.error)).toMatch(/architecture/);

    // The victim computes every shard, registers the student, then SIGKILLs itself before the job completes.
    const victim = await t.spawnWorker({
      databaseUrl: t.db.url,
      env: { CMBN_WORKER_TEST_DISTILL_CRASH: 'after-publish', CMBN_DISTILL_LOCK_DURATION_MS: '8000' },
    });
    const sub = await submit(t.a, {
      datasetId: up.body.id,
      labelsId: upLabels.body.id,
      params: PARAMS,
      distill: { register: NAME, student: STUDENT, evalDatasetId: ev.body.id, evalLabelsId: evLabels.body.id },
    });
    expect(sub.status).toBe(201);
    const runId: string = sub.body.id;
    const distilling = await waitForRun(t.a, runId, 60_000, ['DISTILLING', 'SUCCEEDED', 'FAILED']);
    expect(distilling.status).toBe('DISTILLING');
    expect(distilling.distill).toMatchObject({ register: NAME, student: STUDENT });
    expect(distilling.params).toEqual(expect.not.objectContaining({ distill: expect.anything() }));
    await victim.waitFor(/TEST: crashing after publishing/, 60_000);
    await victim.exited;
    // The registered version exists already; the job itself is not done.
    expect((await getModel(NAME)).versions.map((v) => v.status)).toEqual(['READY']);
    expect((await t.a.json(`/v1/runs/${runId}`)).body.status).toBe('DISTILLING');

    const rescuer = await t.spawnWorker({ databaseUrl: t.db.url, lockDurationMs: 2_000, stalledIntervalMs: 500 });
    const run = await waitForRun(t.a, runId, 60_000);
    expect(run.error).toBeNull();
    expect(run.status).toBe('SUCCEEDED');
    expect(run.modelHash).toMatch(/^[0-9a-f]{64}$/);
    expect(run.summary.ks).toEqual([80, 40]);
    expect(run.student).toMatchObject({ name: NAME, version: 1, evaluatedOn: 'mnist-test300', evalPoints: 300, hidden: [32], target: 'labels' });
    for (const k of ['acc', 'nmi', 'agreement', 'speedup', 'mbnAcc', 'mbnNmi']) expect(typeof run.student[k], k).toBe('number');
    expect(run.student.agreement).toBeGreaterThan(0.3);
    expect(run.student.workerId).toContain(`:${rescuer.proc.pid}:`);
    // The rescuer found the version the victim registered and did not train the student again; the summary
    // it returned was rebuilt from the registered artifact.
    expect(rescuer.output()).toMatch(new RegExp(`already registered as ${NAME}:1 by an earlier attempt; not retraining`));
    expect(rescuer.output()).not.toMatch(/student epoch/);
    expect(victim.output()).toMatch(/student epoch 1\/3/);
    expect(run.student).toMatchObject({ augmented: 0, precision: 'int8', runtime: 'onnxruntime', backend: expect.any(String) });
    for (const k of ['epochs', 'trainSeconds', 'studentBytes', 'modelBytes', 'sizeRatio', 'timingPoints']) expect(run.student[k], k).toBeGreaterThan(0);
    // Exactly one version, READY, with the run's lineage.
    const model = await getModel(NAME);
    expect(model.versions).toHaveLength(1);
    expect(model.versions[0]).toMatchObject({ version: 1, status: 'READY', runId, mbnModelHash: run.modelHash, idempotencyKey: `run:${runId}` });
    expect(run.student.artifactSha256).toBe(model.versions[0]!.artifactSha256);
    version = 1;
  }, 150_000);

  it('serves the registry: list, show, version, alias, artifact; refuses deleting an aliased version', async () => {
    const list = await t.a.json('/v1/models');
    expect(list.body.models).toEqual([expect.objectContaining({ name: NAME, latestVersion: version, aliases: {} })]);
    const show = await t.a.json(`/v1/models/${NAME}`);
    expect(show.body.versions).toHaveLength(1);
    const v = await t.a.json(`/v1/models/${NAME}/versions/${version}`);
    expect(v.body).toMatchObject({ modelName: NAME, version, status: 'READY' });
    expect((await t.a.json(`/v1/models/${NAME}/versions/9`)).status).toBe(404);
    expect((await t.a.json(`/v1/models/${NAME}/versions/zero`)).body.error.code).toBe('BAD_REQUEST');

    const alias = await t.a.json(`/v1/models/${NAME}/aliases/champion`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version }) });
    expect(alias.body).toMatchObject({ name: NAME, alias: 'champion', version });
    const badAlias = await t.a.json(`/v1/models/${NAME}/aliases/champion`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 'x' }) });
    expect(badAlias.status).toBe(400);

    for (const ref of [`${NAME}@champion`, `${NAME}:${version}`, NAME]) {
      const res = await t.a(`/v1/models/${encodeURIComponent(ref)}/artifact`);
      expect(res.status, ref).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(res.headers.get('x-artifact-sha256')).toBe(v.body.artifactSha256);
      expect(Number(res.headers.get('content-length'))).toBe(bytes.byteLength);
    }

    const del = await t.a.json(`/v1/models/${NAME}/versions/${version}`, { method: 'DELETE' });
    expect(del.status).toBe(409);
    expect(del.body.error).toMatchObject({ code: 'ALIAS_IN_USE' });
    expect(del.body.error.message).toMatch(/@champion/);
  });

  it('cmbn models --remote pulls and verifies a student; a tampered artifact is refused with a clear error', async () => {
    const listed = await runCli(['models', 'list', '--remote', t.coordinator.url, '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).models[0]).toMatchObject({ name: NAME, aliases: { champion: version } });
    const dir = join(out, 'ok');
    const pulled = await runCli(['models', 'pull', `${NAME}@champion`, '--out', dir, '--remote', t.coordinator.url, '--json']);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(JSON.parse(pulled.stdout)).toMatchObject({ name: NAME, version, dir });
    expect((await readdir(dir)).sort()).toEqual(expect.arrayContaining(['model.json', 'student.json']));

    // Overwrite the stored bytes: the content no longer matches its address (and the registry's sha256).
    const sha = (await t.a.json(`/v1/models/${NAME}/versions/${version}`)).body.artifactSha256 as string;
    const path = join(t.artifacts.dir, 'sha256', sha.slice(0, 2), sha.slice(2));
    const bytes = await readFile(path);
    bytes[600] = bytes[600]! ^ 0xff;
    await writeFile(path, bytes);
    const served = await t.a.json(`/v1/models/${NAME}@champion/artifact`);
    expect(served.status).toBe(500);
    expect(served.body.error.code).toBe('ARTIFACT_CORRUPT');
    const refused = await runCli(['models', 'pull', `${NAME}@champion`, '--out', join(out, 'bad'), '--remote', t.coordinator.url]);
    expect(refused.code).not.toBe(0);
    // The first read found the bytes wrong and quarantined the object (so a later put repairs it):
    // the pull is refused with the version named and nothing written.
    await expect(readFile(path)).rejects.toThrow(/ENOENT/);
    expect(refused.stderr).toMatch(new RegExp(`refusing to serve mnist-remote:1: its artifact ${sha} was found corrupt and quarantined by an earlier read`));
    await expect(readdir(join(out, 'bad'))).rejects.toThrow(/ENOENT/);
  }, 60_000);

  it('cmbn train --remote --distill --register prints the student in its --json summary and pulls it', async () => {
    // Three well-separated blobs in 5 dims (not square images, so no augmentation), with a held-out set.
    const blobs = (n: number, off: number) => {
      const x = new Float32Array(n * 5);
      const y = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        y[i] = i % 3;
        for (let j = 0; j < 5; j++) x[i * 5 + j] = y[i]! * 20 + Math.sin((i + off) * 7.1 + j * 3.3) * 2;
      }
      return { x: encodeNpy({ rows: n, cols: 5, dtype: 'float32', data: x }), y: encodeNpy({ rows: n, cols: 1, dtype: 'int32', data: y }) };
    };
    const train = blobs(240, 0);
    const held = blobs(90, 1000);
    const files = Object.fromEntries(['x.npy', 'y.npy', 'ex.npy', 'ey.npy'].map((f) => [f, join(out, f)]));
    await Promise.all([writeFile(files['x.npy']!, train.x), writeFile(files['y.npy']!, train.y), writeFile(files['ex.npy']!, held.x), writeFile(files['ey.npy']!, held.y)]);
    const modelDir = join(out, 'blobs-model');
    const r = await runCli([
      'train', '--dataset', files['x.npy']!, '--labels', files['y.npy']!, '--V', '6', '--k', '40,20', '--clusters', '3', '--seed', '2',
      '--distill', '--register', 'blobs', '--student', '8', '--student-epochs', '3',
      '--student-augment', '0', '--student-temperature', '0', '--student-precision', 'fp32', '--student-target', 'labels',
      '--eval-dataset', files['ex.npy']!, '--eval-labels', files['ey.npy']!,
      '--remote', t.coordinator.url, '--out', modelDir, '--json', '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    // Every student flag reached the job (--student-augment 0 used to be dropped).
    const remoteRun = (await t.a.json(`/v1/runs/${summary.runId}`)).body;
    expect(remoteRun.distill.student).toEqual({ hidden: [8], epochs: 3, augment: 0, temperature: 0, precision: 'fp32', target: 'labels' });
    expect(summary.student).toMatchObject({ precision: 'fp32', augmented: 0 });

    // The same data, params and student trained locally: the same lineage as the remote version.
    const home = await mkdtemp(join(tmpdir(), 'cmbn-local-'));
    const local = await runCli(
      [
        'train', '--dataset', files['x.npy']!, '--labels', files['y.npy']!, '--V', '6', '--k', '40,20', '--clusters', '3', '--seed', '2',
        '--distill', '--register', 'blobs-local', '--student', '8', '--student-epochs', '3',
        '--student-augment', '0', '--student-temperature', '0', '--student-precision', 'fp32', '--student-target', 'labels',
        '--eval-dataset', files['ex.npy']!, '--eval-labels', files['ey.npy']!, '--out', join(home, 'm'), '--json', '--no-progress',
      ],
      { DATABASE_URL: t.db.url, CMBN_HOME: home, CMBN_ARTIFACTS: join(home, 'artifacts') },
    );
    expect(local.code, local.stderr).toBe(0);
    const [remoteV, localV] = [(await getModel('blobs')).versions[0]!, (await getModel('blobs-local')).versions[0]!];
    expect(JSON.parse(local.stdout).modelHash).toBe(summary.modelHash);
    expect(localV.datasetSha256).toMatch(/^[0-9a-f]{64}$/);
    for (const k of ['datasetSha256', 'mbnModelHash', 'params', 'backend'] as const) expect(localV[k], k).toEqual(remoteV[k]);
    // …and it is the content address of the .npy that `train --remote` uploaded.
    expect(remoteV.datasetSha256).toBe(createHash('sha256').update(train.x).digest('hex'));
    expect(remoteV.runId).toBe(summary.runId);
    expect(localV.runId).toBeNull();
    await rm(home, { recursive: true, force: true });
    expect(summary).toMatchObject({ ks: [40, 20], model: modelDir, runId: expect.any(String) });
    expect(summary.student).toMatchObject({ name: 'blobs', version: 1, backend: expect.any(String), evaluatedOn: 'ex', dir: join(modelDir, 'student') });
    for (const k of ['acc', 'nmi', 'agreement', 'speedup']) expect(typeof summary.student[k], k).toBe('number');
    expect(await readdir(join(modelDir, 'student'))).toEqual(expect.arrayContaining(['model.json', 'student.json']));
  }, 180_000);

  it('cancelling a run while it distils stops the job and registers nothing', async () => {
    const train = await loadDataset('mnist-train', { limit: 600 });
    const up = await upload(t.a, encodeNpy(train.x), 'name=mnist600');
    // Long enough to be cancelled mid-training: 10k teacher-labelled distortions, up to 500 epochs.
    const sub = await submit(t.a, { datasetId: up.body.id, params: PARAMS, distill: { register: 'cancelled', student: { hidden: [128], epochs: 500, augment: 10_000 } } });
    expect(sub.status).toBe(201);
    const runId: string = sub.body.id;
    const w = t.workers.at(-1)!;
    await waitForRun(t.a, runId, 60_000, ['DISTILLING', 'SUCCEEDED', 'FAILED']);
    // Wait until this run's student is training (its first epoch is logged, with the job id), then cancel.
    await w.waitFor(new RegExp(`${runId}.*student epoch 1/500`), 180_000);
    const cancel = await t.a.json(`/v1/runs/${runId}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    // The job itself ends (aborted between batches), not only the run's status.
    const failed = await w.waitFor(new RegExp(`${runId}.*distill failed`), 30_000);
    expect(failed).toMatch(/cancel|abort/i);
    const epochsRun = w.output().split('\n').filter((l) => l.includes(runId) && l.includes('student epoch')).length;
    expect(epochsRun).toBeGreaterThanOrEqual(1);
    expect(epochsRun).toBeLessThan(500);
    const run = await waitForRun(t.a, runId, 10_000);
    expect(run.status).toBe('CANCELLED');
    await expect(getModel('cancelled')).rejects.toThrow();
    expect(w.output()).not.toMatch(/registered cancelled:/);
  }, 300_000);

  it('fails the run with the distillation error when the job cannot succeed (corrupt eval set: no retry)', async () => {
    const x = new Float32Array(120 * 3).map((_, i) => ((i * 37) % 101) / 10);
    const up = await upload(t.a, encodeNpy({ rows: 120, cols: 3, dtype: 'float32', data: x }), 'name=small');
    const ev = await upload(t.a, encodeNpy({ rows: 30, cols: 3, dtype: 'float32', data: x.subarray(0, 90) }), 'name=small-eval');
    const sha: string = ev.body.sha256;
    const path = join(t.artifacts.dir, 'sha256', sha.slice(0, 2), sha.slice(2));
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(path, bytes);
    const sub = await submit(t.a, { datasetId: up.body.id, params: { V: 4, k: [20, 10], clusters: 2 }, distill: { student: { hidden: [4], epochs: 1 }, evalDatasetId: ev.body.id } });
    expect(sub.status).toBe(201);
    const run = await waitForRun(t.a, sub.body.id, 30_000);
    expect(run.status).toBe('FAILED');
    expect(run.error).toMatch(/^distillation failed: eval dataset small-eval: artifact [0-9a-f]{64} is corrupt/);
    expect(run.modelHash).toMatch(/^[0-9a-f]{64}$/);
  }, 40_000);
});
