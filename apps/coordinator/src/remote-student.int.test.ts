/**
 * `train --remote` says and trains what local training does (issues 10 and 11): the submit answer
 * carries local training's small-V warning and the CLI prints it as local mode prints it; a conv
 * student's architecture reaches the distill job and the registered student; student specs that
 * cannot train on the data are a 400 from the coordinator and a CLI error before any upload.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contractCheckedApi, type ContractReport } from '@cmbn/api';
import { encodeNpy } from '@cmbn/data';
import { smallVWarning } from '@cmbn/mbn';
import { getModel } from '@cmbn/registry';
import { api, runCli, submit, upload, useTestCoordinator, waitForRun, type Api } from './test-helpers.ts';

const t = useTestCoordinator({ maxUploadBytes: 50_000_000 });
let a: Api;
let out: string;
/** Every answer in this file, checked against the served OpenAPI document. */
const contract: ContractReport = { issues: [], checked: 0 };

/** n points of 3 well-separated blobs in 5 dims (not a square image). */
function blobs(n: number): Uint8Array {
  const x = new Float32Array(n * 5);
  for (let i = 0; i < n; i++) for (let j = 0; j < 5; j++) x[i * 5 + j] = (i % 3) * 20 + Math.sin(i * 7.1 + j * 3.3) * 2;
  return encodeNpy({ rows: n, cols: 5, dtype: 'float32', data: x });
}

const warningLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('cmbn: warning:'));

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'cmbn-remote-student-'));
  a = await contractCheckedApi(api(t.coordinator.url), contract);
  await t.spawnWorker({ databaseUrl: t.db.url });
});

afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

describe('POST /v1/runs warnings', () => {
  it("carries local training's small-V warning, and none when V is large enough", async () => {
    const up = await upload(a, blobs(90), 'name=blobs90');
    expect(up.status).toBe(201);
    // Two layers need V ≥ 10 (MIN_V_PER_LAYER = 5 per layer).
    const small = await submit(a, { datasetId: up.body.id, params: { V: 4, k: [20, 10], clusters: 3 } });
    expect(small.status).toBe(201);
    expect(small.body.warnings).toEqual([smallVWarning(4, 2)]);
    expect(small.body.warnings[0]).toMatch(/^V=4 is small for 2 layers/);
    const enough = await submit(a, { datasetId: up.body.id, params: { V: 10, k: [20, 10], clusters: 3 } });
    expect(enough.status).toBe(201);
    expect(enough.body.warnings).toEqual([]);
    // A warning never refuses: both runs train.
    for (const id of [small.body.id, enough.body.id]) expect((await waitForRun(a, id, 60_000)).status).toBe('SUCCEEDED');
  }, 90_000);
});

describe('student specs the data cannot take', () => {
  it('are a 400 naming the problem, before any run is created', async () => {
    const up = await upload(a, blobs(60), 'name=blobs60');
    const params = { V: 10, k: [20, 10], clusters: 3 };
    const cases: [unknown, RegExp][] = [
      [{ architecture: { kind: 'conv', filters: 4, kernel: 3, stride: 1 } }, /distill\.student\.architecture: a conv student needs square single-channel images; rows of 5 columns are not a square/],
      [{ architecture: { kind: 'conv', filters: 0, kernel: 3, stride: 1 } }, /distill\.student\.architecture.*filters/],
      [{ architecture: { kind: 'transformer' } }, /distill\.student\.architecture/],
      [{ hidden: [16, 0] }, /distill\.student\.hidden/],
    ];
    const before = (await a.json('/v1/runs')).body.runs.length;
    for (const [student, message] of cases) {
      const r = await submit(a, { datasetId: up.body.id, params, distill: { student } });
      expect(r.status, JSON.stringify(student)).toBe(400);
      expect(r.body.error.code).toBe('BAD_REQUEST');
      expect(r.body.error.message, JSON.stringify(student)).toMatch(message);
    }
    expect((await a.json('/v1/runs')).body.runs.length).toBe(before);
  });

  it('cmbn train --remote refuses a conv student on non-square rows before uploading anything', async () => {
    const bytes = blobs(30);
    const file = join(out, 'blobs30.npy');
    await writeFile(file, bytes);
    const r = await runCli(['train', '--dataset', file, '--V', '10', '--k', '8,4', '--distill', '--student-arch', 'conv', '--remote', t.coordinator.url, '--no-progress']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--student-arch: a conv student needs square single-channel images; rows of 5 columns are not a square/);
    expect((await a.json(`/v1/datasets/${createHash('sha256').update(bytes).digest('hex')}`)).status).toBe(404);
  });
});

describe('cmbn train --remote with a conv student and a small V', () => {
  it('prints the warning as local mode does and trains, registers and pulls the conv student', async () => {
    const mbn = ['--dataset', 'mnist-train', '--limit', '300', '--V', '6', '--k', '40,20', '--clusters', '10', '--seed', '1', '--no-progress', '--json'];
    const modelDir = join(out, 'conv-model');
    const remote = await runCli(
      [
        'train', ...mbn, '--out', modelDir,
        '--distill', '--register', 'conv-remote', '--student-arch', 'conv:4,5,3', '--student', '16',
        '--student-epochs', '2', '--student-augment', '0', '--eval-limit', '200',
        '--remote', t.coordinator.url,
      ],
      {},
      180_000,
    );
    expect(remote.code, remote.stderr).toBe(0);
    const local = await runCli(['train', ...mbn, '--out', join(out, 'local-model')]);
    expect(local.code, local.stderr).toBe(0);
    // The same warning, in the same words and format, once.
    expect(warningLines(remote.stderr)).toEqual([`cmbn: warning: ${smallVWarning(6, 2)}`]);
    expect(warningLines(remote.stderr)).toEqual(warningLines(local.stderr));

    const summary = JSON.parse(remote.stdout);
    expect(summary.modelHash).toBe(JSON.parse(local.stdout).modelHash);
    // The architecture reached the job as the CLI's spec built it, and the student trained is a conv one.
    const run = (await a.json(`/v1/runs/${summary.runId}`)).body;
    expect(run.distill.student).toEqual({ architecture: { kind: 'conv', filters: 4, kernel: 5, stride: 3 }, hidden: [16], epochs: 2, augment: 0 });
    expect(summary.student).toMatchObject({ architecture: 'conv', hidden: [16], name: 'conv-remote', version: 1, evalPoints: 200 });
    const version = (await getModel('conv-remote')).versions[0]!;
    expect(version.tags).toMatchObject({ architecture: 'conv', hidden: '16' });
    // The pulled student's files say conv, with the job's convolution.
    const sj = JSON.parse(await readFile(join(modelDir, 'student', 'student.json'), 'utf8'));
    expect(sj.architecture).toEqual({ kind: 'conv', filters: 4, kernel: 5, stride: 3 });
    expect(contract.issues).toEqual([]);
    expect(contract.checked).toBeGreaterThan(10);
  }, 240_000);
});
