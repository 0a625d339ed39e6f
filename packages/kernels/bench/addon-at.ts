/**
 * The OpenBLAS addon as it was at another git revision, for benches that put a kernel change
 * beside its baseline in one process (`--baseline REV`): the revision's packages/kernels/native is
 * extracted with `git archive` into a temporary directory and built there by its own build.mjs,
 * then loaded like the current build. The addon's interface version must be this checkout's (see
 * loadBlasAddon), so REV can be any revision since the last interface change. The build tree is
 * removed once the addon is loaded, so it serves the calling thread only.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBlasAddon, type BlasAddon } from '../src/blas-backend.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function addonAt(rev: string): { addon: BlasAddon; commit: string } {
  const commit = execFileSync('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: repoRoot, encoding: 'utf8' }).trim();
  const dir = mkdtempSync(path.join(tmpdir(), 'cmbn-addon-'));
  try {
    const archive = spawnSync('git', ['archive', '--format=tar', commit, 'packages/kernels/native'], { cwd: repoRoot, maxBuffer: 1 << 28 });
    if (archive.status !== 0) throw new Error(`git archive ${commit} packages/kernels/native failed: ${archive.stderr.toString().trim()}`);
    execFileSync('tar', ['-x', '-C', dir], { input: archive.stdout });
    const native = path.join(dir, 'packages/kernels/native');
    process.stderr.write(`building the addon of ${commit.slice(0, 10)} in ${native}\n`);
    const build = spawnSync(process.execPath, [path.join(native, 'build.mjs')], { cwd: native, stdio: ['ignore', 'ignore', 'inherit'] });
    if (build.status !== 0) throw new Error(`building the addon of ${commit.slice(0, 10)} failed (exit ${build.status})`);
    return { addon: loadBlasAddon(path.join(native, 'build/Release/cmbn_blas.node')), commit };
  } finally {
    // Loaded (mapped) stays loaded: the build tree can go, whether or not the build worked. This
    // thread's calls only, then: the addon's path is gone for worker threads.
    rmSync(dir, { recursive: true, force: true });
  }
}
