/**
 * The benchmarks whose numbers the README quotes run from a fresh clone: each is spawned as users
 * run it (`npm run -s bench:… -- …`), at a small size, and its JSON report is checked for what the
 * README reads from it and for the invariants it enforces (the same modelHash locally and through a
 * coordinator, identical ids beside a baseline). Nothing here asserts a speed: the benches measure,
 * these tests only keep them runnable and honest about their own checks. They run alone, after
 * `npm test` (`npm run test:benches`, vitest.benches.config.ts): a bench uses every core by design.
 * They need what the benches need: Redis, Postgres, the OpenBLAS addon (`npm run build:blas`) and
 * numpy or the addon for the sgemm floor, all of which .ci/run provides.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

const running = new Set<number>();

/** Kills a bench's whole process group: npm, its shell, tsx, and whatever the bench started (a coordinator, workers, Postgres). */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
  running.delete(pid);
}

afterEach(() => {
  for (const pid of [...running]) killGroup(pid);
});

/** Runs `npm run -s <script> -- ...args` in its own process group; resolves with its exit code, stdout and stderr. */
function npmRun(script: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', script, '--', ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) running.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) killGroup(child.pid);
      reject(new Error(`${script} ${args.join(' ')} did not finish within ${timeoutMs / 1000} s; stderr:\n${stderr.slice(-4000)}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The one JSON object a bench prints last on stdout with --json. */
function report(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

describe('the benches run as documented (small sizes)', () => {
  it('bench:paper, locally and through its own coordinator and worker: same modelHash, every layer against its bound', async () => {
    const r = await npmRun('bench:paper', ['--json', '--n', '1500', '--seeds', '1', '--starts', '2', '--params', '{"V":24}', '--remote', '--workers', '1'], 600_000);
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    const out = report(r.stdout) as {
      points: number;
      runs: { modelHash: string; layerSeconds: number[]; floorSeconds: number; mbnOverFloor: number; acc: number; sparseLayers: { layer: number; increments: number; incrementRate: number; overBound: number }[]; variants: { step: string }[] }[];
      remote: { runs: { status: string; sameModelHash: boolean }[] };
    };
    expect(out.points).toBe(1500);
    const [run] = out.runs;
    expect(run!.modelHash).toMatch(/^[0-9a-f]{64}$/);
    expect(run!.acc).toBeGreaterThan(0.3);
    expect(run!.floorSeconds, 'the sgemm floor needs numpy or the OpenBLAS addon (npm run build:blas)').toBeGreaterThan(0);
    expect(run!.mbnOverFloor).toBeGreaterThan(0);
    // Every upper layer is put against its bound: real increments counted by the trainer.
    expect(run!.sparseLayers.map((l) => l.layer)).toEqual(run!.layerSeconds.slice(1).map((_, i) => i + 2));
    for (const l of run!.sparseLayers) {
      expect(l.increments).toBeGreaterThan(0);
      expect(l.incrementRate).toBeGreaterThan(0);
      // (boundSeconds is rounded to 0.01 s, so 0 at this size; the ratio is computed unrounded.)
      expect(Number.isFinite(l.overBound) && l.overBound > 0).toBe(true);
    }
    expect(run!.variants.map((v) => v.step).sort()).toEqual(['centred-pca', 'toolbox', 'uncentred-pca']);
    expect(out.remote.runs).toEqual([expect.objectContaining({ status: 'SUCCEEDED', sameModelHash: true })]);
    // A progress line per stage on stderr.
    expect(r.stderr).toMatch(/\[paper [0-9:]+\] seed 1: layer 1\//);
  });

  it('bench:compression: agreement, ACC and the speed ratio of a small student against its MBN', async () => {
    const r = await npmRun('bench:compression', ['--json', '--limit', '2000', '--V', '50', '--student', '64', '--student-augment', '0', '--eval-limit', '500', '--trainer', 'ort'], 600_000);
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    const out = report(r.stdout) as {
      trainPoints: number;
      evalPoints: number;
      agreement: number;
      acc: number;
      mbnAcc: number;
      speedup: number;
      studentBytes: number;
      modelBytes: number;
      training: unknown;
      targets: { agreement: { atLeast: number; met: boolean }; speedup: { atLeast: number; met: boolean } };
    };
    expect([out.trainPoints, out.evalPoints]).toEqual([2000, 500]);
    // Far above chance (0.1 for ten clusters): the student learned MBN's labels, whatever its target says.
    expect(out.agreement).toBeGreaterThan(0.5);
    expect(out.agreement).toBeLessThanOrEqual(1);
    for (const x of [out.acc, out.mbnAcc]) expect(x).toBeGreaterThan(0.3);
    expect(out.speedup).toBeGreaterThan(0);
    expect(out.studentBytes).toBeGreaterThan(0);
    expect(out.modelBytes).toBeGreaterThan(out.studentBytes);
    expect(out.training).toBeDefined();
    // The targets are reported with whether they were met, not asserted here.
    expect(out.targets.agreement.met).toBe(out.agreement >= out.targets.agreement.atLeast);
    expect(typeof out.targets.speedup.met).toBe('boolean'); // judged unrounded; the report's speedup is rounded
  });

  it('bench:scaling: 1 and 2 worker processes through a coordinator give the same modelHash', async () => {
    const r = await npmRun('bench:scaling', ['--json', '--limit', '1500', '--V', '24', '--repeat', '1'], 600_000);
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    const out = report(r.stdout) as { points: number; trials: { workers: number; modelHash: string; shardsPerSecond: number }[]; sameModelHash: boolean; speedup: number };
    expect(out.points).toBe(1500);
    expect(out.trials.map((t) => t.workers)).toEqual([1, 2]);
    for (const t of out.trials) {
      expect(t.modelHash).toMatch(/^[0-9a-f]{64}$/);
      expect(t.shardsPerSecond).toBeGreaterThan(0);
    }
    expect(out.sameModelHash).toBe(true);
    expect(out.trials[0]!.modelHash).toBe(out.trials[1]!.modelHash);
    expect(out.speedup).toBeGreaterThan(0);
  });

  it('bench:sparse-native beside the committed kernel: identical ids and increments on every upper layer', async () => {
    const r = await npmRun('bench:sparse-native', ['--json', '--baseline', 'HEAD', '--n', '1200', '--V', '40', '--k', '300,150,75,37', '--width', '10', '--rounds', '1'], 600_000);
    expect(r.code, r.stderr.slice(-4000)).toBe(0);
    const out = report(r.stdout) as { rows: { layer: number; identical: boolean; ratio: number; incrementsPerPointClustering: number }[] };
    expect(out.rows.map((x) => x.layer)).toEqual([2, 3, 4]);
    for (const row of out.rows) {
      expect(row.identical).toBe(true);
      expect(row.ratio).toBeGreaterThan(0);
      expect(row.incrementsPerPointClustering).toBeGreaterThan(0);
    }
  });
});
