/**
 * The whole local pipeline as a user runs it, in child processes:
 * `cmbn train --distill --register`, then `models list`, `models pull`, and `predict` on the pulled student.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
    );
    const summary = JSON.parse(stdout) as { modelHash: string; student: Record<string, unknown> };
    const s = summary.student;
    expect(s).toMatchObject({ name: 't', version: 1, backend: expect.any(String), evaluatedOn: 'mnist-test', evalPoints: 300 });
    for (const k of ['acc', 'nmi', 'agreement', 'mbnAcc', 'mbnNmi']) expect(s[k]).toBeGreaterThanOrEqual(0);
    for (const k of ['acc', 'nmi', 'agreement', 'mbnAcc', 'mbnNmi']) expect(s[k]).toBeLessThanOrEqual(1);
    for (const k of ['speedup', 'studentPointsPerSecond', 'mbnPointsPerSecond', 'studentBytes', 'modelBytes', 'sizeRatio']) expect(s[k]).toBeGreaterThan(0);
    expect(s.speedup).toBeCloseTo((s.studentPointsPerSecond as number) / (s.mbnPointsPerSecond as number), -1);
    expect(stderr).toMatch(/student epoch 1\//);
    expect((await readdir(join(model, 'student'))).sort()).toEqual(['model.json', 'student.json', 'weights.bin']);

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
  });
});
