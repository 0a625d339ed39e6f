/**
 * publish → pull against a fresh Postgres database and a temp artifact store: sha verification,
 * tamper refusal, idempotent retries after a crash, and concurrent registrations.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileArtifactStore } from '@cmbn/artifacts';
import { loadStudent, saveStudent, tinyStudent, type TrainedStudent } from '@cmbn/distill';
import { createTestDatabase, getDb, getModel, type TestDatabase } from '@cmbn/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packStudentDirectory, prismaRegistry, publishStudent, pullStudent, type RegistryPort } from './index.ts';

let db: TestDatabase;
let root: string;
let store: FileArtifactStore;
let studentDir: string;

const tiny4 = (seed: number): TrainedStudent => tinyStudent(seed, 0.25);

const lineage = { runId: null, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: { V: 20 }, backend: 'wasm' };

beforeAll(async () => {
  db = await createTestDatabase();
  getDb(db.url);
  root = await mkdtemp(join(tmpdir(), 'cmbn-pipeline-'));
  store = new FileArtifactStore(join(root, 'artifacts'));
  studentDir = join(root, 'student');
  await saveStudent(tiny4(1), studentDir, { note: 'test' });
});
afterAll(async () => {
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

describe('publishStudent / pullStudent', () => {
  it('round-trips a student: READY version, verified archive, identical files', async () => {
    const v = await publishStudent({ studentDir, name: 'rt', store, lineage, metrics: { agreement: 0.97 }, idempotencyKey: 'rt-1' });
    expect(v).toMatchObject({ name: 'rt', version: 1 });
    const detail = await getModel('rt');
    expect(detail.versions).toHaveLength(1);
    expect(detail.versions[0]).toMatchObject({ status: 'READY', artifactSha256: v.artifactSha256, backend: 'wasm', mbnModelHash: 'e'.repeat(64) });
    expect(detail.versions[0]!.signature).toMatchObject({ format: 'cmbn-student', inputDims: 6, output: { kind: 'labels', size: 3 } });

    const out = join(root, 'pulled');
    const p = await pullStudent({ ref: 'rt:1', outDir: out, store });
    expect(p).toMatchObject({ name: 'rt', version: 1, artifactSha256: v.artifactSha256 });
    for (const f of await readdir(studentDir)) {
      expect((await readFile(join(out, f))).equals(await readFile(join(studentDir, f)))).toBe(true);
    }
    expect((await loadStudent(out)).layers).toEqual(tiny4(1).layers);
    // The same student packs to the same bytes (the artifact's identity).
    expect(Buffer.from(await packStudentDirectory(out)).equals(Buffer.from(await packStudentDirectory(studentDir)))).toBe(true);

    await expect(pullStudent({ ref: 'rt', outDir: out, store })).rejects.toThrow(/not empty.*--force/);
    await expect(pullStudent({ ref: 'rt', outDir: out, store, force: true })).resolves.toMatchObject({ version: 1 });
  });

  it('refuses a tampered artifact with a clear error and writes nothing', async () => {
    const v = await publishStudent({ studentDir, name: 'tamper', store, lineage, metrics: {} });
    const path = store.localPath(v.artifactSha256);
    const bytes = await readFile(path);
    bytes[600] = bytes[600]! ^ 0xff;
    await writeFile(path, bytes);
    const out = join(root, 'tampered');
    await expect(pullStudent({ ref: 'tamper:1', outDir: out, store })).rejects.toThrow(
      new RegExp(`refusing to pull tamper:1: artifact sha256 mismatch \\(registry recorded ${v.artifactSha256}, stored bytes hash to [0-9a-f]{64}\\)`),
    );
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
    // The failed read quarantined the damaged object, so publishing the same student again writes
    // it anew under the same key (issue 9: corrupt objects get repaired), and both versions pull.
    expect(await store.has(v.artifactSha256)).toBe(false);
    const again = await publishStudent({ studentDir, name: 'tamper', store, lineage, metrics: {} });
    expect(again.artifactSha256).toBe(v.artifactSha256);
    expect((await getModel('tamper')).versions.map((x) => x.status)).toEqual(['READY', 'READY']);
    await expect(pullStudent({ ref: 'tamper:1', outDir: out, store })).resolves.toMatchObject({ version: 1 });
  });

  it('refuses a student directory whose ONNX graphs are missing or are not its weights, and registers nothing', async () => {
    const noOnnx = join(root, 'no-onnx');
    await cp(studentDir, noOnnx, { recursive: true });
    await rm(join(noOnnx, 'model.onnx'));
    await expect(publishStudent({ studentDir: noOnnx, name: 'portable', store, lineage, metrics: {} })).rejects.toThrow(/no model\.onnx; save the student again/);

    // The int8 graph of another student's weights beside these weights: a stale file.
    const stale = join(root, 'stale-onnx');
    const other = join(root, 'other');
    await cp(studentDir, stale, { recursive: true });
    await saveStudent(tiny4(2), other, { note: 'test' });
    await cp(join(other, 'model.int8.onnx'), join(stale, 'model.int8.onnx'));
    await expect(publishStudent({ studentDir: stale, name: 'portable', store, lineage, metrics: {} })).rejects.toThrow(/model\.int8\.onnx is not the graph of this student's weights/);
    await expect(getModel('portable')).rejects.toThrow(/not found|no model/i);

    // The files as saveStudent wrote them publish.
    await expect(publishStudent({ studentDir: other, name: 'portable', store, lineage, metrics: {} })).resolves.toMatchObject({ version: 1 });
  });

  it('a publish that crashed before READY, retried with the same key, registers exactly one version', async () => {
    class Crash extends Error {}
    const crashing: RegistryPort = {
      ...prismaRegistry,
      markVersionReady: async () => {
        throw new Crash('worker died');
      },
      // The process is gone: nobody marks the version FAILED.
      markVersionFailed: async () => {
        throw new Crash('worker died');
      },
    };
    const retryDir = join(root, 'student-retry');
    await saveStudent(tiny4(6), retryDir);
    const input = { studentDir: retryDir, name: 'retry', store, lineage, metrics: {}, idempotencyKey: 'job-42' };
    await expect(publishStudent({ ...input, registry: crashing })).rejects.toBeInstanceOf(Crash);
    expect((await getModel('retry')).versions.map((v) => v.status)).toEqual(['PENDING']);
    const first = await publishStudent(input);
    const again = await publishStudent(input);
    expect(again).toEqual(first);
    const detail = await getModel('retry');
    expect(detail.versions.map((v) => [v.version, v.status])).toEqual([[1, 'READY']]);
  });

  it('a failed store write marks the version FAILED', async () => {
    const broken = Object.create(store) as FileArtifactStore;
    broken.put = async () => {
      throw new Error('disk full');
    };
    await expect(publishStudent({ studentDir, name: 'fails', store: broken, lineage, metrics: {} })).rejects.toThrow(/disk full/);
    const v = (await getModel('fails')).versions[0]!;
    expect(v.status).toBe('FAILED');
    expect(v.tags).toMatchObject({ error: 'disk full' });
  });

  it('concurrent publishes under one name get distinct versions', async () => {
    const dirs = await Promise.all(
      [2, 3, 4, 5].map(async (s) => {
        const d = join(root, `student-${s}`);
        await saveStudent(tiny4(s), d);
        return d;
      }),
    );
    const vs = await Promise.all(dirs.map((d, i) => publishStudent({ studentDir: d, name: 'race', store, lineage, metrics: {}, idempotencyKey: `race-${i}` })));
    expect(vs.map((v) => v.version).sort()).toEqual([1, 2, 3, 4]);
    expect(new Set(vs.map((v) => v.artifactSha256)).size).toBe(4);
    const detail = await getModel('race');
    expect(detail.latestVersion).toBe(4);
    expect(detail.versions.every((v) => v.status === 'READY')).toBe(true);
  });
});
