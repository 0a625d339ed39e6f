/**
 * pullStudent: resolve NAME | NAME@ALIAS | NAME:VERSION to a READY version, fetch its archive,
 * check the bytes against the sha256 the registry recorded, and extract it. Nothing is written
 * unless the archive verifies.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ArtifactCorruptError, ArtifactNotFoundError, type ArtifactStore } from '@cmbn/artifacts';
import { isStudentDir } from '@cmbn/distill';
import { unpackEntries } from './archive.ts';
import { PipelineError } from './errors.ts';
import { prismaRegistry, type RegistryPort } from './registry-port.ts';

export interface PullStudentInput {
  ref: string;
  outDir: string;
  store: ArtifactStore;
  registry?: RegistryPort;
  /** Replace the files of a non-empty outDir (otherwise refused). */
  force?: boolean;
}

export interface PulledStudent {
  name: string;
  version: number;
  artifactSha256: string;
  artifactBytes: number;
  dir: string;
  files: string[];
}

async function isNonEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') throw new PipelineError('OUT_DIR_NOT_EMPTY', `${dir} exists and is not a directory`);
    throw err;
  }
}

export async function pullStudent(input: PullStudentInput): Promise<PulledStudent> {
  const reg = input.registry ?? prismaRegistry;
  const outDir = resolve(input.outDir);
  if (!input.force && (await isNonEmptyDir(outDir))) {
    throw new PipelineError('OUT_DIR_NOT_EMPTY', `${outDir} is not empty; choose another --out or pass --force to replace its files`);
  }
  const v = await reg.resolveModelRef(input.ref);
  const label = `${v.modelName}:${v.version}`;
  const expected = v.artifactSha256;
  if (expected === null) throw new PipelineError('ARTIFACT_MISMATCH', `${label} has no artifact recorded`);

  let bytes: Uint8Array;
  try {
    bytes = await input.store.get(expected);
  } catch (err) {
    if (err instanceof ArtifactCorruptError) throw mismatch(label, expected, err.actual);
    if (err instanceof ArtifactNotFoundError) {
      throw new PipelineError('ARTIFACT_MISMATCH', `refusing to pull ${label}: its artifact ${expected} is missing from ${input.store.url}`);
    }
    throw err;
  }
  // Checked here too, so that a store whose get() does not verify cannot slip bad bytes through.
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expected) throw mismatch(label, expected, actual);
  if (v.artifactBytes !== null && v.artifactBytes !== bytes.byteLength) {
    throw new PipelineError('ARTIFACT_MISMATCH', `refusing to pull ${label}: artifact has ${bytes.byteLength} bytes, registry recorded ${v.artifactBytes}`);
  }

  const entries = unpackEntries(bytes);
  // Extract into a sibling temp dir, then move the files in: a failure leaves outDir untouched.
  const staging = join(dirname(outDir), `.cmbn-pull-${process.pid}-${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    for (const e of entries) await writeFile(join(staging, e.name), e.data);
    if (!(await isStudentDir(staging))) throw new PipelineError('NOT_A_STUDENT', `${label}'s artifact is not a student directory`);
    await mkdir(outDir, { recursive: true });
    for (const e of entries) await rename(join(staging, e.name), join(outDir, e.name));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return {
    name: v.modelName,
    version: v.version,
    artifactSha256: expected,
    artifactBytes: bytes.byteLength,
    dir: outDir,
    files: entries.map((e) => e.name),
  };
}

function mismatch(label: string, expected: string, actual: string): PipelineError {
  return new PipelineError(
    'ARTIFACT_MISMATCH',
    `refusing to pull ${label}: artifact sha256 mismatch (registry recorded ${expected}, stored bytes hash to ${actual}); the stored artifact was modified or corrupted`,
    { expected, actual },
  );
}
