/**
 * pullStudent: resolve NAME | NAME@ALIAS | NAME:VERSION to a READY version, fetch its archive,
 * check the bytes against the sha256 the registry recorded, and extract it. Nothing is written
 * unless the archive verifies.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ArtifactStore } from '@cmbn/artifacts';
import { isStudentDir } from '@cmbn/distill';
import { unpackEntries } from './archive.ts';
import { PipelineError } from './errors.ts';
import { checkArtifact, prismaRegistry, readStoredArtifact, type RegistryReader } from './registry-port.ts';

export interface PullStudentInput {
  ref: string;
  outDir: string;
  /**
   * With a store: the registry (default prismaRegistry) resolves the ref and the archive is read
   * from this store. Without one: the registry fetches it (httpRegistry, createPrismaRegistry({ store })).
   */
  store?: ArtifactStore;
  registry?: RegistryReader;
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
  const store = input.store;
  const reg = input.registry ?? (store !== undefined ? prismaRegistry : undefined);
  if (reg === undefined) throw new PipelineError('INVALID', 'pullStudent needs a store, or a registry that fetches archives (httpRegistry, createPrismaRegistry({ store }))');
  const outDir = resolve(input.outDir);
  if (!input.force && (await isNonEmptyDir(outDir))) {
    throw new PipelineError('OUT_DIR_NOT_EMPTY', `${outDir} is not empty; choose another --out or pass --force to replace its files`);
  }
  const { version: v, bytes } =
    store !== undefined ? await readStoredArtifact((ref) => reg.resolveModelRef(ref), store, input.ref) : await reg.fetchArtifact(input.ref);
  // Checked here too, so that a registry or store that does not verify cannot slip bad bytes through.
  checkArtifact(v, bytes);
  const label = `${v.modelName}:${v.version}`;
  const expected = v.artifactSha256!;

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
